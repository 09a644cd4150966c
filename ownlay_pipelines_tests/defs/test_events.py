"""Acknowledged events reach the lake through the buffer sensor and the `raw/events` asset."""

from pathlib import Path

import dagster as dg
import duckdb
from fastapi.testclient import TestClient

from ownlay_pipelines.defs.events import (
    RAW_EVENTS_SPEC,
    event_buffer_sensor,
    event_compaction,
    event_compaction_schedule,
    flush_events_job,
    raw_events,
)
from ownlay_pipelines.defs.partitions import daily_by_workspace
from ownlay_pipelines.defs.resources import LakeResource
from ownlay_pipelines.events.layout import event_files_glob
from ownlay_pipelines.http.clock import FakeClock
from ownlay_pipelines.ingest.app import create_app
from ownlay_pipelines.ingest.config import IngestSettings
from ownlay_pipelines.ingest.flush import flush_buffer
from ownlay_pipelines.ingest.keys import create_api_key, open_key_store
from ownlay_pipelines_tests.ingest.payloads import ENVIRON, NOW, ownlay_event


def _flush_job(lake: LakeResource) -> dg.JobDefinition:
    """The `flush_events` job as the sensor launches it: no partition, the whole buffer."""
    definitions = dg.Definitions(
        assets=[raw_events], jobs=[flush_events_job], resources={"lake": lake}
    )
    return definitions.resolve_job_def("flush_events")


def _post_events(data_dir: Path, lake: LakeResource, count: int) -> None:
    settings = IngestSettings(
        lake_dir=lake.lake_root,
        buffer_path=lake.event_buffer_path,
        database_url=f"sqlite:///{data_dir / 'ops.sqlite'}",
    )
    key = create_api_key(open_key_store(settings.database_url), "acme")
    app = create_app(settings, clock=FakeClock(NOW), environ=ENVIRON)
    with TestClient(app) as client:
        response = client.post(
            "/api/v1/events",
            json=[ownlay_event(1, timestamp="2026-11-20T09:00:00Z")]
            + [ownlay_event(n) for n in range(2, count + 1)],
            headers={"X-Ownlay-Api-Key": key.plaintext},
        )
    assert response.status_code < 300, response.text


def test_sensor_flushes_acknowledged_events_into_the_event_lake(tmp_path: Path):
    lake = LakeResource(data_dir=str(tmp_path / "data"))
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, resources={"lake": lake})
        assert "no ingestion buffer yet" in event_buffer_sensor.evaluate_tick(context).skip_message

        _post_events(tmp_path / "data", lake, count=3)
        tick = event_buffer_sensor.evaluate_tick(context)
        (request,) = tick.run_requests
        assert request.run_key == f"events-flush-{tick.cursor}"

        result = _flush_job(lake).execute_in_process(instance=instance)
        reported = {
            (m.partition, m.metadata["dagster/row_count"].value)
            for m in result.asset_materializations_for_node("flush_event_buffer")
        }
        again = event_buffer_sensor.evaluate_tick(
            dg.build_sensor_context(instance=instance, resources={"lake": lake})
        )

    assert reported == {("2026-11-20|acme", 1), ("2026-11-21|acme", 2)}
    rows = (
        duckdb.connect()
        .execute(
            f"SELECT count(*), count(DISTINCT event_id) FROM read_parquet('{event_files_glob(lake.lake_root)}')"
        )
        .fetchall()
    )
    assert rows == [(3, 3)]
    assert again.skip_message == "no pending events"


def test_raw_events_is_partitioned_like_the_other_dated_assets():
    assert RAW_EVENTS_SPEC.partitions_def is daily_by_workspace
    assert raw_events.partitions_def is daily_by_workspace


def test_a_flush_with_nothing_pending_materializes_no_partition(tmp_path: Path):
    lake = LakeResource(data_dir=str(tmp_path / "data"))
    _post_events(tmp_path / "data", lake, count=2)
    with dg.instance_for_test() as instance:
        first = _flush_job(lake).execute_in_process(instance=instance)
        second = _flush_job(lake).execute_in_process(instance=instance)
        materialized = instance.get_materialized_partitions(raw_events.key)

    assert first.success and second.success
    assert len(first.asset_materializations_for_node("flush_event_buffer")) == 2
    assert second.asset_materializations_for_node("flush_event_buffer") == []
    assert materialized == {"2026-11-20|acme", "2026-11-21|acme"}


def test_compaction_job_compacts_closed_days_on_a_daily_schedule(tmp_path: Path):
    lake = LakeResource(data_dir=str(tmp_path / "data"))
    _post_events(tmp_path / "data", lake, count=3)
    flush_buffer(lake.event_buffer_path, lake.lake_root, now=NOW)

    result = event_compaction.execute_in_process(resources={"lake": lake})

    names = sorted(path.name for path in Path(lake.lake_root).rglob("*.parquet"))
    assert result.success
    assert len(names) == 4  # each closed day: its part and the compacted file (grace period)
    assert sum(name.startswith("compacted-") for name in names) == 2
    assert event_compaction_schedule.cron_schedule == "15 1 * * *"
