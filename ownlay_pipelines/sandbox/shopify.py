"""Shopify Admin REST API simulator on `<shop>.myshopify.com` (reference/connectors.md §1.7, §5).

What it reproduces: `X-Shopify-Access-Token` auth (401 `[API] Invalid API key or access token`);
`/admin/api/{version}/{orders,customers,products,checkouts}.json`, `orders/{id}/refunds.json` and
`shop.json`; `status` (orders default to `open`), `created_at_*` / `updated_at_*` filters and
`order=<field> asc|desc`; cursor pages (`limit` ≤ 250) linked by a `Link` header with `rel="next"`
and `rel="previous"` whose `page_info` may not be combined with filters; the
`X-Shopify-Shop-Api-Call-Limit: used/40` leaky bucket; 429 with `Retry-After` when another app
has filled the bucket (the throttle fault); 5xx hiccups. Shops are the registry's `shopify`
connections; the account id is the shop's subdomain.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import date, datetime, timedelta
from typing import Any

import httpx

from ownlay_pipelines.registry.workspaces import Workspace
from ownlay_pipelines.sandbox.credentials import sandbox_credential
from ownlay_pipelines.sandbox.faults import Fault, FaultDice, FaultPlan
from ownlay_pipelines.sandbox.shop_catalog import shop_id
from ownlay_pipelines.sandbox.shopify_wire import ShopifyRenderer
from ownlay_pipelines.sandbox.world import SandboxWorld

DOMAIN = "myshopify.com"
PATH = re.compile(
    r"^/admin/api/(?P<version>\d{4}-\d{2})/"
    r"(?:(?P<resource>orders|customers|products|checkouts|shop)|orders/(?P<order_id>\d+)/refunds)"
    r"\.json$"
)
DEFAULT_LIMIT = 50
MAX_LIMIT = 250
BUCKET_SIZE = 40
LEAK_PER_CALL = 3
"""The simulator has no clock: it assumes the bucket drains this many calls between two requests
(1.5 s at Shopify's 2 calls/s), so a bucket another app filled empties over a dozen calls."""
RETRY_AFTER_SECONDS = "2.0"
THROTTLED = (
    "Exceeded 2 calls per second for api client. "
    "Reduce request rates to resume uninterrupted service."
)
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"
PAGING_PARAMS = frozenset({"limit", "page_info", "fields"})
FILTERS = ("created_at_min", "created_at_max", "updated_at_min", "updated_at_max")
ORDER_STATUSES = frozenset({"open", "closed", "cancelled", "any"})


class ShopifyError(Exception):
    """An error response: HTTP status and Shopify's `errors` value (a string or an object)."""

    def __init__(self, status: int, errors: object) -> None:
        super().__init__(str(errors))
        self.status = status
        self.errors = errors


class ShopifySimulator:
    """Every shop of the registry's `shopify` connections, answered from the world."""

    platform = "shopify"
    host = DOMAIN
    """Serves each shop's subdomain (the transport routes `<shop>.myshopify.com` here)."""

    def __init__(self, world: SandboxWorld, faults: FaultPlan | None = None) -> None:
        self.world = world
        self.dice = FaultDice(faults or FaultPlan(), self.platform)
        self._bucket_used: dict[str, int] = {}
        self._rendered: dict[tuple[str, str, date, date], list[dict[str, Any]]] = {}
        self._shops: dict[str, Workspace] = {
            connection.account_id: workspace
            for workspace in world.registry.workspaces
            for connection in workspace.connections
            if connection.platform == self.platform
        }

    def use_faults(self, plan: FaultPlan) -> None:
        """Switch to a new fault plan; its decisions start from the first again."""
        self.dice = FaultDice(plan, self.platform)

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one HTTP request as the shop's Admin API would."""
        shop = request.url.host.removesuffix(f".{DOMAIN}")
        headers: dict[str, str] = {}
        try:
            workspace = self._shops.get(shop)
            match = PATH.fullmatch(request.url.path)
            if workspace is None or match is None or request.method != "GET":
                raise ShopifyError(404, "Not Found")
            self._authenticate(request, shop)
            if self.dice.roll(Fault.THROTTLE):
                self._bucket_used[shop] = BUCKET_SIZE
                headers["Retry-After"] = RETRY_AFTER_SECONDS
                raise ShopifyError(429, THROTTLED)
            used = max(0, self._bucket_used.get(shop, 0) - LEAK_PER_CALL) + 1
            self._bucket_used[shop] = used
            if self.dice.roll(Fault.SERVER_ERROR):
                raise ShopifyError(503, "Service Unavailable")
            renderer = ShopifyRenderer(self.world.shop(workspace.id), request.url.host)
            status, body = 200, self._route(renderer, request, match, headers)
        except ShopifyError as error:
            status, body = error.status, {"errors": error.errors}
        used_now = self._bucket_used.get(shop, 0)
        headers["X-Shopify-Shop-Api-Call-Limit"] = f"{used_now}/{BUCKET_SIZE}"
        return httpx.Response(status, json=body, headers=headers)

    def _authenticate(self, request: httpx.Request, shop: str) -> None:
        token = request.headers.get("x-shopify-access-token", "")
        if token != sandbox_credential("access_token", shop) or self.dice.token_expired():
            raise ShopifyError(401, INVALID_TOKEN)

    def _route(
        self,
        renderer: ShopifyRenderer,
        request: httpx.Request,
        match: re.Match[str],
        headers: dict[str, str],
    ) -> dict[str, Any]:
        resource = match["resource"]
        if resource == "shop":
            return {"shop": self._shop_body(renderer)}
        if match["order_id"] is not None:
            order_id = int(match["order_id"])
            for order in renderer.shop.history():
                if order.order_id == order_id:
                    return {"refunds": renderer.order(order)["refunds"]}
            raise ShopifyError(404, "Not Found")
        query = _Query.from_params(resource, dict(request.url.params))
        items = query.page(self._records(renderer, resource, query))
        page_url = f"https://{request.url.host}{request.url.path}?limit={query.limit}&page_info="
        links = [
            f'<{page_url}{token}>; rel="{rel}"'
            for rel, token in (("previous", query.previous_token), ("next", query.next_token))
            if token
        ]
        if links:
            headers["Link"] = ", ".join(links)
        return {resource: items}

    def _records(self, renderer: ShopifyRenderer, resource: str, query: _Query) -> list[dict]:
        """Every record of `resource` the query's created-at window can hold, rendered once."""
        shop = renderer.shop
        first, last = query.created_days(shop.opened, shop.visitors.local_date(self.world.now))
        key = (shop.workspace_id, resource, first, last)
        if key not in self._rendered:
            if resource == "orders":
                records = [renderer.order(o) for o in shop.orders(first, last)]
            elif resource == "checkouts":
                records = [renderer.checkout(c) for c in shop.abandoned_checkouts(first, last)]
            elif resource == "customers":
                records = [renderer.customer(summary) for summary in shop.customers()]
            else:
                records = [renderer.product(product) for product in shop.visitors.products]
            self._rendered[key] = records
        status = query.filters.get("status", "open") if resource == "orders" else "any"
        if status == "closed":
            return []  # the sandbox never archives an order
        if status in ("open", "cancelled"):
            cancelled = status == "cancelled"
            return [r for r in self._rendered[key] if (r["cancelled_at"] is not None) is cancelled]
        return self._rendered[key]

    def _shop_body(self, renderer: ShopifyRenderer) -> dict[str, Any]:
        shop = renderer.shop
        workspace = self.world.registry.get(shop.workspace_id)
        return {
            "id": shop_id(self.world.seed, shop.workspace_id, "shop", digits=11),
            "name": workspace.name,
            "myshopify_domain": renderer.domain,
            "domain": shop.visitors.site.removeprefix("https://"),
            "iana_timezone": workspace.timezone,
            "currency": workspace.currency,
            "plan_name": "basic",
        }


class _Query:
    """One listing request: its filters and sort (carried in `page_info` after the first page)."""

    def __init__(
        self, resource: str, filters: dict[str, str], limit: int, cursor: dict[str, Any]
    ) -> None:
        self.resource = resource
        self.filters = filters
        self.limit = limit
        self.cursor = cursor
        self.next_token: str | None = None
        self.previous_token: str | None = None
        field, _, direction = filters.get("order", "id asc").partition(" ")
        if field not in ("id", "created_at", "updated_at") or direction not in ("asc", "desc"):
            raise ShopifyError(400, {"order": ["is not a valid sort order"]})
        self.sort_field, self.descending = field, direction == "desc"
        self.bounds = {name: _instant(filters[name], name) for name in FILTERS if name in filters}
        if filters.get("status", "open") not in ORDER_STATUSES:
            raise ShopifyError(400, {"status": ["is not included in the list"]})

    @classmethod
    def from_params(cls, resource: str, params: dict[str, str]) -> _Query:
        """The query of a first page (filters in the URL) or a later one (`page_info`)."""
        limit = min(MAX_LIMIT, _limit(params.get("limit")))
        token = params.get("page_info")
        if token is None:
            filters = {k: v for k, v in params.items() if k not in PAGING_PARAMS}
            return cls(resource, filters, limit, {})
        if set(params) - PAGING_PARAMS:
            # Shopify refuses filters beside page_info: the cursor already carries them.
            raise ShopifyError(400, {"page_info": ["cannot be combined with other parameters"]})
        try:
            cursor = json.loads(base64.urlsafe_b64decode(token.encode()))
        except ValueError:
            raise ShopifyError(400, {"page_info": ["is invalid"]}) from None
        if not isinstance(cursor, dict) or cursor.get("resource") != resource:
            raise ShopifyError(400, {"page_info": ["is invalid"]})
        return cls(resource, cursor["filters"], limit, cursor)

    def created_days(self, opened: date, today: date) -> tuple[date, date]:
        """The local days that can hold a record created inside the filters' window."""
        low, high = self.bounds.get("created_at_min"), self.bounds.get("created_at_max")
        # A day either side: the filter's offset need not be the shop's.
        first = max(opened, low.date() - timedelta(days=1)) if low else opened
        last = min(today, high.date() + timedelta(days=1)) if high else today
        return first, last

    def page(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """This page's records; sets the cursors of the pages before and after it."""
        kept = sorted((r for r in records if self._matches(r)), key=self._key)
        if self.descending:
            kept.reverse()
        if "after" in self.cursor:
            start = next(
                (i for i, r in enumerate(kept) if self._beyond(r, self.cursor["after"])), len(kept)
            )
        elif "before" in self.cursor:
            end = next(
                (
                    i
                    for i, r in enumerate(kept)
                    if not self._beyond(r, self.cursor["before"], before=True)
                ),
                len(kept),
            )
            start = max(0, end - self.limit)
        else:
            start = 0
        page = kept[start : start + self.limit]
        if page and start + self.limit < len(kept):
            self.next_token = self._token("after", page[-1])
        if page and start > 0:
            self.previous_token = self._token("before", page[0])
        return page

    def _beyond(self, record: dict[str, Any], key: list[Any], *, before: bool = False) -> bool:
        """True when `record` sorts after `key` (or before it, with `before`)."""
        mine, other = self._key(record), tuple(key)
        later = mine < other if self.descending else mine > other
        earlier = mine > other if self.descending else mine < other
        return earlier if before else later

    def _matches(self, record: dict[str, Any]) -> bool:
        for name, bound in self.bounds.items():
            value = datetime.fromisoformat(record[name.removesuffix("_min").removesuffix("_max")])
            if (value < bound) if name.endswith("_min") else (value > bound):
                return False
        return True

    def _key(self, record: dict[str, Any]) -> tuple[float, int]:
        if self.sort_field == "id":
            return (record["id"], record["id"])
        return (datetime.fromisoformat(record[self.sort_field]).timestamp(), record["id"])

    def _token(self, direction: str, record: dict[str, Any]) -> str:
        cursor = {"resource": self.resource, "filters": self.filters, direction: self._key(record)}
        return base64.urlsafe_b64encode(json.dumps(cursor, sort_keys=True).encode()).decode()


def _limit(value: str | None) -> int:
    if value is None:
        return DEFAULT_LIMIT
    if not value.isdigit() or int(value) < 1:
        raise ShopifyError(400, {"limit": ["must be a number between 1 and 250"]})
    return int(value)


def _instant(value: str, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ShopifyError(400, {name: ["is not a valid ISO 8601 timestamp"]}) from None
    if moment.tzinfo is None:
        raise ShopifyError(400, {name: ["needs a UTC offset, e.g. 2026-01-01T00:00:00-05:00"]})
    return moment
