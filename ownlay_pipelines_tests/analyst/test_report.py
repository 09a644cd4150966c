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


def _roas_rows(extra: dict[str, pa.Array] | None = None) -> pa.Table:
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
    for name in ROAS_SCHEMA.names:
        if name.startswith(("orders_", "revenue_")):
            row[name] = Decimal("100")
    table = pa.Table.from_pylist([row], schema=ROAS_SCHEMA)
    for name, column in (extra or {}).items():
        table = table.append_column(name, column)
    return table


def _traces(tmp_path) -> dict[str, float]:
    with duckdb.connect() as connection:
        figure = roas_figure(connection, tmp_path, "acme", [DAY])
    return {trace.name: trace.y[0] for trace in figure.data}


def test_roas_chart_shows_platform_claimed_and_first_party(tmp_path):
    write_partition(tmp_path, ROAS_DAILY, _roas_rows(), workspace_id="acme", report_date=DAY)
    assert _traces(tmp_path) == {
        "meta_ads: platform-claimed": 4.0,
        "meta_ads: first-party last click": 2.0,
    }


def test_roas_chart_adds_net_revenue_when_the_mart_has_it(tmp_path):
    net = {"revenue_net_last_click": pa.array([Decimal("75")], pa.decimal128(20, 6))}
    write_partition(tmp_path, ROAS_DAILY, _roas_rows(net), workspace_id="acme", report_date=DAY)
    assert _traces(tmp_path)["meta_ads: first-party last click, net"] == 1.5


def test_a_workspace_without_marts_gets_a_note(tmp_path):
    summary = render_report(tmp_path / "lake", tmp_path / "reports", ["acme"], DAY)
    page = summary.path.read_text()
    assert (summary.charts, summary.workspaces_with_data) == (0, [])
    assert "No mart data for this workspace" in page
