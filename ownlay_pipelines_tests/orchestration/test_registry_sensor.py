"""The workspace registry sensor: partitions follow the registry, new workspaces are backfilled."""

import json
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest
import yaml

from ownlay_pipelines.definitions import build_definitions
from ownlay_pipelines.defs import workspace_sync
from ownlay_pipelines.defs.resources import RegistryResource
from ownlay_pipelines.defs.workspace_sync import (
    initial_backfill_days,
    initial_backfill_requests,
    rate_limit_wait,
    rate_limited_retries,
    registry_changes,
    sync_workspace_partitions,
    workspace_registry_sensor,
)
from ownlay_pipelines.registry.workspaces import load_registry
from ownlay_pipelines.settings import DEFAULT_REGISTRY_FILE, Settings
from ownlay_pipelines_tests.orchestration.conftest import sandbox_definitions

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


def _workspace(workspace_id: str, tier: str) -> dict:
    return {
        "id": workspace_id,
        "name": workspace_id,
        "tier": tier,
        "timezone": "Europe/Berlin",
        "currency": "EUR",
        "connections": [
            {"platform": "meta_ads", "account_id": f"m-{workspace_id}"},
            {"platform": "google_ads", "account_id": f"g-{workspace_id}"},
        ],
    }


def _registry_file(tmp_path: Path, *workspaces: dict) -> Path:
    path = tmp_path / f"registry-{len(workspaces)}.yaml"
    path.write_text(yaml.safe_dump({"workspaces": list(workspaces)}))
    return path


@pytest.fixture(scope="module")
def defs(tmp_path_factory: pytest.TempPathFactory) -> dg.Definitions:
    data_dir = tmp_path_factory.mktemp("registry_sensor") / "data"
    return build_definitions(Settings(data_dir=data_dir, registry_file=DEFAULT_REGISTRY_FILE))


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workspace_sync, "utc_now", lambda: NOW)


def _evaluate(defs, instance, registry_file: Path, cursor: str | None = None):
    # With an instance ref Dagster checks run partitions against the instance (and pending adds),
    # as the daemon does.
    with dg.build_sensor_context(
        instance_ref=instance.get_ref(),
        cursor=cursor,
        resources={"registry": RegistryResource(registry_file=str(registry_file))},
        definitions=defs,
    ) as context:
        return workspace_registry_sensor.evaluate_tick(context)


def _partition_requests(result, kind):
    return [r.partition_keys for r in result.dynamic_partitions_requests if isinstance(r, kind)]


def test_a_new_workspace_gets_its_partition_and_a_90_day_backfill_from_a_monday(defs, tmp_path):
    registry = _registry_file(tmp_path, _workspace("acme-outdoor", "growth"))
    with dg.instance_for_test() as instance:
        result = _evaluate(defs, instance, registry)

    assert _partition_requests(result, dg.AddDynamicPartitionsRequest) == [["acme-outdoor"]]
    assert json.loads(result.cursor) == {"onboarded": ["acme-outdoor"], "backlog": []}
    runs = result.run_requests
    # 90 days back from Friday 2026-11-20 is Sunday 2026-08-23: the backfill starts on Monday the
    # 17th, the first partition, so no day before it is left empty. Per platform: one snapshot
    # run and one dated run over the 96 days (fewer run processes, bench/README.md).
    assert len(runs) == 4
    assert {r.tags["ownlay/window"] for r in runs} == {"initial_backfill"}
    meta_ranges = [
        (
            r.tags["dagster/asset_partition_range_start"],
            r.tags["dagster/asset_partition_range_end"],
        )
        for r in runs
        if r.job_name == "daily_metrics" and r.tags["ownlay/platform"] == "meta_ads"
    ]
    assert meta_ranges == [("2026-08-17|acme-outdoor", "2026-11-20|acme-outdoor")]
    entity_runs = [r for r in runs if r.job_name == "entity_snapshots"]
    assert {r.tags["dagster/asset_partition_range_start"] for r in entity_runs} == {"acme-outdoor"}
    assert all(r.run_key.startswith("initial_backfill:2026-11-20:acme-outdoor:") for r in runs)


def test_existing_partitions_count_as_onboarded_on_the_first_tick(defs, tmp_path):
    registry = _registry_file(tmp_path, _workspace("acme-outdoor", "growth"))
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("workspace", ["acme-outdoor"])
        result = _evaluate(defs, instance, registry)

    assert result.skip_message == (
        "workspace partitions already match the registry; no initial backfill waiting"
    )
    assert result.run_requests == []
    assert json.loads(result.cursor)["onboarded"] == ["acme-outdoor"]


def test_a_partition_added_without_its_backfill_is_backfilled_on_the_next_tick(defs, tmp_path):
    registry = _registry_file(
        tmp_path, _workspace("acme-outdoor", "growth"), _workspace("new-shop", "starter")
    )
    with dg.instance_for_test() as instance:
        # The previous tick added the partition, then the daemon died before launching runs.
        instance.add_dynamic_partitions("workspace", ["acme-outdoor", "new-shop"])
        result = _evaluate(defs, instance, registry, cursor=json.dumps(["acme-outdoor"]))

    assert result.dynamic_partitions_requests == []
    assert {r.tags["ownlay/workspace"] for r in result.run_requests} == {"new-shop"}
    assert json.loads(result.cursor)["onboarded"] == ["acme-outdoor", "new-shop"]


def test_a_removed_workspace_loses_its_partition_and_is_backfilled_again_if_it_returns(
    defs, tmp_path
):
    one = _registry_file(tmp_path, _workspace("acme-outdoor", "growth"))
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("workspace", ["acme-outdoor", "gone-co"])
        removed = _evaluate(defs, instance, one, cursor=json.dumps(["acme-outdoor", "gone-co"]))
    assert _partition_requests(removed, dg.DeleteDynamicPartitionsRequest) == [["gone-co"]]
    assert removed.run_requests == []
    assert json.loads(removed.cursor)["onboarded"] == ["acme-outdoor"]

    back = _registry_file(
        tmp_path, _workspace("acme-outdoor", "growth"), _workspace("gone-co", "growth")
    )
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("workspace", ["acme-outdoor"])
        returned = _evaluate(defs, instance, back, cursor=removed.cursor)
    assert _partition_requests(returned, dg.AddDynamicPartitionsRequest) == [["gone-co"]]
    assert len(returned.run_requests) == 4


def test_backfill_days_come_from_the_environment(defs, tmp_path, monkeypatch):
    monkeypatch.setenv("OWNLAY_INITIAL_BACKFILL_DAYS", "10")
    registry = _registry_file(tmp_path, _workspace("acme-outdoor", "growth"))
    with dg.instance_for_test() as instance:
        result = _evaluate(defs, instance, registry)

    metrics = [r for r in result.run_requests if r.job_name == "daily_metrics"]
    # 10 days back is Wednesday 2026-11-11, rounded to Monday the 9th.
    assert {r.tags["dagster/asset_partition_range_start"] for r in metrics} == {
        "2026-11-09|acme-outdoor"
    }
    assert len(metrics) == 2


@pytest.mark.parametrize("value", ["0", "ninety", "5000"])
def test_backfill_days_refuse_values_that_are_not_a_sensible_day_count(value):
    with pytest.raises(ValueError, match="OWNLAY_INITIAL_BACKFILL_DAYS"):
        initial_backfill_days({"OWNLAY_INITIAL_BACKFILL_DAYS": value})
    assert initial_backfill_days({}) == 90


def test_registry_changes_add_new_and_remove_dropped_workspaces():
    registry = load_registry(DEFAULT_REGISTRY_FILE)

    changes = registry_changes(["acme-outdoor", "gone"], registry, cursor=None)

    new = ["blumen-haus", "kumo-tea", "rive-gauche"]
    assert (changes.added, changes.removed) == (new, ["gone"])
    assert changes.to_backfill == new


def test_an_in_place_edit_of_the_registry_file_is_seen_on_the_next_tick(defs, tmp_path):
    registry = tmp_path / "workspaces.yaml"
    registry.write_text(yaml.safe_dump({"workspaces": [_workspace("acme-outdoor", "growth")]}))
    with dg.instance_for_test() as instance:
        first = _evaluate(defs, instance, registry)
        instance.add_dynamic_partitions("workspace", ["acme-outdoor"])
        # Same path, edited in place (the process has the old version cached).
        registry.write_text(
            yaml.safe_dump(
                {
                    "workspaces": [
                        _workspace("acme-outdoor", "growth"),
                        _workspace("new-shop", "starter"),
                    ]
                }
            )
        )
        second = _evaluate(defs, instance, registry, cursor=first.cursor)

    assert _partition_requests(second, dg.AddDynamicPartitionsRequest) == [["new-shop"]]
    assert {r.tags["ownlay/workspace"] for r in second.run_requests} == {"new-shop"}


def test_many_new_workspaces_are_admitted_gradually_oldest_first(defs, tmp_path):
    early = [_workspace(f"early-{n:02d}", "growth") for n in range(10)]
    late = [_workspace(f"late-{n:02d}", "growth") for n in range(10)]
    with dg.instance_for_test() as instance:
        first = _evaluate(defs, instance, _registry_file(tmp_path, *early))
        instance.add_dynamic_partitions("workspace", [w["id"] for w in early])
        # The next day ten more join; nothing has run yet, so the early ones keep their place.
        later = _registry_file(tmp_path, *early, *late)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(workspace_sync, "utc_now", lambda: NOW.replace(day=21))
            second = _evaluate(defs, instance, later, cursor=first.cursor)

    # 4 runs per workspace (2 per platform): each tick admits per platform only what keeps 12
    # initial-backfill runs of it unfinished; the rest waits in the cursor, counted.
    assert len(first.run_requests) == 24
    assert {r.tags["ownlay/platform"] for r in first.run_requests} == {"meta_ads", "google_ads"}
    assert {r.tags["ownlay/workspace"] for r in first.run_requests} == {w["id"] for w in early[:6]}
    backlog = json.loads(second.cursor)["backlog"]
    # Tick one took early-00 … -05 whole; tick two takes the other early ones first, then the
    # first two late ones; the other late workspaces wait behind them.
    assert {r.tags["ownlay/workspace"] for r in second.run_requests} == {
        *(w["id"] for w in early[6:]),
        "late-00",
        "late-01",
    }
    assert [entry[0] for entry in backlog] == [w["id"] for w in late[2:]]


def test_a_backfill_run_a_long_rate_limit_failed_is_requested_again_after_the_wait(
    tmp_path, store_url
):
    throttled = sandbox_definitions(tmp_path / "data", store_url, meta_ads={"throttle_rate": 1.0})
    registry = load_registry(DEFAULT_REGISTRY_FILE)
    with dg.instance_for_test() as instance:
        sync_workspace_partitions(instance, registry)
        request = next(
            r
            for r in initial_backfill_requests(registry, ["acme-outdoor"], today=NOW.date(), days=3)
            if r.job_name == "daily_metrics" and r.tags["ownlay/platform"] == "meta_ads"
        )
        failed = throttled.resolve_job_def("daily_metrics").execute_in_process(
            instance=instance,
            asset_selection=request.asset_selection,
            tags=request.tags,
            raise_on_error=False,
        )
        assert not failed.success
        ended = instance.get_run_record_by_id(failed.run_id).end_time
        wait = rate_limit_wait(instance, failed.run_id)
        assert wait is not None and wait > 120
        too_early = rate_limited_retries(instance, ended + wait - 1, limit=100)
        (retry,) = rate_limited_retries(instance, ended + wait + 1, limit=100)

    assert too_early == []
    assert retry.run_key == f"retry:{failed.run_id}"
    assert retry.tags["ownlay/attempt"] == "2"
    assert set(retry.asset_selection) == set(request.asset_selection)
    for tag in ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end"):
        assert retry.tags[tag] == request.tags[tag]
