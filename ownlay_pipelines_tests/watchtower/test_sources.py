"""Generic-store sources: the record writer, file drops, and rules over two real-shaped syncs."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from ownlay_pipelines.connectors.omnisend import ApiFlavour, Resource
from ownlay_pipelines.http.clock import FakeClock
from ownlay_pipelines.registry.workspaces import load_registry
from ownlay_pipelines.sandbox.file_drops import write_sandbox_drops
from ownlay_pipelines.sandbox.omnisend_catalog import brand_campaigns, omnisend_brands
from ownlay_pipelines.sandbox.transport import sandbox_transport
from ownlay_pipelines.sandbox.world import SandboxWorld
from ownlay_pipelines.settings import DEFAULT_REGISTRY_FILE
from ownlay_pipelines.watchtower.engine import evaluate_target
from ownlay_pipelines.watchtower.errors import TransitionError
from ownlay_pipelines.watchtower.rules import RuleSpec, add_rule, source_id_by_name
from ownlay_pipelines.watchtower.snapshots import SnapshotType
from ownlay_pipelines.watchtower.sources.capture import capture_file_drop, capture_omnisend
from ownlay_pipelines.watchtower.sources.drop_rows import CommunicationReportRow, CvrRow
from ownlay_pipelines.watchtower.sources.field_mappings import (
    INTERNAL_COMMUNICATION_REPORTS,
    OMNISEND_CAMPAIGNS,
    SCRAPER_CVR,
)
from ownlay_pipelines.watchtower.sources.file_drop import drop_folder, read_drop
from ownlay_pipelines.watchtower.sources.record_store import capture_records
from ownlay_pipelines.watchtower.tables import api_record_metrics, api_records, api_snapshots
from ownlay_pipelines_tests.sandbox.omnisend_world import (
    ACME_BRAND,
    LATER,
    NOW,
    REGISTRY,
    sandbox_opener,
    world_at,
)

CAMPAIGN = {
    "campaignID": "5e4f1a2b3c4d5e6f7a8b9c0d",
    "name": "Black Friday - 2026-11-24",
    "status": "sent",
    "sent": 12000,
    "openRate": Decimal("25.000000"),
    "clickRate": Decimal("2.000000"),
    "type": "regular",
    "startDate": "2026-11-24T14:00:00Z",
    "opened": 3000,
}
CVR_HEADER = "client_id,period_start,period_end,cvr,sessions,orders\n"


def _snapshot(store: sa.Engine, snapshot_id) -> sa.Row:
    with store.connect() as connection:
        return connection.execute(
            sa.select(api_snapshots).where(api_snapshots.c.id == snapshot_id)
        ).one()


def _counts(store: sa.Engine, snapshot_id) -> tuple[int, int]:
    records = sa.select(api_records.c.id).where(api_records.c.snapshot_id == snapshot_id)
    with store.connect() as connection:
        return (
            connection.execute(sa.select(sa.func.count()).select_from(records.subquery())).scalar(),
            connection.execute(
                sa.select(sa.func.count()).where(api_record_metrics.c.record_id.in_(records))
            ).scalar(),
        )


def _capture(store, clock, records, *, client_id="acme-outdoor", mapping=OMNISEND_CAMPAIGNS):
    with capture_records(
        store, mapping, client_id=client_id, snapshot_type=SnapshotType.MANUAL, clock=clock
    ) as writer:
        captured = writer.write(records)
    clock.advance(minutes=1)
    return captured


def test_a_capture_is_processing_while_fetching_then_completed_with_its_count(store, clock):
    with capture_records(
        store, OMNISEND_CAMPAIGNS, client_id="acme-outdoor", snapshot_type=SnapshotType.MANUAL
    ) as writer:
        assert _snapshot(store, writer.snapshot_id).status == "processing"
        writer.write([CAMPAIGN, {**CAMPAIGN, "campaignID": "5e4f1a2b3c4d5e6f7a8b9c0e"}])
    row = _snapshot(store, writer.snapshot_id)
    assert (row.status, row.total_records, row.snapshot_type) == ("completed", 2, "manual")
    assert row.client_id == "acme-outdoor" and row.completed_at is not None


def test_a_failed_fetch_fails_the_snapshot_with_its_message_and_stores_nothing(store, clock):
    with (
        pytest.raises(RuntimeError),
        capture_records(
            store, OMNISEND_CAMPAIGNS, client_id="acme-outdoor", snapshot_type=SnapshotType.MANUAL
        ) as writer,
    ):
        raise RuntimeError("omnisend/5f1a HTTP 401: API key has been revoked")
    row = _snapshot(store, writer.snapshot_id)
    assert row.status == "failed"
    assert row.error_message == "RuntimeError: omnisend/5f1a HTTP 401: API key has been revoked"
    assert _counts(store, writer.snapshot_id) == (0, 0)


def test_writing_a_snapshot_again_replaces_its_records_instead_of_adding(store, clock):
    with capture_records(
        store, OMNISEND_CAMPAIGNS, client_id="acme-outdoor", snapshot_type=SnapshotType.MANUAL
    ) as writer:
        writer.write([CAMPAIGN])
        retried = writer.write([CAMPAIGN])
    assert (retried.records, retried.metrics) == (1, 2)
    assert _counts(store, writer.snapshot_id) == (1, 2)
    assert _snapshot(store, writer.snapshot_id).total_records == 1


def test_a_record_id_seen_twice_in_one_batch_keeps_the_last(sqlite_store, clock):
    newer = {**CAMPAIGN, "status": "canceled"}
    captured = _capture(sqlite_store, clock, [CAMPAIGN, newer])
    assert (captured.records, captured.duplicates_dropped) == (1, 1)
    with sqlite_store.connect() as connection:
        assert connection.execute(sa.select(api_records.c.status)).scalars().all() == ["canceled"]


def test_a_campaign_lands_in_columns_metrics_and_extra_by_seed_004s_mapping(store, clock):
    captured = _capture(store, clock, [CAMPAIGN])
    with store.connect() as connection:
        record = connection.execute(sa.select(api_records)).one()
        metrics = connection.execute(
            sa.select(
                api_record_metrics.c.metric_name,
                api_record_metrics.c.metric_value,
                api_record_metrics.c.metric_unit,
            ).order_by(api_record_metrics.c.metric_name)
        ).all()
    assert (record.snapshot_id, record.client_id) == (captured.snapshot_id, "acme-outdoor")
    assert (record.external_id, record.name, record.status, record.quantity) == (
        "5e4f1a2b3c4d5e6f7a8b9c0d",
        "Black Friday - 2026-11-24",
        "sent",
        12000,
    )
    assert record.extra == {"opened": 3000, "startDate": "2026-11-24T14:00:00Z", "type": "regular"}
    assert [tuple(m) for m in metrics] == [
        ("click_rate", Decimal("2.000000"), "percent"),
        ("open_rate", Decimal("25.000000"), "percent"),
    ]


def test_records_are_written_only_while_their_snapshot_is_processing(sqlite_store, clock):
    with capture_records(
        sqlite_store, OMNISEND_CAMPAIGNS, client_id="acme-outdoor", snapshot_type="manual"
    ) as writer:
        pass
    with pytest.raises(TransitionError, match="is completed; records are written only while"):
        writer.write([CAMPAIGN])


def test_a_record_of_another_client_is_refused(sqlite_store, clock):
    row = CvrRow(client_id="kumo-tea", period_start="2026-11-09", cvr="2.2")
    with pytest.raises(ValueError, match="belongs to client 'kumo-tea', not to 'acme-outdoor'"):
        _capture(sqlite_store, clock, [row.record()], mapping=SCRAPER_CVR)


def test_bad_drop_rows_are_reported_with_file_line_field_and_reason_and_good_rows_kept(tmp_path):
    folder = tmp_path / "cvr"
    folder.mkdir()
    (folder / "2026-11.csv").write_text(
        CVR_HEADER
        + "acme-outdoor,2026-11-09,2026-11-15,1.8655,8577,160\n"
        + "acme-outdoor,2026-11-02,2026-11-08,150,10911,224\n"
        + "Acme!,2026-11-02,2026-11-08,2.0,10,1\n"
        + "kumo-tea,2026-11-31,,2.2,,\n"
        + "kumo-tea,2026-11-16,2026-11-09,2.2,,\n",
        encoding="utf-8",
    )
    read = read_drop(folder, CvrRow)

    assert [(r.client_id, r.period_start.isoformat()) for r in read.rows] == [
        ("acme-outdoor", "2026-11-09")
    ]
    assert [str(issue) for issue in read.issues] == [
        "2026-11.csv:3 cvr: Input should be less than or equal to 100",
        "2026-11.csv:4 client_id: Value error, client_id 'Acme!' is not a slug (lowercase "
        "letters, digits, '-' and '_', starting with a letter or digit, at most 63 characters)",
        "2026-11.csv:5 period_start: Input should be a valid date or datetime, day value is "
        "outside expected range",
        "2026-11.csv:6 row: Value error, period_end 2026-11-09 is before period_start 2026-11-16",
    ]
    assert [issue.client_id for issue in read.issues] == [
        "acme-outdoor",
        None,
        "kumo-tea",
        "kumo-tea",
    ]


def test_json_drops_need_an_array_of_objects_and_aware_timestamps(tmp_path):
    folder = tmp_path / "comms"
    folder.mkdir()
    report = {
        "client_id": "acme-outdoor",
        "channel_id": "1270811148657975453",
        "channel_name": "client-acme-outdoor",
        "last_team_message_at": "2026-11-19T23:00:00",
        "team_messages_7d": 6,
        "days_since_team_message": 0,
    }
    (folder / "a.json").write_text(json.dumps([report, "oops"]), encoding="utf-8")
    (folder / "b.json").write_text(json.dumps({"rows": []}), encoding="utf-8")
    (folder / ".c.json.tmp").write_text("half a file", encoding="utf-8")
    read = read_drop(folder, CommunicationReportRow)

    assert read.files == ["a.json", "b.json"] and read.rows == []
    assert [str(issue) for issue in read.issues] == [
        "a.json:1 last_team_message_at: Input should have timezone info",
        "a.json:2 row: must be a JSON object",
        "b.json:0 file: must be a JSON array of row objects",
    ]


def test_a_csv_missing_a_required_column_is_skipped_naming_each_column(tmp_path):
    folder = tmp_path / "cvr"
    folder.mkdir()
    (folder / "old.csv").write_text("client_id,cvr\nacme-outdoor,2.0\n", encoding="utf-8")
    read = read_drop(folder, CvrRow)
    assert read.rows == []
    assert [str(i) for i in read.issues] == [
        "old.csv:1 period_start: column is missing from the header; file skipped"
    ]


def test_a_drop_capture_keeps_the_clients_rows_later_files_winning(store, clock, tmp_path):
    folder = drop_folder(tmp_path, "scraper", "cvr")
    folder.mkdir(parents=True)
    (folder / "2026-11-16.csv").write_text(
        CVR_HEADER
        + "acme-outdoor,2026-11-09,2026-11-15,1.5,8000,120\n"
        + "kumo-tea,2026-11-09,2026-11-15,2.2,8000,176\n"
        + "kumo-tea,2026-11-09,2026-11-15,oops,8000,176\n",
        encoding="utf-8",
    )
    (folder / "2026-11-17.csv").write_text(
        CVR_HEADER + "acme-outdoor,2026-11-09,2026-11-15,1.8655,8577,160\n", encoding="utf-8"
    )
    run = capture_file_drop(
        store,
        SCRAPER_CVR,
        data_dir=tmp_path,
        client_id="acme-outdoor",
        snapshot_type=SnapshotType.SCHEDULED,
        clock=clock,
    )

    assert run.files == ["2026-11-16.csv", "2026-11-17.csv"]
    assert run.issues == []  # kumo-tea's bad row is reported by kumo-tea's run
    assert (run.snapshot.records, run.snapshot.duplicates_dropped) == (1, 1)
    with store.connect() as connection:
        record = connection.execute(sa.select(api_records)).one()
        (cvr,) = connection.execute(sa.select(api_record_metrics.c.metric_value)).scalars()
    assert record.external_id == "2026-11-09"
    assert record.record_date == datetime(2026, 11, 9, tzinfo=UTC)
    assert record.extra == {"orders": 160, "period_end": "2026-11-15", "sessions": 8577}
    assert cvr == Decimal("1.8655")


def test_an_empty_drop_folder_captures_nothing(sqlite_store, clock, tmp_path):
    run = capture_file_drop(
        sqlite_store,
        SCRAPER_CVR,
        data_dir=tmp_path,
        client_id="acme-outdoor",
        snapshot_type=SnapshotType.SCHEDULED,
    )
    assert run.snapshot is None and run.files == []


def _sync_omnisend(store, clock, world: SandboxWorld, resource: Resource) -> None:
    run = capture_omnisend(
        store,
        resource,
        workspace=REGISTRY.get("acme-outdoor"),
        open_client=sandbox_opener(sandbox_transport(world), FakeClock(), ApiFlavour.V3),
        snapshot_type=SnapshotType.SCHEDULED,
        clock=clock,
    )
    assert run.snapshot is not None and not run.refused
    clock.advance(minutes=1)


def _watch(store, clock, source: str, **spec) -> None:
    with store.connect() as connection:
        source_id = source_id_by_name(connection, source)
    add_rule(store, RuleSpec(source_id=source_id, condition="changed", **spec), clock=clock)


def test_changed_fires_for_the_campaign_whose_opens_kept_coming_between_two_syncs(store, clock):
    _watch(store, clock, "omnisend/campaigns", name="open rate moved", field_name="open_rate")
    _sync_omnisend(store, clock, world_at(NOW), Resource.CAMPAIGNS)
    (first,) = evaluate_target("api_records", store=store, clock=clock)
    assert first.fired == ()  # one snapshot: nothing to compare with yet

    _sync_omnisend(store, clock, world_at(LATER), Resource.CAMPAIGNS)
    (second,) = evaluate_target("api_records", store=store, clock=clock)

    (brand,) = [b for b in omnisend_brands(REGISTRY) if b.brand_id == ACME_BRAND]
    world = world_at(NOW)
    tuesday = next(
        c for c in brand_campaigns(world.seed, brand, world.timeline_anchor) if c.send_at < NOW
    )
    assert tuesday.name.endswith("2026-11-17")
    assert [e.entity["external_id"] for e in second.fired] == [tuesday.campaign_id]
    (fired,) = second.fired
    assert Decimal(fired.current_value) > Decimal(fired.previous_value)


def test_sent_count_changed_fires_for_running_automations_only(sqlite_store, clock):
    _watch(sqlite_store, clock, "omnisend/automations", name="sending", field_name="sent_count")
    _sync_omnisend(sqlite_store, clock, world_at(NOW), Resource.AUTOMATIONS)
    _sync_omnisend(sqlite_store, clock, world_at(LATER), Resource.AUTOMATIONS)
    (outcome,) = evaluate_target("api_records", store=sqlite_store, clock=clock)

    with sqlite_store.connect() as connection:
        statuses = dict(
            connection.execute(sa.select(api_records.c.external_id, api_records.c.status)).all()
        )
    assert {e.entity["external_id"] for e in outcome.fired} == {
        external_id for external_id, status in statuses.items() if status == "enabled"
    }
    assert "disabled" in statuses.values()


def test_sandbox_drops_let_the_seed_no_outreach_rule_find_the_starter_client(
    sqlite_store, clock, tmp_path: Path
):
    world = SandboxWorld(load_registry(DEFAULT_REGISTRY_FILE), now=NOW)
    write_sandbox_drops(world, tmp_path)
    add_rule(
        sqlite_store,
        RuleSpec(
            target_table="communication_reports",
            name="No Outreach for 7+ Days",
            field_name="days_since_team_message",
            condition="greater_than",
            threshold_value="7",
        ),
        clock=clock,
    )
    for workspace_id in world.registry.workspace_ids:
        run = capture_file_drop(
            sqlite_store,
            INTERNAL_COMMUNICATION_REPORTS,
            data_dir=tmp_path,
            client_id=workspace_id,
            snapshot_type=SnapshotType.SCHEDULED,
            clock=clock,
        )
        assert run.snapshot.records == 1 and run.issues == []
    (outcome,) = evaluate_target("communication_reports", store=sqlite_store, clock=clock)
    assert [e.client_id for e in outcome.fired] == ["blumen-haus"]
