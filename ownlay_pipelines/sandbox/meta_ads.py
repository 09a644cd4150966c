"""Meta Marketing API v25.0 simulator on graph.facebook.com: accounts, edges, insights, report runs.

What it reproduces (reference/connectors.md §1.1 and §5): `access_token` query parameter or
Bearer auth; cursor paging with `paging.cursors` and an absolute `paging.next` URL that embeds
every parameter (absent on the last page); sync insights (GET) and AdReportRun jobs (POST, then
poll, then page the results) including a "Job Running" poll at 100 % before completion; usage
headers on every response; throttling as HTTP 400 with codes 17 / 613 / 80000 and a positive
`estimated_time_to_regain_access`; HTTP 500 code 2 hiccups; code 190 / 463 expired tokens; and
HTTP 500 code 1 "reduce the amount of data" for daily sync requests longer than 90 days.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

import httpx

from ownlay_pipelines.sandbox.entities import CampaignDayKey, SandboxAccount
from ownlay_pipelines.sandbox.faults import Fault, FaultDice, FaultPlan
from ownlay_pipelines.sandbox.meta_ads_insights import insights_rows, malform
from ownlay_pipelines.sandbox.meta_ads_insights_query import (
    InsightsQuery,
    parse_insights_query,
    parse_limit,
)
from ownlay_pipelines.sandbox.meta_ads_objects import EDGES, GraphError, MetaView, list_edge
from ownlay_pipelines.sandbox.meta_ads_usage import MetaUsage
from ownlay_pipelines.sandbox.seeding import digits, rng_for
from ownlay_pipelines.sandbox.world import SandboxWorld

HOST = "graph.facebook.com"
API_VERSION = "v25.0"
DEFAULT_LIMIT = 25
FORM = "application/x-www-form-urlencoded"
VERSION = re.compile(r"v\d+\.\d+")
PACIFIC = ZoneInfo("America/Los_Angeles")
META_CLOCK = "%A, %d-%b-%y %H:%M:%S %Z"
SYNC_MAX_DAYS = 90
JOB_STEPS = {
    "completed": [
        ("Job Not Started", 0),
        ("Job Started", 0),
        ("Job Running", 42),
        ("Job Running", 100),
    ],
    "failed": [("Job Not Started", 0), ("Job Started", 0), ("Job Running", 37)],
    "skipped": [("Job Not Started", 0)],
    "stalled": [("Job Not Started", 0)],
}
"""Statuses a report run reports on its first polls; afterwards it holds its final status."""
JOB_FINAL = {
    "completed": ("Job Completed", 100),
    "failed": ("Job Failed", 37),
    "skipped": ("Job Skipped", 0),
    "stalled": ("Job Started", 0),
}


@dataclass
class ReportRun:
    """An AdReportRun: the query it answers and how it will end (decided when it is created)."""

    run_id: str
    account: SandboxAccount
    query: InsightsQuery
    outcome: str
    created_at: datetime
    polls: int = 0

    def status(self) -> tuple[str, int]:
        """(async_status, async_percent_completion) as of the latest poll."""
        steps = JOB_STEPS[self.outcome]
        index = max(self.polls, 1) - 1
        return steps[index] if index < len(steps) else JOB_FINAL[self.outcome]


class MetaAdsSimulator:
    """The Graph API for every Meta ad account of the world, with the plan's faults injected."""

    platform = "meta_ads"
    host = HOST

    def __init__(
        self,
        world: SandboxWorld,
        faults: FaultPlan | None = None,
        *,
        sync_max_days: int = SYNC_MAX_DAYS,
    ) -> None:
        self.world = world
        self.sync_max_days = sync_max_days
        self.dice = FaultDice(faults or FaultPlan(), self.platform)
        self.malformed_keys: set[CampaignDayKey] = set()
        """Identities of every insights row served malformed so far (tests count quarantine)."""
        self.report_runs: dict[str, ReportRun] = {}
        self.usage = MetaUsage(world.seed)

    def use_faults(self, plan: FaultPlan) -> None:
        """Switch to a new fault plan; its decisions start from the first again."""
        self.dice = FaultDice(plan, self.platform)

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one HTTP request as graph.facebook.com would."""
        params = dict(parse_qsl(request.url.query.decode()))
        if request.headers.get("content-type", "").startswith(FORM):
            params |= dict(parse_qsl(request.content.decode()))
        segments = request.url.path.strip("/").split("/")
        account_id = self._account_of(segments)
        regain_minutes = 0
        try:
            self._authenticate(request, params, segments)
            if self.dice.roll(Fault.THROTTLE):
                error, regain_minutes = self.usage.throttle()
                raise error
            if self.dice.roll(Fault.SERVER_ERROR):
                raise GraphError(
                    500,
                    2,
                    "An unexpected error has occurred. Please retry your request later.",
                    is_transient=True,
                )
            status, body = 200, self._route(request, params, segments[1:])
        except GraphError as error:
            status, body = error.http_status, error.body(self.usage.trace_id())
        headers = self.usage.headers(account_id, regain_minutes, "insights" in segments)
        return httpx.Response(status, json=body, headers=headers)

    def _authenticate(
        self, request: httpx.Request, params: dict[str, str], segments: list[str]
    ) -> None:
        if not VERSION.fullmatch(segments[0]):
            raise GraphError(400, 2500, f"Unknown path components: /{segments[0]}")
        if segments[0] != API_VERSION:
            raise GraphError(
                400,
                2635,
                f"(#2635) You are calling a deprecated version of the Ads API. Please update to "
                f"the latest version: {API_VERSION}.",
            )
        header = request.headers.get("authorization", "")
        token = params.pop("access_token", None) or header.removeprefix("Bearer ").strip()
        if not token:
            raise GraphError(400, 190, "An access token is required to request this resource.")
        if self.dice.token_expired():
            # Meta words expiry in Pacific time, whatever the account's timezone.
            now = self.world.now.astimezone(PACIFIC)
            expired = now - timedelta(hours=1)
            raise GraphError(
                400,
                190,
                f"Error validating access token: Session has expired on {expired:{META_CLOCK}}. "
                f"The current time is {now:{META_CLOCK}}.",
                subcode=463,
            )

    def _route(
        self, request: httpx.Request, params: dict[str, str], path: list[str]
    ) -> dict[str, Any]:
        node = path[0] if path else ""
        edge = path[1] if len(path) > 1 else None
        if len(path) > 2 or not node:
            raise GraphError(400, 2500, f"Unknown path components: /{'/'.join(path[1:])}")
        if node.startswith("act_"):
            view = MetaView(self.world, self._account(node))
            if request.method == "POST" and edge == "insights":
                return self._create_report_run(view, params)
            if request.method != "GET":
                raise _unsupported(request.method, node)
            if edge is None:
                return view.account_node(params)
            if edge == "insights":
                return self._sync_insights(request, view, params)
            if edge in EDGES:
                return _page(request, list_edge(view, edge, params), params, edge)
            raise GraphError(400, 2500, f"Unknown path components: /{edge}")
        run = self.report_runs.get(node)
        if run is None or request.method != "GET":
            raise _unsupported(request.method, node)
        if edge == "insights":
            return self._report_run_rows(request, run, params)
        if edge is not None:
            raise GraphError(400, 2500, f"Unknown path components: /{edge}")
        return self._poll(run)

    def _sync_insights(
        self, request: httpx.Request, view: MetaView, params: dict[str, str]
    ) -> dict[str, Any]:
        query = parse_insights_query(params, self._today(view.account), DEFAULT_LIMIT)
        if query.daily and query.days > self.sync_max_days:
            # Meta refuses big synchronous reports; the fix is a smaller range or an async job.
            raise GraphError(
                500,
                1,
                "Please reduce the amount of data you're asking for, then retry your request",
                is_transient=False,
            )
        return _page(request, self._rows(view, query), params, "insights")

    def _create_report_run(self, view: MetaView, params: dict[str, str]) -> dict[str, Any]:
        query = parse_insights_query(params, self._today(view.account), DEFAULT_LIMIT)
        if self.dice.roll(Fault.ASYNC_FAILURE):
            outcome = "skipped" if self.dice.fired[Fault.ASYNC_FAILURE.value] % 4 == 0 else "failed"
        elif self.dice.roll(Fault.ASYNC_STALL):
            outcome = "stalled"
        else:
            outcome = "completed"
        rng = rng_for(self.world.seed, "report-run", len(self.report_runs))
        run_id = "7" + digits(rng, 15)
        self.report_runs[run_id] = ReportRun(run_id, view.account, query, outcome, self.world.now)
        return {"report_run_id": run_id}

    def _poll(self, run: ReportRun) -> dict[str, Any]:
        run.polls += 1
        status, percent = run.status()
        body: dict[str, Any] = {
            "id": run.run_id,
            "account_id": run.account.account_id,
            "async_status": status,
            "async_percent_completion": percent,
            "date_start": run.query.since.isoformat(),
            "date_stop": run.query.until.isoformat(),
            "time_ref": int(run.created_at.timestamp()),
            "is_running": status in ("Job Not Started", "Job Started", "Job Running"),
        }
        if status == "Job Completed":
            body["time_completed"] = int(run.created_at.timestamp()) + 60
        return body

    def _report_run_rows(
        self, request: httpx.Request, run: ReportRun, params: dict[str, str]
    ) -> dict[str, Any]:
        status, _ = run.status()
        if status != "Job Completed":
            raise GraphError(
                400,
                100,
                f"(#100) Report run {run.run_id} is not complete (async_status '{status}'); "
                "poll it until 'Job Completed'",
            )
        query = replace(run.query, limit=parse_limit(params, run.query.limit))
        rows = self._rows(MetaView(self.world, run.account), query)
        return _page(request, rows, params, "insights", query.limit)

    def _rows(self, view: MetaView, query: InsightsQuery) -> list[dict[str, Any]]:
        rows = []
        plan = self.dice.plan
        for key, row in insights_rows(view, query):
            if key is not None and plan.row_is_malformed(self.platform, key):
                self.malformed_keys.add(key)
                row = malform(row, plan.malformation(self.platform, key, 2))
            rows.append(row)
        return rows

    def _account(self, node: str) -> SandboxAccount:
        try:
            return self.world.account(self.platform, node.removeprefix("act_"))
        except KeyError:
            raise _unsupported("GET", node) from None

    def _account_of(self, segments: list[str]) -> str | None:
        node = segments[1] if len(segments) > 1 else ""
        if node.startswith("act_"):
            return node.removeprefix("act_")
        run = self.report_runs.get(node)
        return run.account.account_id if run else None

    def _today(self, account: SandboxAccount) -> date:
        return self.world.local_today(self.platform, account.account_id)


def _unsupported(method: str, node: str) -> GraphError:
    return GraphError(
        400,
        100,
        f"Unsupported {method.lower()} request. Object with ID '{node}' does not exist, cannot be "
        "loaded due to missing permissions, or does not support this operation. Please read the "
        "Graph API documentation at https://developers.facebook.com/docs/graph-api",
        subcode=33,
        error_type="GraphMethodException",
    )


def _page(
    request: httpx.Request,
    items: list[dict[str, Any]],
    params: dict[str, str],
    kind: str,
    limit: int | None = None,
) -> dict[str, Any]:
    """One page of `items` after the `after` cursor, with Meta's `paging` object."""
    size = limit or parse_limit(params, DEFAULT_LIMIT)
    start = _cursor_index(params["after"], kind) + 1 if "after" in params else 0
    chunk = items[start : start + size]
    body: dict[str, Any] = {"data": chunk}
    if chunk:
        last = start + len(chunk) - 1
        paging: dict[str, Any] = {
            "cursors": {"before": _cursor(kind, start), "after": _cursor(kind, last)}
        }
        if last + 1 < len(items):
            url = request.url.copy_remove_param("before").copy_set_param(
                "after", _cursor(kind, last)
            )
            paging["next"] = str(url)
        body["paging"] = paging
    return body


def _cursor(kind: str, index: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{index}".encode()).decode().rstrip("=")


def _cursor_index(cursor: str, kind: str) -> int:
    try:
        decoded = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        cursor_kind, index = decoded.split(":")
        if cursor_kind == kind:
            return int(index)
    except ValueError:
        pass
    raise GraphError(400, 100, f"(#100) The after cursor {cursor!r} is not valid for this edge")
