from datetime import date
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from dagster_duckdb import DuckDBResource

from ownlay_pipelines.connectors.google_ads import CONNECTOR as GOOGLE
from ownlay_pipelines.connectors.meta_ads import CONNECTOR as META
from ownlay_pipelines.defs.checks.reconciliation import reconciles_with_raw
from ownlay_pipelines.defs.partitions import daily_partitions, multi_key
from ownlay_pipelines.defs.resources import LakeResource
from ownlay_pipelines.lake.tables import DATA_FILE, partition_dir
from ownlay_pipelines.lake.writer import write_partition
from ownlay_pipelines.models.campaign_metrics import (
    UNIFIED_CAMPAIGN_METRICS,
    write_campaign_metrics,
)
from ownlay_pipelines.quality.reconciliation import reconcile_unified

META_INSIGHTS = next(s for s in META.streams if s.feeds_campaign_metrics)
GOOGLE_METRICS = next(s for s in GOOGLE.streams if s.feeds_campaign_metrics)
SOURCES = [("meta_ads", META_INSIGHTS.ref), ("google_ads", GOOGLE_METRICS.ref)]
DAYS = [date(2026, 11, 20), date(2026, 11, 21)]


def _raw(lake: Path, spec, day: date, spends: list[str]) -> None:
    rows = []
    for number, spend in enumerate(spends):
        row: dict[str, object] = dict.fromkeys(spec.schema.names)
        row.update(
            workspace_id="acme",
            account_id="acct",
            campaign_id=f"c{number}",
            report_date=day,
            currency="USD",
            impressions=1000 + number,
            clicks=10 + number,
            spend=Decimal(spend),
            conversions=Decimal("1.5"),
            conversion_value=Decimal("30.25"),
        )
        rows.append(row)
    table = pa.Table.from_pylist(rows, schema=spec.schema)
    write_partition(lake, spec.ref, table, workspace_id="acme", report_date=day)


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    """A lake under <tmp>/lake, as LakeResource(data_dir=<tmp>) finds it."""
    root = tmp_path / "lake"
    _raw(root, META_INSIGHTS, DAYS[0], ["10.000001", "2.5"])
    _raw(root, META_INSIGHTS, DAYS[1], ["7"])
    _raw(root, GOOGLE_METRICS, DAYS[0], ["3.33"])
    _raw(root, GOOGLE_METRICS, DAYS[1], [])
    with duckdb.connect() as connection:
        write_campaign_metrics(connection, root, sources=SOURCES, workspace_id="acme", days=DAYS)
    return root


def _tamper_unified(lake: Path, day: date, campaign: str, spend: str) -> None:
    """Set the unified spend of one Meta campaign-day, as a buggy model would."""
    path = partition_dir(lake, UNIFIED_CAMPAIGN_METRICS, "acme", day) / DATA_FILE
    table = pq.read_table(path)
    changed = pc.if_else(
        pc.and_(pc.equal(table["campaign_id"], campaign), pc.equal(table["platform"], "meta_ads")),
        pa.scalar(Decimal(spend), table.schema.field("spend").type),
        table["spend"],
    )
    table = table.set_column(table.schema.get_field_index("spend"), "spend", changed)
    write_partition(lake, UNIFIED_CAMPAIGN_METRICS, table, workspace_id="acme", report_date=day)


def _reconcile(lake: Path):
    with duckdb.connect() as connection:
        return reconcile_unified(
            connection,
            lake,
            unified=UNIFIED_CAMPAIGN_METRICS,
            sources=SOURCES,
            partitions={"acme": DAYS},
        )


def test_the_model_output_reconciles_with_its_raw_tables(lake: Path):
    outcome = _reconcile(lake)
    assert outcome.passed
    # meta on both days, google on the first (its second day has no rows on either side).
    assert outcome.metadata == {"compared_workspace_day_platforms": 3, "differences": 0}


def test_a_changed_micro_of_spend_is_reported_per_workspace_day_platform(lake: Path):
    _tamper_unified(lake, DAYS[0], "c0", "10.000002")

    outcome = _reconcile(lake)

    assert not outcome.passed
    assert outcome.metadata["examples"] == [
        {
            "workspace_id": "acme",
            "platform": "meta_ads",
            "report_date": "2026-11-20",
            "spend": "raw 12.500001 vs unified 12.500002",
        }
    ]


def test_raw_rows_missing_from_the_unified_table_fail(lake: Path):
    _raw(lake, GOOGLE_METRICS, DAYS[1], ["4"])  # a restatement the model has not picked up

    outcome = _reconcile(lake)

    assert not outcome.passed
    (difference,) = outcome.metadata["examples"]
    assert difference["platform"] == "google_ads" and difference["report_date"] == "2026-11-21"
    assert difference["spend"] == "raw 4.000000 vs unified None"


def test_the_blocking_check_stops_the_marts_in_the_same_run(lake: Path):
    _tamper_unified(lake, DAYS[1], "c0", "8")
    ran: list[str] = []
    partitions = dg.MultiPartitionsDefinition(
        {
            "date": daily_partitions,
            "workspace": dg.StaticPartitionsDefinition(["acme"]),
        }
    )

    @dg.asset(key=list(UNIFIED_CAMPAIGN_METRICS.parts), partitions_def=partitions)
    def unified() -> None:
        ran.append("unified")

    @dg.asset(deps=[unified], partitions_def=partitions)
    def roas() -> None:
        ran.append("roas")

    result = dg.materialize(
        [unified, roas, reconciles_with_raw],
        partition_key=multi_key(DAYS[1], "acme"),
        resources={
            "lake": LakeResource(data_dir=str(lake.parent)),
            "duckdb": DuckDBResource(database=":memory:"),
        },
        raise_on_error=False,
    )

    assert ran == ["unified"] and not result.success
    (evaluation,) = result.get_asset_check_evaluations()
    assert not evaluation.passed and evaluation.check_name == "reconciles_with_raw"
