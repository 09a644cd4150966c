"""Retention: each data type past its window is listed by a dry run, deleted by a run, and a
second run finds nothing; windows come from the environment and job config."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from ownlay_pipelines.events.layout import event_day_dir
from ownlay_pipelines.lake.quarantine import quarantine_ref
from ownlay_pipelines.lake.tables import partition_dir
from ownlay_pipelines.lifecycle.retention import run_retention
from ownlay_pipelines.lifecycle.retention_policy import DataType, RetentionPolicy
from ownlay_pipelines.watchtower.tables import (
    api_record_metrics,
    api_records,
    api_snapshots,
    watchtower_alerts,
)
from ownlay_pipelines_tests.ingest.lake_events import lake_rows
from ownlay_pipelines_tests.lifecycle.stores_fixture import (
    FX,
    INSIGHTS,
    MART,
    add_alert,
    add_snapshot,
    add_webhook,
    count,
    make_stores,
    write_dated,
    write_event_day,
)

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
TODAY = NOW.date()


def _days_ago(days: int) -> date:
    return TODAY - timedelta(days=days)


@pytest.fixture
def filled(tmp_path: Path):
    """Stores with one row set just past and one just inside each default window."""
    stores = make_stores(tmp_path)
    write_event_day(stores, _days_ago(91), lake_rows(range(3)), 1)
    write_event_day(stores, _days_ago(91), lake_rows(range(3, 5)), 2)
    write_event_day(stores, _days_ago(90), lake_rows(range(5, 6)), 3)
    write_dated(stores, INSIGHTS, _days_ago(91), 4)
    write_dated(stores, INSIGHTS, _days_ago(90), 4)
    write_dated(stores, FX, _days_ago(2000), 2)  # reference data: kept forever
    write_dated(stores, quarantine_ref(INSIGHTS), _days_ago(31), 1)
    write_dated(stores, quarantine_ref(INSIGHTS), _days_ago(30), 1)
    write_dated(stores, MART, _days_ago(731), 5)
    write_dated(stores, MART, _days_ago(730), 5)
    body = {"id": 1, "email": "ann@example.com"}
    add_webhook(
        stores,
        "d-old-body",
        received=NOW - timedelta(days=9),
        body=body,
        applied=NOW - timedelta(days=8),
    )
    add_webhook(
        stores,
        "d-new-body",
        received=NOW - timedelta(days=2),
        body=body,
        applied=NOW - timedelta(days=1),
    )
    add_webhook(stores, "d-old-receipt", received=NOW - timedelta(days=91), body=None)
    add_webhook(stores, "d-new-receipt", received=NOW - timedelta(days=89), body=None)
    engine = stores.ops_store
    old_snapshot, _ = add_snapshot(engine, NOW - timedelta(days=91))
    add_snapshot(engine, NOW - timedelta(days=89))
    # An old alert, resolved: goes, and then its old snapshot can go too.
    add_alert(engine, old_snapshot, NOW - timedelta(days=400), state="resolved")
    # An old snapshot an old but still firing alert points at: both stay.
    firing_snapshot, _ = add_snapshot(engine, NOW - timedelta(days=200))
    add_alert(engine, firing_snapshot, NOW - timedelta(days=400), state="firing")
    return stores


def test_dry_run_lists_each_expired_type_and_deletes_nothing(filled):
    run = run_retention(filled, RetentionPolicy(), now=NOW, dry_run=True)

    counts = run.counts()
    assert counts["raw_events"] == {"targets": 1, "rows": 5, "files": 2}
    assert counts["platform_raw"] == {"targets": 1, "rows": 4, "files": 1}
    assert counts["quarantine"] == {"targets": 1, "rows": 1, "files": 1}
    assert counts["aggregated_metrics"] == {"targets": 1, "rows": 5, "files": 1}
    assert counts["webhook_bodies"]["rows"] == 1
    assert counts["webhook_receipts"]["rows"] == 1
    assert counts["alerts"]["rows"] == 1
    # The resolved alert's snapshot is listed only once the alert is gone (the real run).
    assert counts["api_snapshots"]["rows"] == 0
    assert counts["capi_delivery_log"]["rows"] == 0  # no CAPI table in this deployment
    assert event_day_dir(filled.lake_root, "acme", _days_ago(91)).is_dir()
    assert count(filled.ops_store, watchtower_alerts) == 2


def test_run_deletes_what_is_past_its_window_and_a_rerun_is_a_no_op(filled):
    run = run_retention(filled, RetentionPolicy(), now=NOW, dry_run=False)

    lake = filled.lake_root
    assert not event_day_dir(lake, "acme", _days_ago(91)).exists()
    assert event_day_dir(lake, "acme", _days_ago(90)).is_dir()
    assert not partition_dir(lake, INSIGHTS, "acme", _days_ago(91)).exists()
    assert partition_dir(lake, INSIGHTS, "acme", _days_ago(90)).is_dir()
    assert partition_dir(lake, FX, "acme", _days_ago(2000)).is_dir()
    assert not partition_dir(lake, MART, "acme", _days_ago(731)).exists()
    assert partition_dir(lake, MART, "acme", _days_ago(730)).is_dir()
    quarantine = quarantine_ref(INSIGHTS)
    assert not partition_dir(lake, quarantine, "acme", _days_ago(31)).exists()
    assert partition_dir(lake, quarantine, "acme", _days_ago(30)).is_dir()
    engine = filled.ops_store
    # Resolved old alert gone, then its snapshot; the firing alert and its snapshot stay.
    assert count(engine, watchtower_alerts) == 1
    assert count(engine, api_snapshots) == 2
    assert count(engine, api_records) == 2
    assert count(engine, api_record_metrics) == 2
    assert run.counts()["api_snapshots"]["rows"] == 1 + 1  # one snapshot, one record
    receipts = _webhook_state(filled.webhook_store)
    assert receipts == {
        "d-old-body": False,
        "d-new-body": True,
        "d-new-receipt": False,
    }

    again = run_retention(filled, RetentionPolicy(), now=NOW, dry_run=False)
    assert again.items == []


def test_windows_come_from_the_environment_and_zero_keeps_forever(filled):
    policy = RetentionPolicy.from_env(
        {"OWNLAY_RAW_EVENT_RETENTION_DAYS": "30", "OWNLAY_RETENTION_PLATFORM_RAW_DAYS": "0"}
    )
    assert (policy.raw_events, policy.platform_raw, policy.quarantine) == (30, 0, 30)

    run = run_retention(filled, policy, now=NOW, dry_run=True)

    assert run.counts()["raw_events"]["files"] == 3  # both days are older than 30 days
    assert run.counts()["platform_raw"]["targets"] == 0


def test_bad_windows_are_refused_naming_the_setting():
    with pytest.raises(ValueError, match="OWNLAY_RETENTION_ALERTS_DAYS"):
        RetentionPolicy.from_env({"OWNLAY_RETENTION_ALERTS_DAYS": "a year"})
    with pytest.raises(ValueError, match="alerts"):
        RetentionPolicy(alerts=-1)
    with pytest.raises(ValueError, match="unknown retention data type"):
        RetentionPolicy().with_overrides({"sessions": 3})


def test_capi_delivery_log_is_pruned_when_the_table_exists(filled):
    engine: sa.Engine = filled.ops_store
    log = sa.Table(
        "capi_delivery_log",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("created_at", sa.DateTime),
    )
    log.create(engine)
    with engine.begin() as connection:
        connection.execute(
            log.insert(),
            [
                {"created_at": (NOW - timedelta(days=31)).replace(tzinfo=None)},
                {"created_at": (NOW - timedelta(days=29)).replace(tzinfo=None)},
            ],
        )

    run = run_retention(filled, RetentionPolicy(), now=NOW, dry_run=False)

    assert run.counts()[DataType.CAPI_DELIVERY_LOG.value]["rows"] == 1
    assert count(engine, log) == 1


def _webhook_state(path: Path) -> dict[str, bool]:
    """delivery id -> whether its body is still stored."""
    import sqlite3

    connection = sqlite3.connect(path)
    try:
        return {
            delivery: body is not None
            for delivery, body in connection.execute(
                "SELECT delivery_id, raw_body FROM webhook_deliveries"
            )
        }
    finally:
        connection.close()


def test_cli_dry_run_prints_json(filled, monkeypatch, capsys):
    from ownlay_pipelines.cli import main

    monkeypatch.setenv("OWNLAY_DATA_DIR", str(filled.lake_root.parent))
    monkeypatch.delenv("OWNLAY_DATABASE_URL", raising=False)

    assert main(["retention", "--dry-run", "--json"]) == 0

    report = json.loads(capsys.readouterr().out)
    assert report["dry_run"] is True
    assert report["windows_days"]["raw_events"] == 90
    # Real clock: the fixture's old days are long past every window too.
    assert report["counts"]["raw_events"]["files"] == 3
    assert event_day_dir(filled.lake_root, "acme", _days_ago(91)).is_dir()


def test_retention_job_reports_counts_as_metadata_and_honours_dry_run(filled):
    from ownlay_pipelines.defs.lifecycle import retention
    from ownlay_pipelines.defs.resources import LakeResource, OpsStoreResource

    resources = {
        "lake": LakeResource(data_dir=str(filled.lake_root.parent)),
        "ops_store": OpsStoreResource(database_url=str(filled.ops_store.url)),
    }
    config = {"ops": {"apply_retention": {"config": {"dry_run": True}}}}

    dry = retention.execute_in_process(run_config=config, resources=resources)

    metadata = _output_metadata(dry)
    assert metadata["dry_run"] is True
    assert metadata["raw_events_files"] == 3
    assert metadata["raw_events_window_days"] == 90
    assert event_day_dir(filled.lake_root, "acme", _days_ago(91)).is_dir()

    config["ops"]["apply_retention"]["config"] = {"windows_days": {"raw_events": 0}}
    kept = retention.execute_in_process(run_config=config, resources=resources)

    assert _output_metadata(kept)["raw_events_files"] == 0
    assert _output_metadata(kept)["platform_raw_files"] == 2
    assert event_day_dir(filled.lake_root, "acme", _days_ago(91)).is_dir()


def _output_metadata(result) -> dict[str, object]:
    (event,) = [e for e in result.all_node_events if e.event_type_value == "STEP_OUTPUT"]
    return {key: value.value for key, value in event.step_output_data.metadata.items()}


def test_stripe_subscription_events_are_kept_past_the_platform_raw_window(tmp_path):
    from ownlay_pipelines.lake.tables import TableRef

    stores = make_stores(tmp_path)
    events = TableRef.of("raw", "stripe", "subscription_events")
    charges = TableRef.of("raw", "stripe", "charges")
    write_dated(stores, events, _days_ago(400), 2)
    write_dated(stores, charges, _days_ago(400), 2)
    run_retention(stores, RetentionPolicy(), now=NOW, dry_run=False)
    # The MRR mart rebuilds two years from the events; charges follow the 90-day window.
    assert partition_dir(stores.lake_root, events, "acme", _days_ago(400)).is_dir()
    assert not partition_dir(stores.lake_root, charges, "acme", _days_ago(400)).exists()
