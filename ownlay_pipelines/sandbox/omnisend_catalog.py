"""An Omnisend brand's e-mail marketing: a weekly campaign and a few always-on automations.

Campaign sends sit on the world's timeline (every Tuesday 09:00 brand-local, from 12 weeks before
the timeline anchor to the end of its 52-week period), so two worlds of one period hold the same
campaigns. What a list shows depends on `now`: a campaign exists from 7 days before its send, is a
`draft` until 2 days before, then `scheduled`, `started` during its sending hour and `sent` after;
its opens and clicks keep accruing for days after the send, most within the first day, as
Omnisend's counters do. Automations send every day they are enabled, so their counters move hourly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ownlay_pipelines.registry.workspaces import Registry
from ownlay_pipelines.sandbox.catalog import THEMES, Brand
from ownlay_pipelines.sandbox.seeding import rng_for

PLATFORM = "omnisend"
WEEKS_BEFORE_ANCHOR = 12
WEEKS_AFTER_ANCHOR = 53
SEND_WEEKDAY = 1
"""Tuesday (Monday is 0): the anchor is a Monday, so sends fall on anchor + 1 + 7k days."""
SEND_TIME = time(9, 0)
CREATED_BEFORE_SEND = timedelta(days=7)
SCHEDULED_BEFORE_SEND = timedelta(days=2)
SENDING_DURATION = timedelta(hours=1)
OPENS_TIME_CONSTANT_HOURS = 18.0
CLICKS_TIME_CONSTANT_HOURS = 24.0
"""Engagement after a send accrues as 1 - exp(-hours / constant): ~75 % of opens in a day."""
AUTOMATIONS = (
    ("Welcome Series", "subscribed to marketing"),
    ("Abandoned Cart", "started checkout"),
    ("Order Confirmation", "placed order"),
    ("Browse Abandonment", "viewed product"),
    ("Birthday", "birthday"),
    ("Win-back", "placed order"),
)
SUBJECTS = (
    "Just landed: {theme}",
    "{theme} - ends Sunday",
    "You'll love this week's picks",
    "A little something from {brand}",
)


@dataclass(frozen=True)
class OmnisendBrand:
    """One Omnisend account (a brand) connected to a workspace; it sends in its workspace's zone."""

    workspace_id: str
    brand_id: str
    name: str
    timezone: str

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class EmailCounters:
    """A campaign's delivery and engagement counters as Omnisend reports them at one moment."""

    sent: int
    opened: int
    clicked: int
    bounced: int
    complained: int
    unsubscribed: int


NO_COUNTERS = EmailCounters(0, 0, 0, 0, 0, 0)


@dataclass(frozen=True)
class EmailCampaign:
    """One newsletter send: its audience size and final engagement shares of what was sent."""

    campaign_id: str
    name: str
    subject: str
    created_at: datetime
    send_at: datetime
    recipients: int
    open_share: float
    click_share: float
    bounce_share: float
    complaint_share: float
    unsubscribe_share: float

    def status(self, now: datetime) -> str:
        """`draft`, `scheduled`, `started` or `sent` at `now` (the campaign must exist by then)."""
        if now < self.send_at - SCHEDULED_BEFORE_SEND:
            return "draft"
        if now < self.send_at:
            return "scheduled"
        return "started" if now < self.send_at + SENDING_DURATION else "sent"

    def counters(self, now: datetime) -> EmailCounters:
        """What the counters read at `now`: sends during the sending hour, engagement after."""
        if now < self.send_at:
            return NO_COUNTERS
        elapsed = now - self.send_at
        sent = math.floor(self.recipients * min(1.0, elapsed / SENDING_DURATION))
        hours = elapsed.total_seconds() / 3600
        opens = 1 - math.exp(-hours / OPENS_TIME_CONSTANT_HOURS)
        clicks = 1 - math.exp(-hours / CLICKS_TIME_CONSTANT_HOURS)
        return EmailCounters(
            sent=sent,
            opened=math.floor(sent * self.open_share * opens),
            clicked=math.floor(sent * self.click_share * clicks),
            bounced=math.floor(sent * self.bounce_share),
            complained=math.floor(sent * self.complaint_share * clicks),
            unsubscribed=math.floor(sent * self.unsubscribe_share * clicks),
        )


@dataclass(frozen=True)
class EmailAutomation:
    """An always-on flow: it sends `daily_sends` e-mails a day while enabled."""

    automation_id: str
    name: str
    trigger_event: str
    created_at: datetime
    enabled_at: datetime
    disabled_at: datetime | None
    daily_sends: float
    open_share: float

    def is_enabled(self, now: datetime) -> bool:
        """True when the flow is running at `now`."""
        return self.enabled_at <= now and (self.disabled_at is None or now < self.disabled_at)

    def sent_and_opened(self, now: datetime) -> tuple[int, int]:
        """Lifetime (sent, opened) at `now`: sends accrue over every enabled hour."""
        stop = now if self.disabled_at is None else min(now, self.disabled_at)
        days = max(0.0, (stop - self.enabled_at).total_seconds() / 86400)
        sent = math.floor(self.daily_sends * days)
        return sent, math.floor(sent * self.open_share)


def omnisend_brands(registry: Registry) -> list[OmnisendBrand]:
    """Every Omnisend connection of the registry, in registry order."""
    return [
        OmnisendBrand(
            workspace_id=workspace.id,
            brand_id=connection.account_id,
            name=connection.account_name or Brand.of(workspace.name, workspace.currency).name,
            timezone=workspace.timezone,
        )
        for workspace in registry.workspaces
        for connection in workspace.connections
        if connection.platform == PLATFORM
    ]


def object_id(seed: int, brand: OmnisendBrand, kind: str, index: int) -> str:
    """A 24-hex-digit id, the shape Omnisend gives campaigns and automations."""
    rng = rng_for(seed, PLATFORM, "id", brand.workspace_id, brand.brand_id, kind, index)
    return f"{rng.getrandbits(96):024x}"


def brand_campaigns(seed: int, brand: OmnisendBrand, anchor: date) -> tuple[EmailCampaign, ...]:
    """Every weekly campaign of the brand's timeline, newest send first (Omnisend's default)."""
    list_rng = rng_for(seed, PLATFORM, "list", brand.workspace_id, brand.brand_id)
    list_size = list_rng.randint(4_000, 40_000)
    campaigns = []
    for week in range(-WEEKS_BEFORE_ANCHOR, WEEKS_AFTER_ANCHOR):
        rng = rng_for(seed, PLATFORM, "campaign", brand.workspace_id, brand.brand_id, week)
        day = anchor + timedelta(days=SEND_WEEKDAY + 7 * week)
        send_at = datetime.combine(day, SEND_TIME, brand.zone).astimezone(UTC)
        theme = "Weekly Newsletter" if week % 2 else rng.choice(THEMES)
        growth = 1 + 0.004 * (week + WEEKS_BEFORE_ANCHOR)
        campaigns.append(
            EmailCampaign(
                campaign_id=object_id(seed, brand, "campaign", week),
                name=f"{theme} - {day.isoformat()}",
                subject=rng.choice(SUBJECTS).format(theme=theme, brand=brand.name),
                created_at=send_at - CREATED_BEFORE_SEND,
                send_at=send_at,
                recipients=round(list_size * growth * rng.uniform(0.6, 1.0)),
                open_share=rng.uniform(0.25, 0.45),
                click_share=rng.uniform(0.01, 0.05),
                bounce_share=rng.uniform(0.002, 0.01),
                complaint_share=rng.uniform(0.0001, 0.0005),
                unsubscribe_share=rng.uniform(0.001, 0.004),
            )
        )
    return tuple(sorted(campaigns, key=lambda c: c.send_at, reverse=True))


def brand_automations(seed: int, brand: OmnisendBrand, anchor: date) -> tuple[EmailAutomation, ...]:
    """4–6 flows; the last one was switched off 5–60 days before the anchor, the rest run."""
    rng = rng_for(seed, PLATFORM, "automations", brand.workspace_id, brand.brand_id)
    count = rng.randint(4, len(AUTOMATIONS))
    midnight = datetime.combine(anchor, time(), UTC)
    flows = []
    for index, (name, event) in enumerate(AUTOMATIONS[:count]):
        created_at = midnight - timedelta(days=rng.randint(90, 700), hours=rng.randint(0, 23))
        disabled_at = midnight - timedelta(days=rng.randint(5, 60)) if index == count - 1 else None
        flows.append(
            EmailAutomation(
                automation_id=object_id(seed, brand, "automation", index),
                name=name,
                trigger_event=event,
                created_at=created_at,
                enabled_at=created_at + timedelta(days=1),
                disabled_at=disabled_at,
                # At least one send an hour, so a running flow's counters move between syncs.
                daily_sends=rng.uniform(24, 400),
                open_share=rng.uniform(0.35, 0.6),
            )
        )
    return tuple(sorted(flows, key=lambda a: a.created_at, reverse=True))
