"""The sync schedules through Dagster: tiers, windows, run keys and unfinished runs."""

from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import dagster as dg
import pytest
import yaml

from ownlay_pipelines.connectors.catalog import ad_platforms
from ownlay_pipelines.definitions import build_definitions
from ownlay_pipelines.defs.resources import RegistryResource
from ownlay_pipelines.defs.schedules import build_sync_schedules, default_schedule_status
from ownlay_pipelines.settings import DEFAULT_REGISTRY_FILE, Mode, Settings

WORKSPACES = ["acme-outdoor", "blumen-haus", "kumo-tea"]
"""acme-outdoor is Growth, blumen-haus Starter, kumo-tea Enterprise."""
AD_PLATFORMS = {p.platform for p in ad_platforms()}


class Tick(NamedTuple):
    run_requests: list[dg.RunRequest]
    skip_message: str | None


@pytest.fixture(scope="module")
def defs(tmp_path_factory: pytest.TempPathFactory) -> dg.Definitions:
    data_dir = tmp_path_factory.mktemp("schedules") / "data"
    return build_definitions(Settings(data_dir=data_dir, registry_file=DEFAULT_REGISTRY_FILE))


def _tick(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    schedule: str,
    hour: int,
    minute: int,
) -> Tick:
    """The run requests and skip message of one evaluation of `schedule`."""
    with dg.build_schedule_context(
        instance=instance,
        scheduled_execution_time=datetime(2026, 11, 20, hour, minute, tzinfo=UTC),
        resources={"registry": RegistryResource(registry_file=str(DEFAULT_REGISTRY_FILE))},
        repository_def=defs.get_repository_def(),
    ) as context:
        result = defs.resolve_schedule_def(schedule).evaluate_tick(context)
    return Tick(list(result.run_requests or []), result.skip_message)


def _ad_runs(result: Tick) -> dict[tuple[str, str], dg.RunRequest]:
    return {
        (r.tags["ownlay/workspace"], r.tags["ownlay/platform"]): r
        for r in result.run_requests
        if r.tags["ownlay/platform"] in AD_PLATFORMS
    }


def _range(request: dg.RunRequest) -> tuple[str, str]:
    return (
        request.tags["dagster/asset_partition_range_start"],
        request.tags["dagster/asset_partition_range_end"],
    )


def test_quarter_hour_tick_refreshes_today_and_yesterday_for_growth_and_enterprise_only(defs):
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("workspace", WORKSPACES)
        result = _tick(defs, instance, "sync_daily_metrics", 15, 15)

    runs = _ad_runs(result)
    assert set(runs) == {(w, p) for w in ("acme-outdoor", "kumo-tea") for p in AD_PLATFORMS}
    meta = runs[("acme-outdoor", "meta_ads")]
    assert meta.job_name == "daily_metrics"
    assert meta.asset_selection == [dg.AssetKey(["raw", "meta_ads", "insights"])]
    assert _range(meta) == ("2026-11-19|acme-outdoor", "2026-11-20|acme-outdoor")
    assert meta.run_key == (
        "sync_daily_metrics:2026-11-20T15:15:00+00:00:acme-outdoor:meta_ads:2026-11-19..2026-11-20"
    )
    assert meta.tags["ownlay/workspace_platform"] == "acme-outdoor.meta_ads"


def test_hourly_tick_adds_the_starter_workspace_and_hourly_entities(defs):
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("workspace", WORKSPACES)
        result = _tick(defs, instance, "sync_entity_snapshots", 16, 0)

    runs = _ad_runs(result)
    assert {w for w, _ in runs} == set(WORKSPACES)
    starter_meta = runs[("blumen-haus", "meta_ads")]
    assert starter_meta.tags["dagster/asset_partition_range_start"] == "blumen-haus"
    assert starter_meta.tags["dagster/asset_partition_range_end"] == "blumen-haus"
    assert {k.path[-1] for k in starter_meta.asset_selection} == {
        "campaigns",
        "ad_sets",
        "ads",
        "creatives",
    }


def test_daily_tick_requests_the_restatement_lookback_of_each_platform(defs):
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("workspace", WORKSPACES)
        result = _tick(defs, instance, "sync_daily_metrics", 6, 0)

    runs = _ad_runs(result)
    assert len(runs) == len(WORKSPACES) * len(AD_PLATFORMS)
    assert _range(runs[("blumen-haus", "meta_ads")]) == (
        "2026-10-23|blumen-haus",
        "2026-11-20|blumen-haus",
    )
    assert _range(runs[("kumo-tea", "google_ads")]) == (
        "2026-10-21|kumo-tea",
        "2026-11-20|kumo-tea",
    )
    assert {r.tags["ownlay/window"] for r in runs.values()} == {"restatement"}


def test_workspaces_without_a_partition_yet_are_left_to_the_registry_sensor(defs):
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("workspace", ["kumo-tea"])
        result = _tick(defs, instance, "sync_daily_metrics", 15, 15)

    assert {w for w, _ in _ad_runs(result)} == {"kumo-tea"}


def _add_started_run(instance: dg.DagsterInstance, request: dg.RunRequest, run_id: str) -> None:
    """Record `request` as a `daily_metrics` run that has started and not finished."""
    instance.add_run(
        dg.DagsterRun(
            job_name="daily_metrics",
            run_id=run_id,
            status=dg.DagsterRunStatus.STARTED,
            tags=request.tags,
            asset_selection=frozenset(request.asset_selection),
        )
    )


def test_work_an_unfinished_run_covers_is_not_launched_again(defs):
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("workspace", ["kumo-tea"])
        restatement = _ad_runs(_tick(defs, instance, "sync_daily_metrics", 6, 0))
        stuck = restatement[("kumo-tea", "meta_ads")]
        # A restatement run still waiting out a rate limit covers today and yesterday too.
        _add_started_run(instance, stuck, "a1b2c3d4-0000-4000-8000-000000000001")
        result = _tick(defs, instance, "sync_daily_metrics", 15, 15)

    assert ("kumo-tea", "meta_ads") not in _ad_runs(result)
    assert ("kumo-tea", "google_ads") in _ad_runs(result)


def test_a_tick_with_nothing_due_skips_with_a_reason(defs):
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("workspace", ["blumen-haus"])
        result = _tick(defs, instance, "sync_entity_snapshots", 15, 15)

    assert result.skip_message == "nothing due at 15:15 UTC"


def test_schedules_tick_every_15_minutes_in_utc_and_start_only_in_live_mode(tmp_path: Path):
    sandbox = Settings(data_dir=tmp_path, registry_file=DEFAULT_REGISTRY_FILE)
    live = Settings(data_dir=tmp_path, registry_file=DEFAULT_REGISTRY_FILE, mode=Mode.LIVE)

    schedules = build_sync_schedules(sandbox)

    assert {s.name for s in schedules} == {"sync_entity_snapshots", "sync_daily_metrics"}
    assert {(s.cron_schedule, s.execution_timezone) for s in schedules} == {("*/15 * * * *", "UTC")}
    assert default_schedule_status(sandbox) is dg.DefaultScheduleStatus.STOPPED
    assert default_schedule_status(live) is dg.DefaultScheduleStatus.RUNNING
    assert {s.default_status for s in build_sync_schedules(live)} == {
        dg.DefaultScheduleStatus.RUNNING
    }


def test_a_tick_over_the_budget_runs_blocks_and_skips_workspaces_an_unfinished_block_covers(
    tmp_path: Path,
):
    templates = yaml.safe_load(DEFAULT_REGISTRY_FILE.read_text())["workspaces"]
    copies = [
        {
            **template,
            "id": f"{template['id']}-{n:03d}",
            "connections": [
                {**c, "account_id": f"{c['account_id']}{n:03d}"} for c in template["connections"]
            ],
        }
        for n in range(60)
        for template in templates
    ]
    registry_file = tmp_path / "workspaces.yaml"
    registry_file.write_text(yaml.safe_dump({"workspaces": copies}, sort_keys=False))
    order = [w["id"] for w in copies]
    settings = Settings(data_dir=tmp_path / "data", registry_file=registry_file)
    defs = build_definitions(settings)

    def tick(instance: dg.DagsterInstance) -> list[dg.RunRequest]:
        with dg.build_schedule_context(
            instance=instance,
            scheduled_execution_time=datetime(2026, 11, 20, 15, 15, tzinfo=UTC),
            resources={"registry": RegistryResource(registry_file=str(registry_file))},
            repository_def=defs.get_repository_def(),
        ) as context:
            return list(
                defs.resolve_schedule_def("sync_daily_metrics").evaluate_tick(context).run_requests
                or []
            )

    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("workspace", order)
        runs = tick(instance)
        assert len(runs) <= 100
        meta = [r for r in runs if r.tags["ownlay/platform"] == "meta_ads"]
        spans = [
            (
                r.tags["dagster/asset_partition_range_start"].split("|")[1],
                r.tags["dagster/asset_partition_range_end"].split("|")[1],
            )
            for r in meta
        ]
        covered = [
            w for first, last in spans for w in order[order.index(first) : order.index(last) + 1]
        ]
        # Every Growth and Enterprise workspace is due on Meta at 15:15, in exactly one run.
        due = [w["id"] for w in copies if w["tier"] in ("growth", "enterprise")]
        assert set(due) <= set(covered) and len(covered) == len(set(covered))
        assert all("ownlay/workspace" not in r.tags for r in meta)

        first_block = meta[0]
        _add_started_run(instance, first_block, "a1b2c3d4-0000-4000-8000-000000000002")
        again = tick(instance)
    start = first_block.tags["dagster/asset_partition_range_start"].split("|")[1]
    end = first_block.tags["dagster/asset_partition_range_end"].split("|")[1]
    in_block = set(order[order.index(start) : order.index(end) + 1])
    meta_again = [r for r in again if r.tags["ownlay/platform"] == "meta_ads"]
    synced_again = {
        w
        for r in meta_again
        for w in order[
            order.index(r.tags["dagster/asset_partition_range_start"].split("|")[1]) : order.index(
                r.tags["dagster/asset_partition_range_end"].split("|")[1]
            )
            + 1
        ]
    }
    assert meta_again and not synced_again & in_block, "the unfinished block's work relaunched"
