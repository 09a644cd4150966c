"""The watchtower sources' schedule: seed 004's intervals, workspaces spread over the hour."""

from datetime import UTC, datetime, timedelta

import dagster as dg

from ownlay_pipelines.definitions import defs
from ownlay_pipelines.defs.resources import RegistryResource
from ownlay_pipelines.defs.workspace_sync import sync_workspace_partitions
from ownlay_pipelines.orchestration.source_cadence import due_sources
from ownlay_pipelines.registry.workspaces import load_registry
from ownlay_pipelines.schema.platforms import Platform
from ownlay_pipelines.settings import DEFAULT_REGISTRY_FILE

INTERVALS = {"hourly": 60, "daily": 1440, "weekly": 10080}
MONDAY_5AM = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)


def test_each_workspace_runs_once_an_hour_with_what_is_due_and_no_tick_exceeds_100_runs():
    workspaces = [f"ws-{n:04d}" for n in range(1000)]
    runs_per_workspace: dict[str, list[list[str]]] = {}
    for step in range(12):
        tick = MONDAY_5AM + timedelta(minutes=5 * step)
        due = due_sources(INTERVALS, workspaces, tick)
        assert len(due) <= 100
        for workspace, sources in due.items():
            runs_per_workspace.setdefault(workspace, []).append(sources)

    assert runs_per_workspace.keys() == set(workspaces)
    assert all(runs == [["hourly", "daily", "weekly"]] for runs in runs_per_workspace.values())
    tuesday_noon = MONDAY_5AM + timedelta(days=1, hours=7)
    assert set(map(tuple, due_sources(INTERVALS, workspaces, tuesday_noon).values())) == {
        ("hourly",)
    }


def test_the_schedule_asks_omnisend_only_of_workspaces_that_connect_it():
    schedule = defs.resolve_schedule_def("watchtower_sources_on_seed_cadence")
    registry = load_registry(DEFAULT_REGISTRY_FILE)
    with dg.instance_for_test() as instance:
        sync_workspace_partitions(instance, registry)
        requests = []
        for step in range(12):
            with dg.build_schedule_context(
                instance=instance,
                scheduled_execution_time=MONDAY_5AM + timedelta(minutes=5 * step),
                resources={"registry": RegistryResource(registry_file=str(DEFAULT_REGISTRY_FILE))},
                repository_def=defs.get_repository_def(),
            ) as context:
                result = schedule.evaluate_tick(context)
            requests += result.run_requests or []

    by_workspace = {
        r.tags["dagster/asset_partition_range_start"]: {
            k.to_user_string() for k in r.asset_selection
        }
        for r in requests
    }
    assert by_workspace.keys() == set(registry.workspace_ids)
    for workspace in registry.workspaces:
        omnisend = {"ops/omnisend/campaigns", "ops/omnisend/automations"}
        connected = bool(workspace.connections_for(Platform.OMNISEND))
        assert (omnisend <= by_workspace[workspace.id]) is connected
        assert "ops/scraper/cvr" in by_workspace[workspace.id]
