"""Every asset and asset check has a trigger: a schedule, a sensor or an automation sensor.

Generic on purpose: it walks whatever the Definitions hold, so an asset or check added without a
trigger fails here, whoever adds it. External assets (AssetSpecs a job writes and reports, such
as raw/events) are reached through the job that writes them, named in `EXTERNAL_ASSET_REPORTERS`.
"""

from collections.abc import Mapping
from dataclasses import dataclass

import dagster as dg

from ownlay_pipelines.connectors.catalog import all_streams
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
        sorted(k.to_user_string() for k in graph.materializable_asset_keys - assets),
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


@dataclass(frozen=True)
class Reporter:
    """The job whose runs write an external asset, and the ops in it that do the writing."""

    job: str
    ops: tuple[str, ...]


def _campaign_metric_stream_ops() -> tuple[str, ...]:
    """Every connector asset that feeds campaign metrics records restatements as it syncs."""
    return tuple(
        dg.AssetKey(list(spec.ref.parts)).to_python_identifier()
        for _, spec in all_streams()
        if spec.feeds_campaign_metrics
    )


EXTERNAL_ASSET_REPORTERS: dict[str, Reporter] = {
    # One materialization per (day, workspace) a flush added a part file to.
    "raw/events": Reporter("flush_events", ("flush_event_buffer",)),
    # One materialization per day partition a dropped file touched.
    **{
        f"raw/uploads/{kind}": Reporter("file_uploads", ("load_uploaded_file",))
        for kind in ("costs", "orders", "events")
    },
    # Written inside the syncs' asset bodies (connectors/sync.py → record_restatements).
    "ledger/restatements": Reporter("daily_metrics", _campaign_metric_stream_ops()),
}
"""Which job writes each external AssetSpec. An external asset has no body of its own, so
nothing above reaches it: the job that writes it is its trigger. A new external asset needs an
entry here, and that job a schedule or sensor."""


def unreported_external_assets(
    definitions: dg.Definitions, reporters: Mapping[str, Reporter] = EXTERNAL_ASSET_REPORTERS
) -> list[str]:
    """One line per external asset no triggered job writes, naming what is missing."""
    repository = definitions.get_repository_def()
    graph = definitions.resolve_asset_graph()
    triggered = {schedule.job_name for schedule in repository.schedule_defs}
    triggered |= {t.job_name for sensor in repository.sensor_defs for t in sensor.targets}
    problems = []
    for key in sorted(k.to_user_string() for k in graph.external_asset_keys):
        reporter = reporters.get(key)
        if reporter is None:
            problems.append(f"{key}: no job reports it")
            continue
        if not repository.has_job(reporter.job):
            problems.append(f"{key}: job {reporter.job} is not defined")
            continue
        nodes = {node.name for node in repository.get_job(reporter.job).graph.nodes}
        missing = sorted(set(reporter.ops) - nodes)
        if not reporter.ops or missing:
            problems.append(f"{key}: job {reporter.job} has no op {', '.join(missing)}")
        if reporter.job not in triggered:
            problems.append(f"{key}: job {reporter.job} has no schedule or sensor")
    return problems


def test_every_external_asset_is_written_by_a_triggered_job():
    assert unreported_external_assets(defs) == []


def test_live_mode_writes_the_same_external_assets():
    live = Settings(
        data_dir="data", registry_file=Settings.from_env({}).registry_file, mode=Mode.LIVE
    )
    assert unreported_external_assets(build_definitions(live)) == []


def test_the_external_assets_are_the_known_ones():
    # Guards the test itself: an entry for an asset that is no longer external proves nothing.
    graph = defs.resolve_asset_graph()
    assert sorted(k.to_user_string() for k in graph.external_asset_keys) == sorted(
        EXTERNAL_ASSET_REPORTERS
    )
    assert len(EXTERNAL_ASSET_REPORTERS["ledger/restatements"].ops) >= 5  # one per ad platform


def test_an_external_asset_no_job_writes_is_reported():
    merged = dg.Definitions.merge(defs, dg.Definitions(assets=[dg.AssetSpec("orphan_feed")]))

    assert unreported_external_assets(merged) == ["orphan_feed: no job reports it"]


def test_an_external_asset_whose_job_nothing_triggers_is_reported():
    @dg.op
    def write_feed() -> None:
        """Would report orphan_feed materializations."""

    @dg.job
    def feed_writer() -> None:
        write_feed()

    merged = dg.Definitions.merge(
        defs, dg.Definitions(assets=[dg.AssetSpec("orphan_feed")], jobs=[feed_writer])
    )
    reporters = {
        **EXTERNAL_ASSET_REPORTERS,
        "orphan_feed": Reporter("feed_writer", ("write_feed", "write_other_feed")),
    }

    assert unreported_external_assets(merged, reporters) == [
        "orphan_feed: job feed_writer has no op write_other_feed",
        "orphan_feed: job feed_writer has no schedule or sensor",
    ]
