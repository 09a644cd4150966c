"""Every asset and asset check has a trigger: a schedule, a sensor or an automation sensor.

Generic on purpose: it walks whatever the Definitions hold, so an asset or check added without a
trigger fails here, whoever adds it. That includes assets written by runs that learn their
partitions only while running (raw/events, raw/uploads/*: launched without a partition, they report
the partitions they touched) and the observed ledger, whose observation is its sensor's run.
"""

import dagster as dg

from ownlay_pipelines.definitions import build_definitions, defs
from ownlay_pipelines.settings import Mode, Settings


def reached_by_triggers(
    definitions: dg.Definitions,
) -> tuple[set[dg.AssetKey], set[dg.AssetCheckKey]]:
    """The assets and checks some schedule's or sensor's runs (or automation sensor) execute."""
    repository = definitions.get_repository_def()
    graph = definitions.resolve_asset_graph()
    jobs = {schedule.job_name for schedule in repository.schedule_defs}
    jobs |= {target.job_name for sensor in repository.sensor_defs for target in sensor.targets}
    assets: set[dg.AssetKey] = set()
    checks: set[dg.AssetCheckKey] = set()
    for name in jobs:
        layer = repository.get_job(name).asset_layer
        assets |= set(layer.executable_asset_keys)
        checks |= set(layer.asset_graph.asset_check_keys)
    for sensor in repository.sensor_defs:
        # Automation sensors and sensors that launch their own selection (the freshness checks').
        if sensor.asset_selection is not None:
            assets |= sensor.asset_selection.resolve(graph)
            checks |= sensor.asset_selection.resolve_checks(graph)
    return assets, checks


def _untriggered(definitions: dg.Definitions) -> tuple[list[str], list[str]]:
    graph = definitions.resolve_asset_graph()
    assets, checks = reached_by_triggers(definitions)
    return (
        sorted(k.to_user_string() for k in graph.get_all_asset_keys() - assets),
        sorted(
            f"{k.asset_key.to_user_string()}:{k.name}" for k in set(graph.asset_check_keys) - checks
        ),
    )


def test_every_asset_and_check_is_reached_by_a_schedule_or_sensor():
    assert _untriggered(defs) == ([], [])


def test_live_mode_reaches_the_same_assets():
    live = Settings(
        data_dir="data", registry_file=Settings.from_env({}).registry_file, mode=Mode.LIVE
    )
    assert _untriggered(build_definitions(live)) == ([], [])


def test_an_asset_nothing_triggers_is_reported():
    @dg.asset
    def orphan() -> None:
        """Nothing schedules this."""

    @dg.asset_check(asset=orphan)
    def orphan_check() -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=True)

    merged = dg.Definitions.merge(
        defs, dg.Definitions(assets=[orphan], asset_checks=[orphan_check])
    )

    assert _untriggered(merged) == (["orphan"], ["orphan:orphan_check"])


def test_an_external_asset_nothing_executes_is_reported():
    merged = dg.Definitions.merge(defs, dg.Definitions(assets=[dg.AssetSpec("orphan_feed")]))

    assert _untriggered(merged) == (["orphan_feed"], [])


def test_no_asset_is_left_external_without_an_observation():
    # Assets a Dagster run writes are executable; only the ledger, written inside the syncs'
    # bodies, is external, and its observation runs in the job its sensor launches.
    graph = defs.resolve_asset_graph()
    assert sorted(k.to_user_string() for k in graph.external_asset_keys) == ["ledger/restatements"]
    assert graph.get(dg.AssetKey(["ledger", "restatements"])).is_observable
