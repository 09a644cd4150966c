"""TikTok Business API v1.3 simulator on business-api.tiktok.com: entities, reports, report tasks.

What it reproduces (reference/connectors.md §1.3): `Access-Token` header; every answer is HTTP 200
with `{"code", "message", "request_id", "data"}` and only `code == 0` is success (40100 rate limit,
40105 expired token, 40001 no permission, 50000 system error); `page`/`page_size` (≤ 1000) paging
with `data.page_info`; the synchronous integrated report (`dimensions` campaign_id × stat_time_day,
at most 30 days per request, metrics as strings, `stat_time_day` as "YYYY-MM-DD 00:00:00" in the
advertiser's timezone); asynchronous report tasks (create → check QUEUING / PROCESSING / SUCCESS /
FAILED → download as CSV with display-name headers). Entity lists leave deleted objects out unless
`filtering` asks for the `*_STATUS_ALL` secondary status.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import httpx

from ownlay_pipelines.sandbox.entities import (
    CampaignDay,
    CampaignDayKey,
    EntityStatus,
    SandboxAccount,
)
from ownlay_pipelines.sandbox.faults import Fault, FaultDice, FaultPlan
from ownlay_pipelines.sandbox.performance import DeliveryProfile
from ownlay_pipelines.sandbox.social_catalog import CatalogStyle, catalog_builder, numeric_ids
from ownlay_pipelines.sandbox.world import SandboxWorld

HOST = "business-api.tiktok.com"
PREFIX = "/open_api/v1.3/"
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 10
MAX_REPORT_DAYS = 30
MAX_TASK_DAYS = 365

STYLE = CatalogStyle(
    funnels=(
        ("Spark Ads", "CONVERSIONS"),
        ("In-Feed Prospecting", "CONVERSIONS"),
        ("TikTok Retargeting", "CONVERSIONS"),
        ("Smart Performance", "PRODUCT_SALES"),
        ("TopView Reach", "REACH"),
        ("TikTok Traffic", "TRAFFIC"),
        ("Video Views", "VIDEO_VIEWS"),
    ),
    group_kinds=("Broad", "Interests: Shopping", "Lookalike", "Custom Audience", "Gen Z"),
    make_id=numeric_ids("17", 19),
    utm_source="tiktok",
    utm_medium="paid_social",
    budget_usd=(50, 400),
    ad_type="SINGLE_VIDEO",
)
DELIVERY = DeliveryProfile(
    budget_utilisation=(0.6, 0.95),
    ctr_mean=(0.008, 0.016),
    cpc_usd=(0.3, 1.1),
    conversion_rate=(0.01, 0.03),
    order_value_usd=(25, 80),
    frequency=None,
    fractional_conversions=False,
    # TikTok's default attribution is 7-day click / 1-day view; conversions restate for 7 days.
    restatement_days=7,
    reports_actions=False,
)
STATUS_WORDS = {
    "campaign": {EntityStatus.ACTIVE: "ENABLE", EntityStatus.PAUSED: "DISABLE"},
    "adgroup": {EntityStatus.ACTIVE: "DELIVERY_OK", EntityStatus.PAUSED: "DISABLE"},
    "ad": {EntityStatus.ACTIVE: "DELIVERY_OK", EntityStatus.PAUSED: "DISABLE"},
}
CSV_HEADERS = {
    "campaign_id": "Campaign ID",
    "stat_time_day": "By Day",
    "campaign_name": "Campaign name",
    "spend": "Cost",
    "impressions": "Impressions",
    "clicks": "Clicks (Destination)",
    "conversion": "Conversions",
    "conversion_cost": "Cost per conversion",
    "complete_payment": "Complete payment",
    "total_complete_payment_rate": "Total complete payment value",
}
"""Report metric → the display name the task download's CSV header uses."""
TASK_STEPS = {
    "completed": ("QUEUING", "PROCESSING", "SUCCESS"),
    "failed": ("QUEUING", "PROCESSING", "FAILED"),
    "stalled": ("QUEUING",),
}


class TikTokError(Exception):
    """A non-zero TikTok `code` (HTTP 200 unless `http_status` says otherwise)."""

    def __init__(self, code: int, message: str, http_status: int = 200) -> None:
        super().__init__(message)
        self.code, self.message, self.http_status = code, message, http_status


@dataclass
class ReportTask:
    """An asynchronous report task: its account, days, metrics and how it will end."""

    account: SandboxAccount
    start: date
    end: date
    metrics: list[str]
    outcome: str
    checks: int = 0

    def status(self) -> str:
        steps = TASK_STEPS[self.outcome]
        return steps[min(self.checks, len(steps)) - 1] if self.checks else steps[0]


class TikTokAdsSimulator:
    """The TikTok Business API for every TikTok advertiser of the world, faults injected."""

    platform = "tiktok_ads"
    host = HOST

    def __init__(self, world: SandboxWorld, faults: FaultPlan | None = None) -> None:
        self.world = world
        self.dice = FaultDice(faults or FaultPlan(), self.platform)
        self.malformed_keys: set[CampaignDayKey] = set()
        self.tasks: dict[str, ReportTask] = {}
        self._requests = 0

    def use_faults(self, plan: FaultPlan) -> None:
        """Switch to a new fault plan; its decisions start from the first again."""
        self.dice = FaultDice(plan, self.platform)

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request as business-api.tiktok.com would."""
        self._requests += 1
        request_id = f"{self.world.now:%Y%m%d%H%M%S}{self._requests:012X}"
        try:
            self._authenticate(request)
            if self.dice.roll(Fault.THROTTLE):
                raise TikTokError(40100, "Too many requests. Please retry in some time.")
            if self.dice.roll(Fault.SERVER_ERROR):
                if self.dice.fired[Fault.SERVER_ERROR.value] % 2:
                    raise TikTokError(50000, "System error. Please retry later.")
                raise TikTokError(50002, "Service unavailable", http_status=503)
            result = self._route(request)
        except TikTokError as error:
            body = {"code": error.code, "message": error.message, "request_id": request_id}
            return httpx.Response(error.http_status, json=body | {"data": {}})
        if isinstance(result, str):
            return httpx.Response(200, text=result, headers={"content-type": "text/csv"})
        body = {"code": 0, "message": "OK", "request_id": request_id, "data": result}
        return httpx.Response(200, json=body)

    def _authenticate(self, request: httpx.Request) -> None:
        if not request.url.path.startswith(PREFIX):
            raise TikTokError(40002, f"Unknown API path {request.url.path}", http_status=404)
        if not request.headers.get("access-token"):
            raise TikTokError(40104, "Access token is null, please check the Access-Token header.")
        if self.dice.token_expired():
            raise TikTokError(40105, "The access token has expired, please re-authorize.")

    def _route(self, request: httpx.Request) -> dict[str, Any] | str:
        endpoint = request.url.path.removeprefix(PREFIX).strip("/")
        params = dict(parse_qsl(request.url.query.decode()))
        if request.method == "POST":
            params |= json.loads(request.content or b"{}")
        if endpoint == "advertiser/info":
            ids = _json_list(params, "advertiser_ids")
            return {"list": [self._advertiser(self._account(i)) for i in ids]}
        account = self._account(str(params.get("advertiser_id", "")))
        if endpoint in ("campaign/get", "adgroup/get", "ad/get"):
            return _paged(self._entities(account, endpoint.split("/")[0], params), params)
        if endpoint == "report/integrated/get":
            start, end = self._report_days(account, params, MAX_REPORT_DAYS)
            rows = self._report_rows(account, start, end, _json_list(params, "metrics"))
            return _paged(rows, params)
        if endpoint == "report/task/create" and request.method == "POST":
            return self._create_task(account, params)
        task = self.tasks.get(str(params.get("task_id")))
        if task is None or task.account != account:
            raise TikTokError(40002, f"task_id {params.get('task_id')!r} does not exist")
        if endpoint == "report/task/check":
            task.checks += 1
            return {"task_id": params["task_id"], "status": task.status()}
        if endpoint == "report/task/download":
            if task.status() != "SUCCESS":
                raise TikTokError(40002, f"Task is not finished, current status: {task.status()}")
            return _csv(self._report_rows(task.account, task.start, task.end, task.metrics))
        raise TikTokError(40002, f"Unknown API path {request.url.path}", http_status=404)

    def _account(self, advertiser_id: str) -> SandboxAccount:
        try:
            return self.world.account(self.platform, advertiser_id)
        except KeyError:
            raise TikTokError(
                40001, f"No permission to operate advertiser {advertiser_id or '(none)'}"
            ) from None

    def _advertiser(self, account: SandboxAccount) -> dict[str, Any]:
        return {
            "advertiser_id": account.account_id,
            "name": account.name,
            "currency": account.currency,
            "timezone": account.timezone,
            "display_timezone": account.timezone,
            "status": "STATUS_ENABLE",
        }

    def _entities(
        self, account: SandboxAccount, kind: str, params: dict[str, Any]
    ) -> list[dict[str, Any]]:
        filtering = params.get("filtering")
        wanted = json.loads(filtering) if isinstance(filtering, str) else (filtering or {})
        include_deleted = str(wanted.get("secondary_status", "")).endswith("_STATUS_ALL")
        catalog = self.world.catalog(self.platform, account.account_id)
        items: list[tuple[EntityStatus, dict[str, Any]]]
        if kind == "campaign":
            items = [
                (c.status, {
                    "campaign_id": c.campaign_id, "campaign_name": c.name,
                    "objective_type": c.objective, "budget_mode": "BUDGET_MODE_DAY",
                    "budget": float(c.daily_budget), "advertiser_id": account.account_id,
                })
                for c in catalog.campaigns
            ]  # fmt: skip
        elif kind == "adgroup":
            items = [
                (g.status, {
                    "adgroup_id": g.ad_group_id, "adgroup_name": g.name,
                    "campaign_id": g.campaign_id, "bid_price": float(g.cpc_bid or 0),
                    "advertiser_id": account.account_id,
                })
                for g in catalog.ad_groups
            ]  # fmt: skip
        else:
            items = [
                (a.status, {
                    "ad_id": a.ad_id, "ad_name": a.name, "adgroup_id": a.ad_group_id,
                    "campaign_id": a.campaign_id, "ad_format": a.ad_type,
                    "landing_page_url": a.final_urls[0], "advertiser_id": account.account_id,
                })
                for a in catalog.ads
            ]  # fmt: skip
        prefix = kind.upper()
        listed = []
        for status, item in items:
            if status is EntityStatus.DELETED and not include_deleted:
                continue
            word = "DELETE" if status is EntityStatus.DELETED else STATUS_WORDS[kind][status]
            operation = "ENABLE" if status is EntityStatus.ACTIVE else "DISABLE"
            listed.append(
                item
                | {"operation_status": operation, "secondary_status": f"{prefix}_STATUS_{word}"}
            )
        return listed

    def _report_days(
        self, account: SandboxAccount, params: dict[str, Any], max_days: int
    ) -> tuple[date, date]:
        if params.get("data_level") != "AUCTION_CAMPAIGN" or _json_list(params, "dimensions") != [
            "campaign_id",
            "stat_time_day",
        ]:
            raise TikTokError(
                40002,
                "Conflict occurs. The input params including metrics and dimensions have no "
                "relation. (sandbox serves data_level AUCTION_CAMPAIGN by campaign_id, stat_time_day)",
            )
        try:
            start = date.fromisoformat(str(params["start_date"]))
            end = date.fromisoformat(str(params["end_date"]))
        except (KeyError, ValueError):
            raise TikTokError(40002, "start_date and end_date must be YYYY-MM-DD") from None
        if end < start:
            raise TikTokError(40002, "end_date must not be earlier than start_date")
        if (end - start).days + 1 > max_days:
            raise TikTokError(
                40002,
                f"The time span between start_date and end_date cannot exceed {max_days} days",
            )
        return start, end

    def _report_rows(
        self, account: SandboxAccount, start: date, end: date, metrics: list[str]
    ) -> list[dict[str, Any]]:
        unknown = sorted(set(metrics) - set(CSV_HEADERS))
        if unknown:
            raise TikTokError(40002, f"Invalid metrics: {unknown}")
        names = {
            c.campaign_id: c.name for c in self.world.campaigns(self.platform, account.account_id)
        }
        end = min(end, self.world.local_today(self.platform, account.account_id))
        rows = []
        plan = self.dice.plan
        for day in self.world.campaign_days(self.platform, account.account_id, start, end):
            values = _metric_values(day, names[day.campaign_id])
            row = {
                "dimensions": {
                    "campaign_id": day.campaign_id,
                    "stat_time_day": f"{day.report_date.isoformat()} 00:00:00",
                },
                "metrics": {name: values[name] for name in metrics},
            }
            if plan.row_is_malformed(self.platform, day.key):
                self.malformed_keys.add(day.key)
                row = _malform(row, plan.malformation(self.platform, day.key, 2))
            rows.append(row)
        return rows

    def _create_task(self, account: SandboxAccount, params: dict[str, Any]) -> dict[str, Any]:
        start, end = self._report_days(account, params, MAX_TASK_DAYS)
        metrics = _json_list(params, "metrics")
        if self.dice.roll(Fault.ASYNC_FAILURE):
            outcome = "failed"
        elif self.dice.roll(Fault.ASYNC_STALL):
            outcome = "stalled"
        else:
            outcome = "completed"
        task_id = f"{7_300_000_000_000_000_000 + len(self.tasks)}"
        self.tasks[task_id] = ReportTask(account, start, end, metrics, outcome)
        return {"task_id": task_id}


def _metric_values(day: CampaignDay, campaign_name: str) -> dict[str, str]:
    conversions = int(day.conversions)
    return {
        "campaign_name": campaign_name,
        "spend": str(day.spend),
        "impressions": str(day.impressions),
        "clicks": str(day.clicks),
        "conversion": str(conversions),
        # A cost per conversion, not a value: seed 003's trap. "-" when there is none.
        "conversion_cost": str((day.spend / conversions).quantize(Decimal("0.01")))
        if conversions
        else "-",
        "complete_payment": str(conversions),
        # Despite its name, TikTok's total value of complete-payment (purchase) events.
        "total_complete_payment_rate": str(day.conversion_value),
    }


def _malform(row: dict[str, Any], variant: int) -> dict[str, Any]:
    """Broken as TikTok occasionally sends: a thousands separator in a count, or no day."""
    if variant == 0:
        metrics = dict(row["metrics"])
        metrics["impressions"] = f"{int(metrics.get('impressions', '0')):,}x"
        return {**row, "metrics": metrics}
    return {**row, "dimensions": {**row["dimensions"], "stat_time_day": ""}}


def _paged(items: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
    try:
        page = int(params.get("page", 1))
        size = int(params.get("page_size", DEFAULT_PAGE_SIZE))
    except ValueError:
        raise TikTokError(40002, "page and page_size must be integers") from None
    if page < 1 or not 1 <= size <= MAX_PAGE_SIZE:
        raise TikTokError(40002, f"page must be ≥ 1 and page_size in [1, {MAX_PAGE_SIZE}]")
    total_pages = max(1, -(-len(items) // size))
    return {
        "list": items[(page - 1) * size : page * size],
        "page_info": {
            "page": page,
            "page_size": size,
            "total_number": len(items),
            "total_page": total_pages,
        },
    }


def _csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    metric_names = list(rows[0]["metrics"]) if rows else []
    writer.writerow(
        [CSV_HEADERS["campaign_id"], CSV_HEADERS["stat_time_day"]]
        + [CSV_HEADERS[name] for name in metric_names]
    )
    for row in rows:
        dims = row["dimensions"]
        writer.writerow(
            [dims["campaign_id"], dims["stat_time_day"]]
            + [row["metrics"][name] for name in metric_names]
        )
    return out.getvalue()


def _json_list(params: dict[str, Any], name: str) -> list[str]:
    value = params.get(name)
    if isinstance(value, list):
        return [str(v) for v in value]
    try:
        parsed = json.loads(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if not isinstance(parsed, list):
        raise TikTokError(40002, f"{name} must be a JSON list, got {value!r}")
    return [str(v) for v in parsed]


build_tiktok_catalog = catalog_builder(STYLE)
"""TikTok advertisers' campaigns, ad groups and ads for the sandbox world."""
