"""Google Analytics 4: the world's sessions by day × source / medium / campaign, and the Data API.

The traffic model follows the world's ad delivery: each running campaign's reported clicks land
as sessions under the UTM source, medium and campaign of its ads (a share of clicks never becomes
a session), some of them engaged, and GA4 counts purchase key events and revenue for a share of
what the platform claims (GA4 credits the session's own source; platforms over-claim). Organic
search, direct and e-mail sessions come on top.

The simulator (reference/connectors.md §1.6) answers `POST /v1beta/properties/{id}:runReport`
with string values, `date` as YYYYMMDD in the property's timezone, `rowCount` across pages,
`limit`/`offset` paging, `propertyQuota` when `returnPropertyQuota` is set, metadata with the
property's currency and timezone, and GA4's cardinality limit: beyond `row_limit` rows a day, the
smallest rows are folded into one `(other)` row and `metadata.dataLossFromOtherRow` is true.
Requests spanning more than `SAMPLING_DAYS` days are answered from a sample and carry
`metadata.samplingMetadatas` (a sandbox rule; GA4's own thresholds are not published).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from ownlay_pipelines.sandbox.currency import amount_from_minor, minor_from_amount, price_level
from ownlay_pipelines.sandbox.entities import CampaignDayKey
from ownlay_pipelines.sandbox.faults import Fault, FaultDice, FaultPlan
from ownlay_pipelines.sandbox.seeding import poisson, rng_for
from ownlay_pipelines.sandbox.world import SandboxWorld

HOST = "analyticsdata.googleapis.com"
ROW_LIMIT = 20
"""Rows a property keeps per day before folding the rest into `(other)` (GA4's limit is far
higher; the sandbox's small one makes `(other)` rows appear in three workspaces)."""
SAMPLING_DAYS = 31
SAMPLE_SHARE = 0.25
TOKENS_PER_HOUR = 40_000
TOKENS_PER_DAY = 200_000
DIMENSIONS = ("date", "sessionSource", "sessionMedium", "sessionCampaignName")
METRIC_TYPES = {
    "sessions": "TYPE_INTEGER",
    "engagedSessions": "TYPE_INTEGER",
    "keyEvents": "TYPE_FLOAT",
    "conversions": "TYPE_FLOAT",
    "totalRevenue": "TYPE_CURRENCY",
}
OTHER = "(other)"
UNPAID = (
    ("google", "organic", "(organic)", 0.9),
    ("(direct)", "(none)", "(not set)", 0.6),
    ("newsletter", "email", "weekly-digest", 0.2),
)
"""(source, medium, campaign, share of a day's paid sessions) of traffic no ad paid for."""


@dataclass(frozen=True)
class TrafficRow:
    """One day × source × medium × campaign of a GA4 property, as GA4 reports it."""

    day: date
    source: str
    medium: str
    campaign: str
    sessions: int
    engaged_sessions: int
    key_events: int
    revenue: Decimal


def daily_traffic(world: SandboxWorld, workspace_id: str, day: date) -> list[TrafficRow]:
    """Every traffic row of the workspace's property on local `day`, before the row limit."""
    workspace = world.registry.get(workspace_id)
    currency = workspace.currency
    rows: dict[tuple[str, str, str], TrafficRow] = {}
    paid_sessions = 0
    for account in world.accounts():
        if account.workspace_id != workspace_id:
            continue
        landings: dict[str, str] = {}
        for ad in world.ads(account.platform, account.account_id):
            landings.setdefault(ad.campaign_id, ad.final_urls[0])
        for campaign in world.campaigns(account.platform, account.account_id):
            reported = world.campaign_day(
                account.platform, account.account_id, campaign.campaign_id, day
            )
            landing = landings.get(campaign.campaign_id)
            if reported is None or reported.clicks == 0 or landing is None:
                continue
            utm = dict(parse_qsl(urlsplit(landing).query))
            rng = rng_for(world.seed, "ga4", account.platform, campaign.campaign_id, day)
            sessions = math.floor(reported.clicks * rng.uniform(0.82, 0.96))
            if sessions == 0:
                continue
            key_events = math.floor(float(reported.conversions) * rng.uniform(0.55, 0.75))
            share = key_events / float(reported.conversions) if reported.conversions else 0.0
            revenue = amount_from_minor(
                minor_from_amount(float(reported.conversion_value) * share, currency), currency
            )
            key = (utm.get("utm_source", "(not set)"), utm.get("utm_medium", "(not set)"),
                   utm.get("utm_campaign", "(not set)"))  # fmt: skip
            rows[key] = TrafficRow(
                day, *key, sessions, math.floor(sessions * rng.uniform(0.5, 0.72)), key_events,
                revenue,
            )  # fmt: skip
            paid_sessions += sessions
    rng = rng_for(world.seed, "ga4-unpaid", workspace_id, day)
    for source, medium, campaign, share in UNPAID:
        sessions = poisson(rng, max(5.0, paid_sessions * share))
        key_events = poisson(rng, sessions * 0.012)
        order_value = rng.uniform(40, 110) * price_level(currency)
        revenue = amount_from_minor(minor_from_amount(key_events * order_value, currency), currency)
        engaged = math.floor(sessions * rng.uniform(0.45, 0.7))
        rows[(source, medium, campaign)] = TrafficRow(
            day, source, medium, campaign, sessions, engaged, key_events, revenue
        )
    return sorted(rows.values(), key=lambda r: (-r.sessions, r.source, r.medium, r.campaign))


def reported_traffic(
    world: SandboxWorld, workspace_id: str, day: date, row_limit: int = ROW_LIMIT
) -> tuple[list[TrafficRow], bool]:
    """The day's rows as the property reports them, and whether an `(other)` row folds some."""
    rows = daily_traffic(world, workspace_id, day)
    if len(rows) <= row_limit:
        return rows, False
    kept, folded = rows[: row_limit - 1], rows[row_limit - 1 :]
    other = TrafficRow(
        day, OTHER, OTHER, OTHER,
        sum(r.sessions for r in folded), sum(r.engaged_sessions for r in folded),
        sum(r.key_events for r in folded), sum((r.revenue for r in folded), Decimal(0)),
    )  # fmt: skip
    return [*kept, other], True


class Ga4Simulator:
    """The GA4 Data API v1beta for every property of the world, faults injected."""

    platform = "ga4"
    host = HOST

    def __init__(
        self, world: SandboxWorld, faults: FaultPlan | None = None, *, row_limit: int = ROW_LIMIT
    ) -> None:
        self.world = world
        self.row_limit = row_limit
        self.dice = FaultDice(faults or FaultPlan(), self.platform)
        self.malformed_keys: set[CampaignDayKey] = set()
        self.tokens_used: dict[str, int] = {}

    def use_faults(self, plan: FaultPlan) -> None:
        """Switch to a new fault plan; its decisions start from the first again."""
        self.dice = FaultDice(plan, self.platform)

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request as analyticsdata.googleapis.com would."""
        try:
            if not request.headers.get("authorization", "").startswith("Bearer "):
                raise _Error(
                    401, "UNAUTHENTICATED", "Request is missing required authentication credential."
                )
            if self.dice.token_expired():
                raise _Error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials. "
                             "Expected OAuth 2 access token.")  # fmt: skip
            if self.dice.roll(Fault.THROTTLE):
                raise _Error(429, "RESOURCE_EXHAUSTED", "Exhausted property tokens per hour for "
                             "the property. Retry later.")  # fmt: skip
            if self.dice.roll(Fault.SERVER_ERROR):
                raise _Error(503, "UNAVAILABLE", "The service is currently unavailable.")
            body = self._route(request)
        except _Error as error:
            payload = {
                "error": {"code": error.status, "message": error.message, "status": error.code}
            }
            return httpx.Response(error.status, json=payload)
        return httpx.Response(200, json=body)

    def _route(self, request: httpx.Request) -> dict[str, Any]:
        path = request.url.path
        prefix = "/v1beta/properties/"
        if (
            request.method != "POST"
            or not path.startswith(prefix)
            or not path.endswith(":runReport")
        ):
            raise _Error(404, "NOT_FOUND", f"Method not found: {request.method} {path}")
        property_id = path.removeprefix(prefix).removesuffix(":runReport")
        workspace = next(
            (w for w in self.world.registry.workspaces
             for c in w.connections if c.platform == "ga4" and c.account_id == property_id),
            None,
        )  # fmt: skip
        if workspace is None:
            raise _Error(403, "PERMISSION_DENIED", f"User does not have sufficient permissions "
                         f"for this property (properties/{property_id}).")  # fmt: skip
        try:
            body = json.loads(request.content or b"{}")
        except ValueError:
            raise _Error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.") from None
        start, end = _date_range(body)
        dimensions = [d.get("name") for d in body.get("dimensions", [])]
        metrics = [m.get("name") for m in body.get("metrics", [])]
        if tuple(dimensions) != DIMENSIONS:
            raise _Error(
                400, "INVALID_ARGUMENT", f"The sandbox serves dimensions {list(DIMENSIONS)}"
            )
        unknown = [m for m in metrics if m not in METRIC_TYPES]
        if unknown or not metrics:
            raise _Error(
                400, "INVALID_ARGUMENT", f"Did you mean a valid metric? Unknown: {unknown}"
            )
        today = self.world.now.astimezone(workspace.zone).date()
        sampled = (end - start).days + 1 > SAMPLING_DAYS
        rows, other = [], False
        for offset in range((min(end, today) - start).days + 1):
            day = start + timedelta(days=offset)
            reported, folded = reported_traffic(self.world, workspace.id, day, self.row_limit)
            other = other or folded
            rows += [self._row(property_id, row, metrics, sampled) for row in reported]
        limit, offset = int(body.get("limit", 10_000)), int(body.get("offset", 0))
        cost = 10 + len(rows) // 100
        used = self.tokens_used.get(property_id, 0) + cost
        self.tokens_used[property_id] = used
        answer: dict[str, Any] = {
            "dimensionHeaders": [{"name": d} for d in DIMENSIONS],
            "metricHeaders": [{"name": m, "type": METRIC_TYPES[m]} for m in metrics],
            "rows": rows[offset : offset + limit],
            "rowCount": len(rows),
            "metadata": {"currencyCode": workspace.currency, "timeZone": workspace.timezone},
            "kind": "analyticsData#runReport",
        }
        if not answer["rows"]:
            del answer["rows"]
        if other:
            answer["metadata"]["dataLossFromOtherRow"] = True
        if sampled:
            answer["metadata"]["samplingMetadatas"] = [
                {"samplesReadCount": "250000", "samplingSpaceSize": "1000000"}
            ]
        if body.get("returnPropertyQuota"):
            answer["propertyQuota"] = {
                "tokensPerDay": {"consumed": cost, "remaining": max(0, TOKENS_PER_DAY - used)},
                "tokensPerHour": {"consumed": cost, "remaining": max(0, TOKENS_PER_HOUR - used)},
                "concurrentRequests": {"consumed": 0, "remaining": 10},
                "serverErrorsPerProjectPerHour": {"consumed": 0, "remaining": 10},
                "potentiallyThresholdedRequestsPerHour": {"consumed": 0, "remaining": 120},
                "tokensPerProjectPerHour": {"consumed": cost, "remaining": max(0, 14_000 - used)},
            }
        return answer

    def _row(self, property_id: str, row: TrafficRow, metrics: list[str], sampled: bool) -> dict:
        # A sampled answer scales up what a quarter of the sessions show: an estimate.
        sessions = (
            round(math.floor(row.sessions * SAMPLE_SHARE) / SAMPLE_SHARE)
            if sampled
            else row.sessions
        )
        values = {
            "sessions": str(sessions),
            "engagedSessions": str(row.engaged_sessions),
            "keyEvents": str(row.key_events),
            "conversions": str(row.key_events),
            "totalRevenue": str(row.revenue),
        }
        key = CampaignDayKey(property_id, f"{row.source}|{row.medium}|{row.campaign}", row.day)
        date_value = row.day.strftime("%Y%m%d")
        if self.dice.plan.row_is_malformed(self.platform, key):
            self.malformed_keys.add(key)
            if self.dice.plan.malformation(self.platform, key, 2) == 0:
                values["sessions"] = "1.5e"
            else:
                date_value = row.day.strftime("%d/%m/%Y")
        return {
            "dimensionValues": [
                {"value": date_value}, {"value": row.source}, {"value": row.medium},
                {"value": row.campaign},
            ],
            "metricValues": [{"value": values[m]} for m in metrics],
        }  # fmt: skip


class _Error(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _date_range(body: dict[str, Any]) -> tuple[date, date]:
    ranges = body.get("dateRanges") or []
    if len(ranges) != 1:
        raise _Error(400, "INVALID_ARGUMENT", "The sandbox serves exactly one dateRange")
    try:
        start = date.fromisoformat(ranges[0]["startDate"])
        end = date.fromisoformat(ranges[0]["endDate"])
    except (KeyError, ValueError):
        raise _Error(400, "INVALID_ARGUMENT", "startDate and endDate must be YYYY-MM-DD") from None
    if end < start:
        raise _Error(400, "INVALID_ARGUMENT", "endDate must not be before startDate")
    return start, end
