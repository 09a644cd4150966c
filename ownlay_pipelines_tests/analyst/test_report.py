"""The report's ROAS chart reads what `marts/roas_daily` has: net revenue when present, not
required; a workspace with no marts gets a note instead of charts."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import duckdb
import pyarrow as pa

from ownlay_pipelines.analyst.report import render_report, roas_figure
from ownlay_pipelines.lake.writer import write_partition
from ownlay_pipelines.models.roas import ROAS_DAILY, ROAS_SCHEMA

DAY = date(2026, 11, 18)


def _roas_rows() -> pa.Table:
    row = {name: None for name in ROAS_SCHEMA.names}
    row.update(
        workspace_id="acme",
        report_date=DAY,
        platform="meta_ads",
        impressions=10,
        clicks=2,
        spend=Decimal("50"),
        platform_conversions=Decimal("2"),
        platform_conversion_value=Decimal("200"),
    )
    for field in ROAS_SCHEMA:
        if pa.types.is_decimal(field.type) and not field.nullable and row[field.name] is None:
            row[field.name] = Decimal("100")
    # In the reporting currency (EUR here): spend 40, claimed 160, revenue 80 gross, 60 net.
    row.update(
        currency="USD",
        revenue_currency="USD",
        reporting_currency="EUR",
        spend_reporting=Decimal("40"),
        platform_conversion_value_reporting=Decimal("160"),
        revenue_last_click_reporting=Decimal("80"),
        net_revenue_last_click_reporting=Decimal("60"),
    )
    return pa.Table.from_pylist([row], schema=ROAS_SCHEMA)


def _traces(tmp_path) -> dict[str, float]:
    with duckdb.connect() as connection:
        figure = roas_figure(connection, tmp_path, "acme", [DAY])
    return {trace.name: trace.y[0] for trace in figure.data}


def test_roas_chart_shows_platform_claimed_and_first_party_gross_and_net_in_reporting_currency(
    tmp_path,
):
    write_partition(tmp_path, ROAS_DAILY, _roas_rows(), workspace_id="acme", report_date=DAY)
    assert _traces(tmp_path) == {
        "meta_ads: platform-claimed": 4.0,
        "meta_ads: first-party last click": 2.0,
        "meta_ads: first-party last click, net": 1.5,
    }


def test_a_workspace_without_marts_gets_a_note(tmp_path):
    summary = render_report(tmp_path / "lake", tmp_path / "reports", ["acme"], DAY)
    page = summary.path.read_text()
    assert (summary.charts, summary.workspaces_with_data) == (0, [])
    assert "No mart data for this workspace" in page
