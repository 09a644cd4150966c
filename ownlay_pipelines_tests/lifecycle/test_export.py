"""Warehouse export end to end: the export assets copy mart days through the official BigQuery
client (against the REST simulator in sandbox/bigquery.py) and the official Snowflake connector
(against fakesnow, a maintained Snowflake emulator on DuckDB); a rerun never duplicates a day,
a restated day replaces only itself, and unchanged days are not copied again."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import dagster as dg
import fakesnow
import pyarrow as pa
import pytest
import snowflake.connector
import yaml
from google.api_core.exceptions import BadRequest
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from ownlay_pipelines.defs.partitions import multi_key
from ownlay_pipelines.defs.resources import LakeResource, OpsStoreResource
from ownlay_pipelines.defs.warehouse_export import (
    EXPORT_ASSETS,
    WarehouseTargetsResource,
    warehouse_export_daily,
)
from ownlay_pipelines.lake.tables import TableRef
from ownlay_pipelines.lake.writer import write_partition
from ownlay_pipelines.lifecycle.export_bigquery import BigQueryTarget
from ownlay_pipelines.lifecycle.export_config import Destination
from ownlay_pipelines.lifecycle.export_snowflake import SnowflakeTarget
from ownlay_pipelines.sandbox.bigquery import SANDBOX_ENDPOINT, BigQuerySimulator

ROAS = TableRef.of("marts", "roas_daily")
DAY1, DAY2 = date(2026, 11, 19), date(2026, 11, 20)
PROJECT = "acme-analytics"
MONEY = pa.decimal128(18, 6)


def _mart_day(day: date, spends: list[str]) -> pa.Table:
    """Mart rows of acme's `day`: one per platform, spend as exact decimals."""
    return pa.table(
        {
            "workspace_id": pa.array(["acme"] * len(spends), pa.string()),
            "report_date": pa.array([day] * len(spends), pa.date32()),
            "platform": pa.array([f"p{n}" for n in range(len(spends))], pa.string()),
            "clicks": pa.array(range(len(spends)), pa.int64()),
            "spend": pa.array([Decimal(s) for s in spends], MONEY),
            "roas": pa.array([1.5] * len(spends), pa.float64()),
            "computed_at": pa.array(
                [datetime(2026, 11, 21, 6, tzinfo=UTC)] * len(spends), pa.timestamp("us", tz="UTC")
            ),
        }
    )


class SandboxTargets(WarehouseTargetsResource):
    """The real targets, opened on the BigQuery simulator and a fakesnow connection."""

    def open_target(self, destination: Destination):
        if destination.kind.value == "bigquery":
            return BigQueryTarget(_bigquery_client(), destination.dataset or "")
        return SnowflakeTarget(_SNOWFLAKE["connection"], "ANALYTICS", "OWNLAY")


_SIMULATOR: dict[str, BigQuerySimulator] = {}
_SNOWFLAKE: dict[str, object] = {}


def _bigquery_client() -> bigquery.Client:
    return bigquery.Client(
        project=PROJECT,
        credentials=AnonymousCredentials(),
        _http=_SIMULATOR["sim"].session(),
        client_options={"api_endpoint": SANDBOX_ENDPOINT},
    )


@pytest.fixture
def warehouses(tmp_path: Path, monkeypatch) -> Iterator[Path]:
    """Export config for acme (both warehouses), a fresh simulator and fakesnow database."""
    config = {
        "destinations": [
            {
                "name": "acme_bq",
                "workspace_id": "acme",
                "kind": "bigquery",
                "project": PROJECT,
                "dataset": "ownlay",
                "credentials_env": "ACME_BQ_KEY",
                "tables": ["marts/roas_daily"],
            },
            {
                "name": "acme_sf",
                "workspace_id": "acme",
                "kind": "snowflake",
                "account_env": "ACME_SF_ACCOUNT",
                "user_env": "ACME_SF_USER",
                "password_env": "ACME_SF_PASSWORD",
                "database": "ANALYTICS",
                "schema": "OWNLAY",
                "warehouse": "LOADING",
                "tables": ["marts/roas_daily"],
            },
        ]
    }
    path = tmp_path / "export.yaml"
    path.write_text(yaml.safe_dump(config))
    monkeypatch.setenv("OWNLAY_EXPORT_CONFIG", str(path))
    _SIMULATOR["sim"] = BigQuerySimulator()
    with fakesnow.patch():
        connection = snowflake.connector.connect(database="ANALYTICS", schema="OWNLAY")
        connection.cursor().execute("CREATE DATABASE IF NOT EXISTS ANALYTICS")
        _SNOWFLAKE["connection"] = connection
        yield tmp_path
        connection.close()


def _materialize(data_dir: Path, day: date) -> dg.ExecuteInProcessResult:
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("workspace", ["acme"])
    selected = [a for a in EXPORT_ASSETS if a.key.path[-1] == "marts_roas_daily"]
    return dg.materialize(
        selected,
        partition_key=multi_key(day, "acme"),
        instance=instance,
        resources={
            "lake": LakeResource(data_dir=str(data_dir)),
            "ops_store": OpsStoreResource(database_url=f"sqlite:///{data_dir / 'ops.sqlite'}"),
            "warehouse_targets": SandboxTargets(),
        },
    )


def _statuses(result: dg.ExecuteInProcessResult) -> dict[str, dict[str, object]]:
    """Warehouse kind -> metadata of its export asset's materialization."""
    return {
        event.asset_key.path[1]: {
            key: value.value
            for key, value in event.event_specific_data.materialization.metadata.items()
        }
        for event in result.all_events
        if event.event_type_value == "ASSET_MATERIALIZATION"
    }


def _bigquery_rows() -> list[tuple]:
    rows = _bigquery_client().list_rows(f"{PROJECT}.ownlay.marts_roas_daily")
    return sorted((r["report_date"], r["platform"], r["spend"]) for r in rows)


def _snowflake_rows() -> list[tuple]:
    cursor = _SNOWFLAKE["connection"].cursor()
    cursor.execute("SELECT report_date, platform, spend FROM ANALYTICS.OWNLAY.MARTS_ROAS_DAILY")
    return sorted(cursor.fetchall())


def test_days_are_copied_to_both_warehouses_and_reruns_never_duplicate(warehouses: Path):
    lake = warehouses / "lake"
    write_partition(
        lake, ROAS, _mart_day(DAY1, ["1.50", "2.25"]), workspace_id="acme", report_date=DAY1
    )
    write_partition(lake, ROAS, _mart_day(DAY2, ["3.00"]), workspace_id="acme", report_date=DAY2)

    first = _statuses(_materialize(warehouses, DAY1))
    _materialize(warehouses, DAY2)

    assert first["bigquery"]["acme_bq_status"] == "copied"
    assert first["snowflake"]["acme_sf_status"] == "copied"
    assert first["bigquery"]["dagster/row_count"] == 2
    expected = [
        (DAY1, "p0", Decimal("1.500000")),
        (DAY1, "p1", Decimal("2.250000")),
        (DAY2, "p0", Decimal("3.000000")),
    ]
    assert _bigquery_rows() == expected
    assert _snowflake_rows() == expected
    table = _bigquery_client().get_table(f"{PROJECT}.ownlay.marts_roas_daily")
    assert table.time_partitioning.field == "report_date"
    assert {f.name: f.field_type for f in table.schema}["spend"] == "NUMERIC"

    again = _statuses(_materialize(warehouses, DAY1))

    assert again["bigquery"]["acme_bq_status"] == "unchanged"
    assert again["snowflake"]["acme_sf_status"] == "unchanged"
    assert _bigquery_rows() == expected and _snowflake_rows() == expected

    # The mart restates day 1 (one row fewer, another spend): only day 1 is replaced.
    write_partition(lake, ROAS, _mart_day(DAY1, ["9.99"]), workspace_id="acme", report_date=DAY1)
    restated = _statuses(_materialize(warehouses, DAY1))

    assert restated["bigquery"]["acme_bq_status"] == "copied"
    replaced = [(DAY1, "p0", Decimal("9.990000")), (DAY2, "p0", Decimal("3.000000"))]
    assert _bigquery_rows() == replaced
    assert _snowflake_rows() == replaced


def test_a_workspace_without_destination_or_partition_copies_nothing(warehouses: Path):
    result = _statuses(_materialize(warehouses, DAY1))  # no mart partition written

    assert result["bigquery"]["acme_bq_status"] == "absent"
    assert _SIMULATOR["sim"].tables == {}


def test_bigquery_refuses_rows_of_another_day_in_a_partition_load(warehouses: Path):
    target = BigQueryTarget(_bigquery_client(), "ownlay")
    target.replace_day("t", "acme", DAY1, _mart_day(DAY1, ["1"]))

    with pytest.raises(BadRequest, match="different partitions"):
        target.replace_day("t", "acme", DAY1, _mart_day(DAY2, ["1"]))
    assert _SIMULATOR["sim"].table_rows(PROJECT, "ownlay", "t").num_rows == 1


def test_missing_credentials_fail_naming_the_variable(warehouses: Path, monkeypatch):
    monkeypatch.setenv("ACME_SF_ACCOUNT", "acme-xy12345")
    monkeypatch.setenv("ACME_SF_USER", "ownlay_loader")
    monkeypatch.delenv("ACME_SF_PASSWORD", raising=False)
    destination = Destination.model_validate(
        yaml.safe_load((warehouses / "export.yaml").read_text())["destinations"][1]
    )

    with pytest.raises(dg.Failure, match="ACME_SF_PASSWORD"):
        WarehouseTargetsResource().open_target(destination)


def test_bad_destination_config_is_refused_naming_the_field():
    with pytest.raises(ValueError, match="dataset"):
        Destination(
            name="x",
            workspace_id="acme",
            kind="bigquery",
            project="p",
            tables=("marts/roas_daily",),
        )
    with pytest.raises(ValueError, match="cannot be exported"):
        Destination(
            name="x",
            workspace_id="acme",
            kind="bigquery",
            project="p",
            dataset="d",
            tables=("raw/events",),
        )


def test_schedule_requests_the_lookback_days_of_configured_workspaces(
    warehouses: Path, monkeypatch
):
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2026, 11, 21, 7, tzinfo=UTC)
    )

    requests = warehouse_export_daily(context)

    assert [r.partition_key for r in requests] == [
        multi_key(date(2026, 11, d), "acme") for d in (20, 19, 18)
    ]
    monkeypatch.delenv("OWNLAY_EXPORT_CONFIG")
    assert warehouse_export_daily(context) == []
