from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from ownlay_pipelines.connectors.meta_ads import CONNECTOR as META
from ownlay_pipelines.lake.writer import write_partition
from ownlay_pipelines.quality.lake_checks import (
    duplicate_keys,
    required_fields,
    row_count,
    run_partitions,
    schema_conforms,
)

INSIGHTS = next(s for s in META.streams if s.table == "insights")
DAY1, DAY2 = date(2026, 11, 20), date(2026, 11, 21)


def _row(campaign: str, day: date, **overrides: object) -> dict[str, object]:
    row: dict[str, object] = {name: None for name in INSIGHTS.schema.names}
    row.update(
        workspace_id="acme",
        account_id="act_1",
        campaign_id=campaign,
        report_date=day,
        impressions=100,
        clicks=5,
        spend=Decimal("12.500000"),
        conversions=Decimal("1"),
        conversion_value=Decimal("40"),
    )
    row.update(overrides)
    return row


def _write(lake: Path, day: date, rows: list[dict[str, object]], schema: pa.Schema) -> None:
    write_partition(
        lake,
        INSIGHTS.ref,
        pa.Table.from_pylist(rows, schema=schema),
        workspace_id="acme",
        report_date=day,
    )


@pytest.fixture
def connection():
    with duckdb.connect() as connection:
        yield connection


def test_clean_partitions_pass_every_rule(tmp_path: Path, connection):
    _write(tmp_path, DAY1, [_row("c1", DAY1), _row("c2", DAY1)], INSIGHTS.schema)
    _write(tmp_path, DAY2, [], INSIGHTS.schema)
    written = run_partitions(tmp_path, INSIGHTS.ref, {"acme": [DAY1, DAY2]})

    counted = row_count(connection, written)
    assert counted.passed and counted.metadata == {
        "partitions": 2,
        "partitions_missing": 0,
        "rows": 2,
    }
    assert schema_conforms(written.files, INSIGHTS.schema).passed
    assert required_fields(connection, written.files, INSIGHTS.schema).passed
    assert duplicate_keys(connection, written.files, INSIGHTS.primary_key).passed


def test_a_partition_the_run_did_not_write_fails_row_count(tmp_path: Path, connection):
    _write(tmp_path, DAY1, [_row("c1", DAY1)], INSIGHTS.schema)
    written = run_partitions(tmp_path, INSIGHTS.ref, {"acme": [DAY1, DAY2]})

    outcome = row_count(connection, written)

    assert not outcome.passed
    assert outcome.metadata["missing"] == ["2026-11-21|acme"]
    assert outcome.description.startswith("1 partition(s) of the run have no file")


def test_duplicate_primary_keys_are_counted_and_listed(tmp_path: Path, connection):
    rows = [_row("c1", DAY1), _row("c1", DAY1, clicks=9), _row("c1", DAY1), _row("c2", DAY1)]
    _write(tmp_path, DAY1, rows, INSIGHTS.schema)
    written = run_partitions(tmp_path, INSIGHTS.ref, {"acme": [DAY1]})

    outcome = duplicate_keys(connection, written.files, INSIGHTS.primary_key)

    assert not outcome.passed and outcome.metadata["duplicate_keys"] == 1
    (example,) = outcome.metadata["examples"]
    assert example["campaign_id"] == "c1" and example["copies"] == 3


def test_nulls_in_required_columns_fail_naming_column_and_count(tmp_path: Path, connection):
    loose = pa.schema([f.with_nullable(True) for f in INSIGHTS.schema])
    rows = [_row("c1", DAY1, spend=None), _row("c2", DAY1, spend=None, campaign_id=None)]
    _write(tmp_path, DAY1, rows, loose)
    written = run_partitions(tmp_path, INSIGHTS.ref, {"acme": [DAY1]})

    outcome = required_fields(connection, written.files, INSIGHTS.schema)

    assert not outcome.passed
    assert outcome.metadata["null_counts"] == {"campaign_id": 1, "spend": 2}


def test_a_drifted_schema_fails_naming_each_difference(tmp_path: Path, connection):
    drifted = pa.schema(
        [
            f.with_type(pa.float64()) if f.name == "spend" else f
            for f in INSIGHTS.schema
            if f.name != "conversion_value"
        ]
    )
    rows = [{k: v for k, v in _row("c1", DAY1, spend=12.5).items() if k != "conversion_value"}]
    _write(tmp_path, DAY1, rows, drifted)
    written = run_partitions(tmp_path, INSIGHTS.ref, {"acme": [DAY1]})

    outcome = schema_conforms(written.files, INSIGHTS.schema)

    assert not outcome.passed
    assert outcome.metadata["problems"] == {
        "conversion_value: missing": 1,
        "spend: double instead of decimal128(20, 6)": 1,
    }
