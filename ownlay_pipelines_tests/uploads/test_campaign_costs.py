"""Uploaded costs of a platform a connector also syncs: the connector's rows win per platform and
day, so spend is never counted twice; the uploaded rows count on days the connector has none."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from ownlay_pipelines.connectors.google_ads import CONNECTOR as GOOGLE
from ownlay_pipelines.connectors.meta_ads import CONNECTOR as META
from ownlay_pipelines.lake.writer import write_partition
from ownlay_pipelines.models.campaign_metrics import (
    UNIFIED_CAMPAIGN_METRICS,
    superseded_uploads,
    write_campaign_metrics,
)
from ownlay_pipelines.quality.reconciliation import reconcile_unified
from ownlay_pipelines.uploads.campaign_costs import UPLOADED_COSTS
from ownlay_pipelines_tests.uploads.files import rows, upload

META_INSIGHTS = next(s for s in META.streams if s.feeds_campaign_metrics)
GOOGLE_METRICS = next(s for s in GOOGLE.streams if s.feeds_campaign_metrics)
SOURCES = [("meta_ads", META_INSIGHTS.ref), ("google_ads", GOOGLE_METRICS.ref)]
NOV20, NOV21 = date(2026, 11, 20), date(2026, 11, 21)

UPLOAD = (
    "Date,Network,Campaign,Spend,Clicks\n"
    "2026-11-20,Facebook Ads,Prospecting,12.50,10\n"  # Meta has rows on the 20th: left out
    "2026-11-20,Google Ads,Brand,3.33,4\n"  # Google has rows on the 20th: left out
    "2026-11-21,Google Ads,Brand,4.00,5\n"  # Google synced the 21st but has no row: counts
    "2026-11-20,Pinterest,Pins,5.00,2\n"  # no connector: counts
)


def _connector_rows(lake: Path, spec, day: date, spends: list[str]) -> None:
    table = pa.Table.from_pylist(
        [
            {
                **dict.fromkeys(spec.schema.names),
                "workspace_id": "acme",
                "account_id": "acct",
                "campaign_id": f"c{number}",
                "report_date": day,
                "currency": "USD",
                "impressions": 1000,
                "clicks": 10,
                "spend": Decimal(spend),
                "conversions": Decimal("1"),
                "conversion_value": Decimal("20"),
            }
            for number, spend in enumerate(spends)
        ],
        schema=spec.schema,
    )
    write_partition(lake, spec.ref, table, workspace_id="acme", report_date=day)


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    root = tmp_path / "lake"
    _connector_rows(root, META_INSIGHTS, NOV20, ["10.000001", "2.5"])
    _connector_rows(root, META_INSIGHTS, NOV21, ["7"])
    _connector_rows(root, GOOGLE_METRICS, NOV20, ["3.33"])
    _connector_rows(root, GOOGLE_METRICS, NOV21, [])
    upload(tmp_path, UPLOAD)
    return root


def test_uploaded_platform_names_of_connectors_are_stored_under_the_connector_slug(tmp_path, lake):
    assert [r["platform"] for r in rows(tmp_path)] == [
        "meta_ads",
        "google_ads",
        "google_ads",
        "pinterest",
    ]


def test_the_connector_rows_win_per_platform_and_day_and_spend_is_never_doubled(lake):
    with duckdb.connect() as connection:
        table = write_campaign_metrics(
            connection, lake, sources=SOURCES, workspace_id="acme", days=[NOV20, NOV21]
        )
        left_out = superseded_uploads(
            connection, lake, sources=SOURCES, workspace_id="acme", days=[NOV20, NOV21]
        )

    spend: dict[tuple[str, date], Decimal] = {}
    for row in table.to_pylist():
        key = (row["platform"], row["report_date"])
        spend[key] = spend.get(key, Decimal(0)) + row["spend"]
    assert spend == {
        ("meta_ads", NOV20): Decimal("12.500001"),
        ("meta_ads", NOV21): Decimal("7"),
        ("google_ads", NOV20): Decimal("3.33"),
        ("google_ads", NOV21): Decimal("4"),  # the upload: the connector has no row that day
        ("pinterest", NOV20): Decimal("5"),
    }
    assert [(x["platform"], x["report_date"], x["rows"], x["spend"]) for x in left_out] == [
        ("google_ads", NOV20, 1, Decimal("3.33")),
        ("meta_ads", NOV20, 1, Decimal("12.5")),
    ]


def test_the_reconciliation_check_expects_what_the_connector_rule_keeps(lake):
    with duckdb.connect() as connection:
        write_campaign_metrics(
            connection, lake, sources=SOURCES, workspace_id="acme", days=[NOV20, NOV21]
        )
        outcome = reconcile_unified(
            connection,
            lake,
            unified=UNIFIED_CAMPAIGN_METRICS,
            sources=SOURCES,
            partitions={"acme": [NOV20, NOV21]},
            load_tables=[UPLOADED_COSTS],
        )
    assert outcome.passed, outcome.description
    # meta × 2 days, google × 2 days (the 21st from the upload), pinterest × 1.
    assert outcome.metadata["compared_workspace_day_platforms"] == 5


def test_an_upload_without_spend_counts_as_no_spend_and_gives_no_cost_ratios(tmp_path):
    # NULL spend in the upload: 0 in the unified sums (its columns are NOT NULL), but no CPC,
    # CPM or ROAS (not a zero CPC, not an infinite ROAS); the reconciliation still balances.
    upload(
        tmp_path,
        "Date,Network,Campaign,Impressions,Clicks,Revenue\n"
        "2026-11-21,Reddit,Threads,2000,40,90.00\n",
    )
    lake = tmp_path / "lake"
    with duckdb.connect() as connection:
        table = write_campaign_metrics(
            connection, lake, sources=SOURCES, workspace_id="acme", days=[NOV21]
        )
        outcome = reconcile_unified(
            connection,
            lake,
            unified=UNIFIED_CAMPAIGN_METRICS,
            sources=SOURCES,
            partitions={"acme": [NOV21]},
            load_tables=[UPLOADED_COSTS],
        )
    [row] = table.to_pylist()
    assert (row["platform"], row["spend"], row["impressions"], row["clicks"]) == (
        "reddit",
        Decimal("0"),
        2000,
        40,
    )
    assert (row["conversion_value"], row["conversions"]) == (Decimal("90"), Decimal("0"))
    assert (row["cpc"], row["cpm"], row["roas"], row["ctr_percent"]) == (None, None, None, 2.0)
    assert outcome.passed, outcome.description
