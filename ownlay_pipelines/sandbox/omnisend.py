"""Omnisend simulator on api.omnisend.com: campaign and automation lists in both API flavours.

What it reproduces (reference/connectors.md §1.10 and §5): v3 under `/v3` with `X-API-KEY` and
offset pages linked by an absolute `paging.next` URL (null on the last page); the versioned API
under `/api` with `Authorization: Omnisend-API-Key …`, the required `Omnisend-Version` header (a
retired version answers 410), cursor pages with `paging.cursors` and `paging.hasMore`, 400 for an
unknown parameter, `after` with `before`, or filters changed mid-pagination; RFC 9457 problem
bodies with an `urn:omnisend:request:` instance on every error; throttling as 429 whose only wait
hint is the body's `retryAfter` (no headers); and 401 for an unknown or revoked API key. A brand is
known by its key alone: the sandbox key of brand B is `sandbox_credential("api_key", B)`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from ownlay_pipelines.sandbox.credentials import sandbox_credential
from ownlay_pipelines.sandbox.faults import Fault, FaultDice, FaultPlan
from ownlay_pipelines.sandbox.omnisend_catalog import (
    PLATFORM,
    OmnisendBrand,
    brand_automations,
    brand_campaigns,
    omnisend_brands,
)
from ownlay_pipelines.sandbox.omnisend_wire import (
    decode_cursor,
    encode_cursor,
    v3_automation,
    v3_campaign,
    versioned_automation,
    versioned_campaign,
)
from ownlay_pipelines.sandbox.seeding import rng_for
from ownlay_pipelines.sandbox.world import SandboxWorld

HOST = "api.omnisend.com"
API_VERSION = "2026-03-15"
PROBLEM_JSON = "application/problem+json"
PROBLEMS = "https://problems.omnisend.com"
DEFAULT_LIMIT = 100
MAX_LIMIT = 250
PAGING_PARAMS = frozenset({"limit", "after", "before"})
FILTERS = {"campaigns": ("status", "nameContains"), "automations": ("isEnabled", "nameContains")}
"""The resources served and the filters applied to each; Omnisend documents more (sort, dates),
which the sandbox refuses by name rather than ignore."""
DOCUMENTED_UNSIMULATED = frozenset(
    {"sort", "direction", "channel", "type", "parentCampaignID"}
    | {"createdAtFrom", "createdAtTo", "updatedAtFrom", "updatedAtTo"}
)

Item = dict[str, Any]
Renderer = Callable[[Any, OmnisendBrand, datetime], Item]


class Problem(Exception):
    """An RFC 9457 error response: HTTP status, problem type, title, detail and extra members."""

    def __init__(self, status: int, kind: str, title: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.kind = kind
        self.title = title
        self.detail = detail
        self.extra = extra


@dataclass(frozen=True)
class Flavour:
    """How one API generation renders each resource's items and under which key it lists them."""

    campaigns: tuple[str, Renderer]
    automations: tuple[str, Renderer]


FLAVOURS = {
    "v3": Flavour(("campaign", v3_campaign), ("automations", v3_automation)),
    "api": Flavour(("campaigns", versioned_campaign), ("automations", versioned_automation)),
}


class OmnisendSimulator:
    """Omnisend for every brand of the world, with the plan's faults injected."""

    platform = PLATFORM
    host = HOST

    def __init__(
        self, world: SandboxWorld, faults: FaultPlan | None = None, *, page_size: int | None = None
    ) -> None:
        self.world = world
        self.page_size = page_size
        """Caps every page below what the client asked for (tests of paging)."""
        self.dice = FaultDice(faults or FaultPlan(), self.platform)
        self._brands = {
            sandbox_credential("api_key", brand.brand_id): brand
            for brand in omnisend_brands(world.registry)
        }
        self._requests = 0

    def use_faults(self, plan: FaultPlan) -> None:
        """Switch to a new fault plan; its decisions start from the first again."""
        self.dice = FaultDice(plan, self.platform)

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one HTTP request as api.omnisend.com would."""
        self._requests += 1
        try:
            return httpx.Response(200, json=self._answer(request))
        except Problem as problem:
            body = {
                "type": f"{PROBLEMS}/{problem.kind}",
                "title": problem.title,
                "status": problem.status,
                "detail": problem.detail,
                "instance": f"urn:omnisend:request:{self._request_uuid()}",
                **problem.extra,
            }
            return httpx.Response(problem.status, json=body, headers={"content-type": PROBLEM_JSON})

    def _answer(self, request: httpx.Request) -> dict[str, Any]:
        segments = request.url.path.strip("/").split("/")
        flavour = FLAVOURS.get(segments[0]) if len(segments) == 2 else None
        if flavour is None or segments[1] not in FILTERS or request.method != "GET":
            raise Problem(
                404, "not-found", "Not Found", f"no route {request.method} {request.url.path}"
            )
        if segments[0] == "api":
            _check_version(request)
        brand = self._authenticate(request, versioned=segments[0] == "api")
        if self.dice.roll(Fault.THROTTLE):
            # The wait hint is in the body only; Omnisend sends no rate-limit headers.
            raise Problem(
                429,
                "rate-limit-exceeded",
                "Too Many Requests",
                "Rate limit of 400 requests per minute for this brand exceeded",
                retryAfter=1 + self.dice.fired[Fault.THROTTLE.value] % 30,
            )
        if self.dice.roll(Fault.SERVER_ERROR):
            raise Problem(503, "service-unavailable", "Service Unavailable", "Try again later")
        resource = segments[1]
        key, render = getattr(flavour, resource)
        items = [
            render(entity, brand, self.world.now) for entity in self._entities(brand, resource)
        ]
        if segments[0] == "v3":
            return _v3_page(request, key, items, self.page_size)
        return _versioned_page(request, resource, key, items, self.page_size)

    def _authenticate(self, request: httpx.Request, *, versioned: bool) -> OmnisendBrand:
        if versioned:
            key = request.headers.get("authorization", "").removeprefix("Omnisend-API-Key ")
        else:
            key = request.headers.get("x-api-key", "")
        brand = self._brands.get(key.strip())
        if brand is None:
            raise Problem(401, "unauthorized", "Unauthorized", "API key is missing or invalid")
        if self.dice.token_expired():
            raise Problem(401, "unauthorized", "Unauthorized", "API key has been revoked")
        return brand

    def _entities(self, brand: OmnisendBrand, resource: str) -> list[Any]:
        now, seed, anchor = self.world.now, self.world.seed, self.world.timeline_anchor
        if resource == "campaigns":
            return [c for c in brand_campaigns(seed, brand, anchor) if c.created_at <= now]
        return [a for a in brand_automations(seed, brand, anchor) if a.created_at <= now]

    def _request_uuid(self) -> uuid.UUID:
        rng = rng_for(self.world.seed, PLATFORM, "request", self._requests)
        return uuid.UUID(int=rng.getrandbits(128), version=4)


def _check_version(request: httpx.Request) -> None:
    version = request.headers.get("omnisend-version")
    if not version:
        raise Problem(
            400,
            "validation-error",
            "Bad Request",
            "The Omnisend-Version header is required",
            errors=[{"field": "Omnisend-Version", "code": "required", "message": "is required"}],
        )
    if version != API_VERSION:
        raise Problem(410, "version-retired", "Gone", f"API version {version} has been retired")


def _bad_parameter(name: str, code: str, message: str) -> Problem:
    return Problem(
        400,
        "validation-error",
        "Bad Request",
        f"query parameter {name}: {message}",
        errors=[{"field": name, "code": code, "message": message}],
    )


def _int_param(request: httpx.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.url.params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise _bad_parameter(name, "out_of_range", f"must be a whole number from {low} to {high}")
    return int(raw)


def _v3_page(
    request: httpx.Request, key: str, items: list[Item], cap: int | None
) -> dict[str, Any]:
    """One v3 page: `offset`/`limit` in the query, absolute `previous`/`next` URLs in `paging`."""
    requested = _int_param(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    limit = min(requested, cap) if cap else requested
    offset = _int_param(request, "offset", 0, 0, 10**9)
    chunk = items[offset : offset + limit]
    after = offset + len(chunk)
    return {
        key: chunk,
        "paging": {
            "previous": str(request.url.copy_set_param("offset", max(0, offset - limit)))
            if offset
            else None,
            "next": str(request.url.copy_set_param("offset", after))
            if after < len(items)
            else None,
            "offset": offset,
            "limit": limit,
        },
    }


def _filtered(request: httpx.Request, resource: str, items: list[Item]) -> tuple[list[Item], str]:
    """Items passing the request's filters, and a signature of those filters for cursors."""
    params = request.url.params
    for name in params:
        if name in DOCUMENTED_UNSIMULATED:
            raise _bad_parameter(name, "unsupported", "not simulated by the OWNLAY sandbox")
        if name not in PAGING_PARAMS and name not in FILTERS[resource]:
            raise _bad_parameter(name, "unknown_parameter", "is not a documented parameter")
    statuses = params.get_list("status")
    if statuses:
        items = [item for item in items if item["status"] in statuses]
    if "isEnabled" in params:
        wanted = params["isEnabled"] == "true"
        items = [item for item in items if item["isEnabled"] is wanted]
    if "nameContains" in params:
        items = [item for item in items if params["nameContains"] in item["name"]]
    signature = "&".join(
        f"{name}={value}"
        for name, value in sorted(params.multi_items())
        if name not in PAGING_PARAMS
    )
    return items, signature


def _versioned_page(
    request: httpx.Request, resource: str, key: str, items: list[Item], cap: int | None
) -> dict[str, Any]:
    """One cursor page; the last page keeps its `after` cursor but says `hasMore: false`."""
    items, signature = _filtered(request, resource, items)
    params = request.url.params
    limit = _int_param(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    size = min(limit, cap) if cap else limit
    if "after" in params and "before" in params:
        raise _bad_parameter("after", "conflict", "do not send after and before together")
    if "after" in params:
        start = _cursor_index(params["after"], resource, signature, "after") + 1
    elif "before" in params:
        start = max(0, _cursor_index(params["before"], resource, signature, "before") - size)
    else:
        start = 0
    chunk = items[start : start + size]
    cursors = {
        "before": encode_cursor(resource, start, signature) if chunk else None,
        "after": encode_cursor(resource, start + len(chunk) - 1, signature) if chunk else None,
    }
    has_more = start + len(chunk) < len(items)
    return {key: chunk, "paging": {"limit": size, "hasMore": has_more, "cursors": cursors}}


def _cursor_index(cursor: str, resource: str, signature: str, name: str) -> int:
    decoded = decode_cursor(cursor)
    if decoded is None or decoded[0] != resource:
        raise _bad_parameter(name, "invalid_cursor", "is not a cursor of this listing")
    if decoded[2] != signature:
        raise _bad_parameter(
            name, "filters_changed", "filters and sorting must not change while paginating"
        )
    return decoded[1]
