"""The sync log: one api_snapshots row per connector partition run, pending → processing → end."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from ownlay_pipelines.watchtower.errors import TransitionError
from ownlay_pipelines.watchtower.snapshots import ApiSnapshotLog, SnapshotType
from ownlay_pipelines.watchtower.tables import api_snapshots, api_sources


def _snapshot(store, snapshot_id):
    with store.connect() as connection:
        return connection.execute(
            sa.select(api_snapshots).where(api_snapshots.c.id == snapshot_id)
        ).one()


def test_a_run_goes_pending_processing_completed_with_its_record_count(store, clock):
    log = ApiSnapshotLog(store, clock=clock)
    snapshot_id = log.create("scraper", "cvr", client_id="acme-outdoor")
    assert _snapshot(store, snapshot_id).status == "pending"
    started = clock.advance(seconds=5)
    log.start(snapshot_id)
    assert (_snapshot(store, snapshot_id).status, _snapshot(store, snapshot_id).started_at) == (
        "processing",
        started,
    )
    finished = clock.advance(seconds=30)
    log.complete(snapshot_id, 42)
    row = _snapshot(store, snapshot_id)
    assert (row.status, row.total_records, row.completed_at, row.client_id) == (
        "completed",
        42,
        finished,
        "acme-outdoor",
    )
    assert row.snapshot_type == "scheduled"


def test_a_failed_run_keeps_the_error_without_the_webhook_token(sqlite_store, clock):
    log = ApiSnapshotLog(sqlite_store, clock=clock)
    with (
        pytest.raises(RuntimeError),
        log.capture("omnisend", "campaigns", snapshot_type=SnapshotType.MANUAL) as run,
    ):
        raise RuntimeError(
            "POST https://discord.com/api/webhooks/99/abcdef-TOKEN failed, api_key=xyz"
        )
    row = _snapshot(sqlite_store, run.snapshot_id)
    assert (row.status, row.snapshot_type) == ("failed", "manual")
    assert "abcdef-TOKEN" not in row.error_message and "xyz" not in row.error_message
    assert row.error_message.startswith(
        "RuntimeError: POST https://discord.com/api/webhooks/99/***"
    )


def test_capture_registers_an_unknown_source_and_completes(sqlite_store, clock):
    log = ApiSnapshotLog(sqlite_store, clock=clock)
    with log.capture("omnisend", "contacts", client_id="kumo-tea") as run:
        run.total_records = 3
    row = _snapshot(sqlite_store, run.snapshot_id)
    assert (row.status, row.total_records) == ("completed", 3)
    with sqlite_store.connect() as connection:
        assert (
            connection.execute(
                sa.select(sa.func.count()).where(api_sources.c.endpoint == "contacts")
            ).scalar_one()
            == 1
        )


def test_a_finished_snapshot_cannot_move_again(sqlite_store, clock):
    log = ApiSnapshotLog(sqlite_store, clock=clock)
    snapshot_id = log.create("scraper", "cvr")
    with pytest.raises(
        TransitionError, match="pending; it can become completed only from processing"
    ):
        log.complete(snapshot_id, 1)
    log.start(snapshot_id)
    log.fail(snapshot_id, "timeout")
    with pytest.raises(TransitionError, match="is failed"):
        log.start(snapshot_id)


def test_client_id_must_be_a_workspace_slug(sqlite_store, clock):
    with pytest.raises(ValueError, match="not a slug"):
        ApiSnapshotLog(sqlite_store, clock=clock).create("scraper", "cvr", client_id="../x")
