from datetime import UTC, date, datetime

import pytest

from ownlay_pipelines.connectors import google_ads, meta_ads
from ownlay_pipelines.connectors.streams import Partitioning
from ownlay_pipelines.lake.tables import TableRef
from ownlay_pipelines.orchestration.plan import (
    SyncRequest,
    Window,
    plan_initial_backfill,
    plan_tick,
)
from ownlay_pipelines.registry.workspaces import Connection, Tier, Workspace
from ownlay_pipelines.schema.date_range import DateRange
from ownlay_pipelines.schema.platforms import Platform

STREAMS = [*meta_ads.STREAMS, *google_ads.STREAMS]
EARLIEST = date(2025, 1, 1)
META_INSIGHTS = TableRef.of("raw", "meta_ads", "insights")
GOOGLE_METRICS = TableRef.of("raw", "google_ads", "campaign_metrics")


def _workspace(workspace_id: str, tier: Tier, *platforms: Platform) -> Workspace:
    return Workspace(
        id=workspace_id,
        name=workspace_id,
        tier=tier,
        timezone="UTC",
        currency="EUR",
        connections=tuple(
            Connection(platform=p, account_id=f"{p.value}-{workspace_id}") for p in platforms
        ),
    )


GROWTH = _workspace("growth-co", Tier.GROWTH, Platform.META_ADS, Platform.GOOGLE_ADS)
STARTER = _workspace("starter-co", Tier.STARTER, Platform.META_ADS, Platform.GOOGLE_ADS)
META_ONLY = _workspace("meta-only", Tier.ENTERPRISE, Platform.META_ADS)


def _tick(hour: int, minute: int) -> datetime:
    return datetime(2026, 11, 20, hour, minute, tzinfo=UTC)


def _by(requests, workspace, platform, partitioning):
    return [
        r
        for r in requests
        if (r.workspace_id, r.platform, r.partitioning) == (workspace, platform, partitioning)
    ]


def test_quarter_hour_tick_syncs_growth_ad_platforms_and_skips_starter():
    requests = plan_tick([GROWTH, STARTER], STREAMS, _tick(15, 15), earliest_day=EARLIEST)

    assert {r.workspace_id for r in requests} == {"growth-co"}
    (meta_entities,) = _by(requests, "growth-co", Platform.META_ADS, Partitioning.WORKSPACE)
    assert {t.parts[-1] for t in meta_entities.tables} == {"campaigns", "ad_sets", "ads"}
    (meta_metrics,) = _by(requests, "growth-co", Platform.META_ADS, Partitioning.DATE_AND_WORKSPACE)
    assert meta_metrics.tables == (META_INSIGHTS,)
    assert meta_metrics.window is Window.INTRADAY
    assert meta_metrics.days == DateRange(date(2026, 11, 19), date(2026, 11, 20))


def test_hourly_tick_adds_hourly_entities_and_the_starter_tier():
    requests = plan_tick([GROWTH, STARTER], STREAMS, _tick(15, 0), earliest_day=EARLIEST)

    (growth_meta,) = _by(requests, "growth-co", Platform.META_ADS, Partitioning.WORKSPACE)
    assert {t.parts[-1] for t in growth_meta.tables} == {"campaigns", "ad_sets", "ads", "creatives"}
    (starter_google,) = _by(requests, "starter-co", Platform.GOOGLE_ADS, Partitioning.WORKSPACE)
    assert {t.parts[-1] for t in starter_google.tables} == {
        "campaigns",
        "ad_groups",
        "ads",
        "keywords",
        "conversion_actions",
    }
    assert len(requests) == 8


def test_daily_tick_re_pulls_each_platforms_restatement_lookback_instead_of_today():
    requests = plan_tick([GROWTH], STREAMS, _tick(6, 0), earliest_day=EARLIEST)

    (meta,) = _by(requests, "growth-co", Platform.META_ADS, Partitioning.DATE_AND_WORKSPACE)
    (google,) = _by(requests, "growth-co", Platform.GOOGLE_ADS, Partitioning.DATE_AND_WORKSPACE)
    assert meta.window is google.window is Window.RESTATEMENT
    assert meta.days == DateRange(date(2026, 10, 23), date(2026, 11, 20))
    assert meta.days.days == 28 + 1
    assert google.days == DateRange(date(2026, 10, 21), date(2026, 11, 20))
    assert google.days.days == google_ads.CONVERSION_WINDOW_DAYS + 1
    (meta_entities,) = _by(requests, "growth-co", Platform.META_ADS, Partitioning.WORKSPACE)
    assert TableRef.of("raw", "meta_ads", "audiences") in meta_entities.tables


def test_windows_never_start_before_the_first_partition():
    requests = plan_tick([GROWTH], STREAMS, _tick(6, 0), earliest_day=date(2026, 11, 10))

    dated = [r for r in requests if r.days is not None]
    assert {r.days for r in dated} == {DateRange(date(2026, 11, 10), date(2026, 11, 20))}


def test_only_connected_platforms_are_planned():
    requests = plan_tick([META_ONLY], STREAMS, _tick(15, 0), earliest_day=EARLIEST)

    assert {r.platform for r in requests} == {Platform.META_ADS}


def test_run_keys_differ_per_tick_workspace_platform_and_days_and_repeat_for_the_same_tick():
    first = plan_tick([GROWTH, META_ONLY], STREAMS, _tick(15, 15), earliest_day=EARLIEST)
    again = plan_tick([GROWTH, META_ONLY], STREAMS, _tick(15, 15), earliest_day=EARLIEST)
    later = plan_tick([GROWTH, META_ONLY], STREAMS, _tick(15, 30), earliest_day=EARLIEST)

    keys = [r.run_key("sync", _tick(15, 15)) for r in first]
    assert len(set(keys)) == len(first) == 6
    assert keys == [r.run_key("sync", _tick(15, 15)) for r in again]
    assert not set(keys) & {r.run_key("sync", _tick(15, 30)) for r in later}
    assert keys[1] == "sync:2026-11-20T15:15:00+00:00:growth-co:meta_ads:2026-11-19..2026-11-20"


def test_tags_name_workspace_platform_window_and_days():
    (request,) = _by(
        plan_tick([GROWTH], STREAMS, _tick(6, 0), earliest_day=EARLIEST),
        "growth-co",
        Platform.META_ADS,
        Partitioning.DATE_AND_WORKSPACE,
    )
    assert request.tags == {
        "ownlay/workspace": "growth-co",
        "ownlay/platform": "meta_ads",
        "ownlay/workspace_platform": "growth-co.meta_ads",
        "ownlay/window": "restatement",
        "ownlay/first_day": "2026-10-23",
        "ownlay/last_day": "2026-11-20",
    }


def test_an_unfinished_run_covers_a_request_only_with_all_its_tables_and_days():
    intraday = SyncRequest(
        "growth-co",
        Platform.META_ADS,
        Partitioning.DATE_AND_WORKSPACE,
        (META_INSIGHTS,),
        Window.INTRADAY,
        DateRange(date(2026, 11, 19), date(2026, 11, 20)),
    )
    restatement = SyncRequest(
        "growth-co",
        Platform.META_ADS,
        Partitioning.DATE_AND_WORKSPACE,
        (META_INSIGHTS,),
        Window.RESTATEMENT,
        DateRange(date(2026, 10, 23), date(2026, 11, 20)),
    )

    assert intraday.is_covered_by(restatement.tags, [META_INSIGHTS])
    assert not restatement.is_covered_by(intraday.tags, [META_INSIGHTS])
    assert not intraday.is_covered_by(restatement.tags, [GOOGLE_METRICS])
    other_workspace = {**restatement.tags, "ownlay/workspace": "starter-co"}
    assert not intraday.is_covered_by(other_workspace, [META_INSIGHTS])


def test_initial_backfill_of_90_days_is_one_entity_run_and_three_chunks_per_platform():
    requests = plan_initial_backfill(
        GROWTH,
        STREAMS,
        today=date(2026, 11, 20),
        days=90,
        max_days_per_run=31,
        earliest_day=EARLIEST,
    )

    assert len(requests) == 8
    for platform in (Platform.META_ADS, Platform.GOOGLE_ADS):
        (entities,) = _by(requests, "growth-co", platform, Partitioning.WORKSPACE)
        assert entities.window is Window.INITIAL_BACKFILL
        chunks = [
            r.days for r in _by(requests, "growth-co", platform, Partitioning.DATE_AND_WORKSPACE)
        ]
        assert chunks == [
            DateRange(date(2026, 8, 23), date(2026, 9, 22)),
            DateRange(date(2026, 9, 23), date(2026, 10, 23)),
            DateRange(date(2026, 10, 24), date(2026, 11, 20)),
        ]
        assert sum(chunk.days for chunk in chunks) == 90


def test_initial_backfill_refuses_zero_days():
    with pytest.raises(ValueError, match="at least one day"):
        plan_initial_backfill(
            GROWTH,
            STREAMS,
            today=date(2026, 11, 20),
            days=0,
            max_days_per_run=31,
            earliest_day=EARLIEST,
        )
