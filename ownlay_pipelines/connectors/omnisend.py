"""Omnisend: e-mail campaigns and automations of a brand, in both API generations.

Wire facts (reference/connectors.md §1.10):
- legacy v3 (`https://api.omnisend.com/v3`, header `X-API-KEY`): a list follows `paging.next`, a
  full URL, until it is null; campaigns live under the key `campaign` (singular) with
  `campaignID` and the counters `sent`, `opened`, `clicked`, `bounced`, `complained`,
  `unsubscribed`;
- versioned (`https://api.omnisend.com/api`, `Authorization: Omnisend-API-Key {key}` plus the
  required `Omnisend-Version` header, a retired version answers 410): cursor paging with
  `paging.cursors.after` until `paging.hasMore` is false; items carry `id` and no counters;
- both answer 429 with an RFC 9457 problem body whose optional `retryAfter` (seconds) is the only
  wait hint: there are no rate-limit headers. The limit is 400 requests a minute per brand.

The reference documents no v3 automations list; the v3 shape used here (`automations`,
`automationID`, `sent`, `opened`) is the one seed 004's field mapping names. Records come out keyed
by seed 004's Omnisend field names whatever the flavour, so one field mapping stores both.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeVar

import httpx

from ownlay_pipelines.connectors.streams import Connector
from ownlay_pipelines.connectors.wire_values import RowError, dig, to_count, to_decimal, to_text
from ownlay_pipelines.http.client import ApiClient
from ownlay_pipelines.http.errors import (
    ApiError,
    AuthExpired,
    FatalApiError,
    PermissionDenied,
    RateLimited,
    TransientError,
)
from ownlay_pipelines.http.pagination import CursorPaginator, NextUrlPaginator
from ownlay_pipelines.http.rate_limit import RateLimit
from ownlay_pipelines.http.responses import describe_response, json_object
from ownlay_pipelines.registry.workspaces import Connection, Workspace
from ownlay_pipelines.schema.platforms import Platform

T = TypeVar("T")

V3_BASE_URL = "https://api.omnisend.com/v3"
VERSIONED_BASE_URL = "https://api.omnisend.com/api"
API_VERSION = "2026-03-15"
V3_PAGE_SIZE = 100
VERSIONED_PAGE_SIZE = 250
"""The versioned API's maximum page size."""
PERCENT_QUANTUM = Decimal("0.000001")
"""`api_record_metrics.metric_value` keeps six decimals."""


class ApiFlavour(StrEnum):
    """Which Omnisend API generation a client speaks."""

    V3 = "v3"
    VERSIONED = "versioned"


class Resource(StrEnum):
    """An Omnisend list this connector reads; the value is seed 004's `api_sources.endpoint`."""

    CAMPAIGNS = "campaigns"
    AUTOMATIONS = "automations"


@dataclass(frozen=True)
class Listing:
    """Where one resource's items are on the wire: path, the body key holding them, the id key."""

    path: str
    items_key: str
    id_key: str


LISTINGS: Mapping[tuple[ApiFlavour, Resource], Listing] = {
    (ApiFlavour.V3, Resource.CAMPAIGNS): Listing("campaigns", "campaign", "campaignID"),
    (ApiFlavour.V3, Resource.AUTOMATIONS): Listing("automations", "automations", "automationID"),
    (ApiFlavour.VERSIONED, Resource.CAMPAIGNS): Listing("campaigns", "campaigns", "id"),
    (ApiFlavour.VERSIONED, Resource.AUTOMATIONS): Listing("automations", "automations", "id"),
}
DEFAULT_FLAVOUR = ApiFlavour.V3
"""v3 by default: only its lists carry the counters seed 004 maps (`sent`, `openRate`, …)."""


class OmnisendClient(ApiClient):
    """One brand's Omnisend client in either API flavour; maps problem bodies onto the taxonomy."""

    platform = Platform.OMNISEND.value

    def __init__(
        self, *, api_key: str, flavour: ApiFlavour = DEFAULT_FLAVOUR, **kwargs: Any
    ) -> None:
        base_url = V3_BASE_URL if flavour is ApiFlavour.V3 else VERSIONED_BASE_URL
        kwargs.setdefault("base_url", base_url)
        super().__init__(**kwargs)
        self.flavour = flavour
        self._api_key = api_key

    def auth_headers(self) -> dict[str, str]:
        if self.flavour is ApiFlavour.V3:
            return {"X-API-KEY": self._api_key}
        return {"Authorization": f"Omnisend-API-Key {self._api_key}"}

    def request_parsed(
        self,
        method: str,
        url: str,
        parse: Callable[[httpx.Response], T],
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> T:
        # The version header is no secret, so it stays out of auth_headers (scrubbed from messages).
        if self.flavour is ApiFlavour.VERSIONED:
            headers = {"Omnisend-Version": API_VERSION, **(headers or {})}
        return super().request_parsed(method, url, parse, params=params, json=json, headers=headers)

    def classify(self, response: httpx.Response) -> ApiError | None:
        if response.is_success:
            return None
        problem = json_object(response)
        status = response.status_code
        message = _problem_message(problem) or describe_response(response)
        where = {"status": status, "code": str(problem.get("type") or status)}
        if status == 429:
            return RateLimited(message, wait_seconds=_retry_after_seconds(problem), **where)
        if status == 401:
            return AuthExpired(
                f"{message}; the API key was revoked or is wrong, create a new one in Omnisend",
                **where,
            )
        if status == 403:
            return PermissionDenied(f"{message}; give the API key read scopes", **where)
        if status == 410:
            return FatalApiError(
                f"{message}; Omnisend retired API version {API_VERSION}, move to a current one",
                **where,
            )
        if status in (408, 524) or status >= 500:
            return TransientError(message, **where)
        # 400 (bad parameter, or filters changed mid-pagination), 404, 409, 415, 422.
        return FatalApiError(message, **where)

    def items(self, resource: Resource) -> Iterator[Mapping[str, Any]]:
        """Every item of `resource` for this brand, page by page."""
        listing = LISTINGS[(self.flavour, resource)]
        if self.flavour is ApiFlavour.V3:
            pages = NextUrlPaginator(next_path=("paging", "next")).pages(
                self, "GET", listing.path, params={"limit": V3_PAGE_SIZE}
            )
        else:
            pages = CursorPaginator(
                cursor_path=("paging", "cursors", "after"),
                cursor_param="after",
                has_more_path=("paging", "hasMore"),
            ).pages(self, "GET", listing.path, params={"limit": VERSIONED_PAGE_SIZE})
        for page in pages:
            items = page.get(listing.items_key) if isinstance(page, Mapping) else None
            if not isinstance(items, list):
                raise FatalApiError(
                    f"GET {listing.path}: the body has no list under {listing.items_key!r}",
                    platform=self.platform,
                    account_id=self.account_id,
                )
            yield from items


def _problem_message(problem: Mapping[str, Any]) -> str:
    parts = [str(problem[key]) for key in ("title", "detail") if problem.get(key)]
    if problem.get("instance"):
        # Omnisend support finds a request by this urn.
        parts.append(f"(instance {problem['instance']})")
    return " ".join(parts)


def _retry_after_seconds(problem: Mapping[str, Any]) -> float | None:
    """Omnisend's wait hint lives only in the body (reference/connectors.md §1.10)."""
    value = problem.get("retryAfter")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def _optional_count(item: Mapping[str, Any], key: str) -> int | None:
    value = item.get(key)
    return None if value is None else to_count(value, key)


def _percent(part: int | None, whole: int | None) -> Decimal | None:
    if part is None or not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(PERCENT_QUANTUM)


def _rate(item: Mapping[str, Any], key: str, part: int | None, whole: int | None) -> Decimal | None:
    """The wire's own rate when it sends one, else part/whole in percent (v3 sends counters)."""
    value = item.get(key)
    if value is None:
        return _percent(part, whole)
    rate = to_decimal(value, key)
    if not 0 <= rate <= 100:
        raise RowError(key, f"expected a percentage between 0 and 100, got {value!r}")
    return rate.quantize(PERCENT_QUANTUM)


def _without_nulls(record: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in record.items() if value is not None}


def normalise_campaign(item: Mapping[str, Any], flavour: ApiFlavour) -> dict[str, Any]:
    """One campaign keyed by seed 004's Omnisend campaign fields, counters and dates beside them.

    `openRate` / `clickRate` are percentages of `sent`; versioned items carry no counters, so
    their records hold only the id, name, status and dates.
    """
    listing = LISTINGS[(flavour, Resource.CAMPAIGNS)]
    sent = _optional_count(item, "sent")
    opened = _optional_count(item, "opened")
    clicked = _optional_count(item, "clicked")
    return _without_nulls(
        {
            "campaignID": to_text(dig(item, listing.id_key), listing.id_key),
            "name": to_text(item.get("name"), "name", required=False),
            "status": to_text(dig(item, "status"), "status"),
            "sent": sent,
            "openRate": _rate(item, "openRate", opened, sent),
            "clickRate": _rate(item, "clickRate", clicked, sent),
            "type": to_text(item.get("type"), "type", required=False),
            "startDate": to_text(
                item.get("startDate") or item.get("startedAt"), "startDate", required=False
            ),
            "opened": opened,
            "clicked": clicked,
            "bounced": _optional_count(item, "bounced"),
            "unsubscribed": _optional_count(item, "unsubscribed"),
            "complained": _optional_count(item, "complained"),
        }
    )


def normalise_automation(item: Mapping[str, Any], flavour: ApiFlavour) -> dict[str, Any]:
    """One automation keyed by seed 004's Omnisend automation fields.

    The versioned API says `isEnabled` where v3 says `status`; both become `enabled`/`disabled`.
    """
    listing = LISTINGS[(flavour, Resource.AUTOMATIONS)]
    if "isEnabled" in item:
        enabled = item["isEnabled"]
        if not isinstance(enabled, bool):
            raise RowError("isEnabled", f"expected true or false, got {enabled!r}")
        status = "enabled" if enabled else "disabled"
    else:
        status = to_text(dig(item, "status"), "status")
    return _without_nulls(
        {
            "automationID": to_text(dig(item, listing.id_key), listing.id_key),
            "name": to_text(item.get("name"), "name", required=False),
            "status": status,
            "sent": _optional_count(item, "sent"),
            "opened": _optional_count(item, "opened"),
            "createdAt": to_text(item.get("createdAt"), "createdAt", required=False),
        }
    )


NORMALISERS: Mapping[Resource, Callable[[Mapping[str, Any], ApiFlavour], dict[str, Any]]] = {
    Resource.CAMPAIGNS: normalise_campaign,
    Resource.AUTOMATIONS: normalise_automation,
}


@dataclass
class OmnisendPull:
    """What one pull of a resource for a workspace gave: records kept, rows refused, HTTP use."""

    records: list[dict[str, Any]] = field(default_factory=list)
    refused: Counter[str] = field(default_factory=Counter)
    """`field: reason` of every refused item, counted."""
    http: Counter[str] = field(default_factory=Counter)


def pull(
    resource: Resource,
    *,
    workspace: Workspace,
    open_client: Callable[[Connection], ApiClient],
) -> OmnisendPull:
    """Every `resource` item of every Omnisend brand the workspace connects, normalised.

    An item that cannot be normalised is counted in `refused` with its field and reason; the
    items beside it are kept.
    """
    result = OmnisendPull()
    normalise = NORMALISERS[resource]
    for connection in workspace.connections_for(Platform.OMNISEND):
        with open_client(connection) as client:
            assert isinstance(client, OmnisendClient)
            for item in client.items(resource):
                try:
                    result.records.append(normalise(item, client.flavour))
                except RowError as error:
                    result.refused[f"{error.field}: {error.reason}"] += 1
            result.http.update(client.stats.as_metadata())
    return result


def build_client(*, credentials: Mapping[str, str], **client_options: Any) -> OmnisendClient:
    """A client for one brand; `credentials` holds the resolved `api_key`."""
    return OmnisendClient(api_key=credentials["api_key"], **client_options)


CONNECTOR = Connector(
    platform=Platform.OMNISEND,
    build_client=build_client,
    # Reference §1.10: 400 requests a minute per brand, a sliding window.
    rate_limits=(RateLimit(requests=400, per_seconds=60),),
    credential_names=("api_key",),
)
