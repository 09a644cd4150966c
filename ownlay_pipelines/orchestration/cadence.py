"""How often a stream syncs for a workspace: seed 000's entity frequency limited by the tier.

Seed 000 "Sync Cadence Options" gives each tier a cadence per source category:

| tier       | ad platforms | analytics | reports | webhooks  |
|------------|--------------|-----------|---------|-----------|
| starter    | hourly       | daily (*) | daily   | real time |
| growth     | 15 min       | hourly    | daily   | real time |
| enterprise | 15 min       | 15 min    | 15 min  | real time |

(*) the seed leaves Starter analytics blank; it syncs with the daily reports, the slowest cadence
the tier has. A stream's effective cadence is the slower of its own seed-000 frequency and its
tier's: Meta audiences refresh every 6 hours even for Enterprise, Meta insights hourly for Starter.
Webhook sources arrive through the ingestion service, never on a schedule.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from enum import StrEnum

from ownlay_pipelines.connectors.streams import Cadence, StreamSpec
from ownlay_pipelines.registry.workspaces import Tier
from ownlay_pipelines.schema.platforms import Platform


class SourceCategory(StrEnum):
    """The columns of seed 000's cadence table a platform belongs to."""

    AD_PLATFORMS = "ad_platforms"
    ANALYTICS = "analytics"
    REPORTS = "reports"
    WEBHOOKS = "webhooks"


PLATFORM_CATEGORY: dict[Platform, SourceCategory] = {
    Platform.GOOGLE_ADS: SourceCategory.AD_PLATFORMS,
    Platform.META_ADS: SourceCategory.AD_PLATFORMS,
    Platform.TIKTOK_ADS: SourceCategory.AD_PLATFORMS,
    Platform.LINKEDIN_ADS: SourceCategory.AD_PLATFORMS,
    Platform.SNAPCHAT_ADS: SourceCategory.AD_PLATFORMS,
    Platform.GA4: SourceCategory.ANALYTICS,
    # Store, payment and e-mail platforms push their real-time entities by webhook; what is
    # polled from them (products, customers, lists, campaign reports) is report-like.
    Platform.SHOPIFY: SourceCategory.REPORTS,
    Platform.STRIPE: SourceCategory.REPORTS,
    Platform.MAILCHIMP: SourceCategory.REPORTS,
    Platform.OMNISEND: SourceCategory.REPORTS,
    Platform.CSV: SourceCategory.REPORTS,
    Platform.API: SourceCategory.REPORTS,
    Platform.WEBHOOK: SourceCategory.WEBHOOKS,
}
"""Every platform's category; a new Platform value must be placed here (a test checks)."""

TIER_CADENCE: dict[Tier, dict[SourceCategory, Cadence | None]] = {
    Tier.STARTER: {
        SourceCategory.AD_PLATFORMS: Cadence.HOURLY,
        SourceCategory.ANALYTICS: Cadence.DAILY,
        SourceCategory.REPORTS: Cadence.DAILY,
        SourceCategory.WEBHOOKS: None,
    },
    Tier.GROWTH: {
        SourceCategory.AD_PLATFORMS: Cadence.EVERY_15_MINUTES,
        SourceCategory.ANALYTICS: Cadence.HOURLY,
        SourceCategory.REPORTS: Cadence.DAILY,
        SourceCategory.WEBHOOKS: None,
    },
    Tier.ENTERPRISE: {
        SourceCategory.AD_PLATFORMS: Cadence.EVERY_15_MINUTES,
        SourceCategory.ANALYTICS: Cadence.EVERY_15_MINUTES,
        SourceCategory.REPORTS: Cadence.EVERY_15_MINUTES,
        SourceCategory.WEBHOOKS: None,
    },
}
"""The fastest polling cadence per tier and category; None = real time through webhooks."""

CADENCE_INTERVAL: dict[Cadence, timedelta] = {
    Cadence.EVERY_15_MINUTES: timedelta(minutes=15),
    Cadence.HOURLY: timedelta(hours=1),
    Cadence.EVERY_6_HOURS: timedelta(hours=6),
    Cadence.DAILY: timedelta(days=1),
}

TICK_CRON = "*/15 * * * *"
"""The schedules tick at the fastest cadence; slower cadences are due on some of those ticks."""

DAILY_TICK_UTC = time(6, 0)
"""When daily streams and the restatement re-pull run: after the UTC day and the local days of
accounts in the Americas and Europe have closed (an account at UTC-8 closes its day at 08:00 UTC,
and the intraday ticks keep re-pulling yesterday until then)."""


def effective_cadence(spec: StreamSpec, tier: Tier) -> Cadence | None:
    """How often `spec` syncs for a workspace of `tier`; None when the tier does not poll it."""
    tier_cadence = TIER_CADENCE[tier][PLATFORM_CATEGORY[spec.platform]]
    if tier_cadence is None:
        return None
    return max(spec.cadence, tier_cadence, key=CADENCE_INTERVAL.__getitem__)


def is_due(cadence: Cadence, tick: datetime) -> bool:
    """Whether a stream of `cadence` syncs on the schedule tick at `tick` (UTC).

    Sub-daily cadences are due on the ticks aligned to their interval since midnight UTC (hourly
    on the hour, 6-hourly at 00, 06, 12 and 18); daily ones at `DAILY_TICK_UTC`.
    """
    if cadence is Cadence.DAILY:
        return is_daily_tick(tick)
    since_midnight = timedelta(hours=tick.hour, minutes=tick.minute)
    return since_midnight % CADENCE_INTERVAL[cadence] == timedelta(0)


def is_daily_tick(tick: datetime) -> bool:
    """Whether `tick` is the one tick a day that re-pulls restatement windows."""
    return (tick.hour, tick.minute) == (DAILY_TICK_UTC.hour, DAILY_TICK_UTC.minute)
