from datetime import UTC, datetime

import pytest

from ownlay_pipelines.connectors import google_ads, meta_ads
from ownlay_pipelines.connectors.streams import Cadence
from ownlay_pipelines.orchestration.cadence import (
    PLATFORM_CATEGORY,
    TIER_CADENCE,
    SourceCategory,
    effective_cadence,
    is_daily_tick,
    is_due,
)
from ownlay_pipelines.registry.workspaces import Tier
from ownlay_pipelines.schema.platforms import Platform

META = {spec.table: spec for spec in meta_ads.STREAMS}
GOOGLE = {spec.table: spec for spec in google_ads.STREAMS}


def test_every_platform_has_a_category_and_every_tier_a_cadence_per_category():
    assert set(PLATFORM_CATEGORY) == set(Platform)
    for tier in Tier:
        assert set(TIER_CADENCE[tier]) == set(SourceCategory)


def test_seed_000_tier_table_for_ad_platforms_analytics_and_reports():
    assert TIER_CADENCE[Tier.STARTER][SourceCategory.AD_PLATFORMS] is Cadence.HOURLY
    assert TIER_CADENCE[Tier.STARTER][SourceCategory.REPORTS] is Cadence.DAILY
    assert TIER_CADENCE[Tier.STARTER][SourceCategory.ANALYTICS] is Cadence.DAILY
    assert TIER_CADENCE[Tier.GROWTH][SourceCategory.AD_PLATFORMS] is Cadence.EVERY_15_MINUTES
    assert TIER_CADENCE[Tier.GROWTH][SourceCategory.ANALYTICS] is Cadence.HOURLY
    assert TIER_CADENCE[Tier.GROWTH][SourceCategory.REPORTS] is Cadence.DAILY
    assert set(TIER_CADENCE[Tier.ENTERPRISE].values()) == {Cadence.EVERY_15_MINUTES, None}
    assert all(TIER_CADENCE[tier][SourceCategory.WEBHOOKS] is None for tier in Tier)


@pytest.mark.parametrize(
    ("spec", "tier", "expected"),
    [
        (META["insights"], Tier.GROWTH, Cadence.EVERY_15_MINUTES),
        (META["insights"], Tier.STARTER, Cadence.HOURLY),
        (META["creatives"], Tier.ENTERPRISE, Cadence.HOURLY),
        (META["audiences"], Tier.ENTERPRISE, Cadence.EVERY_6_HOURS),
        (META["audiences"], Tier.STARTER, Cadence.EVERY_6_HOURS),
        (GOOGLE["campaign_metrics"], Tier.STARTER, Cadence.HOURLY),
        (GOOGLE["conversion_actions"], Tier.GROWTH, Cadence.HOURLY),
    ],
)
def test_effective_cadence_is_the_slower_of_the_stream_and_the_tier(spec, tier, expected):
    assert effective_cadence(spec, tier) is expected


@pytest.mark.parametrize(
    ("hour", "minute", "due"),
    [
        (15, 0, {"15min", "hourly"}),
        (15, 15, {"15min"}),
        (12, 0, {"15min", "hourly", "6hourly"}),
        (6, 0, {"15min", "hourly", "6hourly", "daily"}),
        (0, 0, {"15min", "hourly", "6hourly"}),
    ],
)
def test_cadences_are_due_on_ticks_aligned_to_their_interval(hour, minute, due):
    tick = datetime(2026, 11, 20, hour, minute, tzinfo=UTC)
    assert {cadence.value for cadence in Cadence if is_due(cadence, tick)} == due
    assert is_daily_tick(tick) is ("daily" in due)
