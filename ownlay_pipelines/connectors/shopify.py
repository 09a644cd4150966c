"""Shopify Admin REST API: orders (by shop-local day), customers and products of a shop.

Wire facts (reference/connectors.md §1.7): header `X-Shopify-Access-Token`; list endpoints page
with a `Link: <…page_info=…>; rel="next"` header whose URL already carries the filters; orders
need `status=any` or closed and cancelled ones are left out; money is a decimal string in the shop
currency; timestamps carry the shop's UTC offset, so an order's shop-local day is the date in its
`created_at`; the REST bucket holds 40 calls and leaks 2 a second, reported on every response as
`X-Shopify-Shop-Api-Call-Limit: used/40`, and overflowing it is HTTP 429 with `Retry-After`.

Orders change for weeks (refunds, edits) and every change moves `updated_at`: a partition is one
shop-local order day, fetched in `updated_at` order so the newest version of an order wins, and
re-pulled for `ORDER_LOOKBACK_DAYS`; webhooks upsert the same rows in between
(`connectors/shopify_webhooks.py`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import timedelta
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from ownlay_pipelines.connectors.shopify_rows import (
    CUSTOMER_SCHEMA,
    ORDER_SCHEMA,
    PRODUCT_SCHEMA,
    normalise_customer,
    normalise_order,
    normalise_product,
)
from ownlay_pipelines.connectors.streams import (
    Cadence,
    Connector,
    FetchRequest,
    Partitioning,
    Record,
    StreamSpec,
)
from ownlay_pipelines.http.client import ApiClient
from ownlay_pipelines.http.errors import ApiError, FatalApiError, PermissionDenied
from ownlay_pipelines.http.pagination import LinkHeaderPaginator
from ownlay_pipelines.http.rate_limit import RateLimit
from ownlay_pipelines.http.responses import describe_response
from ownlay_pipelines.schema.platforms import Platform

API_VERSION = "2025-10"
PAGE_SIZE = 250
BUCKET_SIZE = 40
LEAK_PER_SECOND = 2.0
PAUSE_AT_SHARE = 0.9
"""Pause once the shared bucket is 90 % full (Airbyte's threshold), until it is half empty."""
ORDER_LOOKBACK_DAYS = 30
"""Refunds and edits keep changing orders for weeks; scheduled syncs re-pull this many days."""
CALL_LIMIT_HEADER = "x-shopify-shop-api-call-limit"


class ShopifyClient(ApiClient):
    """Admin REST client for one shop (`account_id` is its `<shop>.myshopify.com` subdomain)."""

    platform = Platform.SHOPIFY.value

    def __init__(self, *, access_token: str, account_id: str, **kwargs: Any) -> None:
        kwargs.setdefault("base_url", f"https://{account_id}.myshopify.com/admin/api/{API_VERSION}")
        super().__init__(account_id=account_id, **kwargs)
        self._access_token = access_token

    def auth_headers(self) -> dict[str, str]:
        return {"X-Shopify-Access-Token": self._access_token}

    def classify(self, response: httpx.Response) -> ApiError | None:
        where = {"status": response.status_code}
        if response.status_code == 402:
            return PermissionDenied(
                f"the shop is frozen (unpaid plan): {describe_response(response)}", **where
            )
        if response.status_code == 423:
            return PermissionDenied(f"the shop is locked: {describe_response(response)}", **where)
        if response.status_code == 404:
            return FatalApiError(
                f"no such shop or endpoint; check the shop subdomain {self.account_id!r}: "
                f"{describe_response(response)}",
                **where,
            )
        return super().classify(response)

    def observe(self, response: httpx.Response) -> float:
        """Seconds to wait so the shared call bucket drains to half before the next call."""
        used, size = _call_limit(response.headers.get(CALL_LIMIT_HEADER))
        if size == 0 or used < PAUSE_AT_SHARE * size:
            return 0.0
        return (used - size / 2) / LEAK_PER_SECOND

    @cached_property
    def shop(self) -> Mapping[str, Any]:
        """The shop's settings: `iana_timezone` decides an order's local day."""
        return self.request_json("GET", "shop.json")["shop"]

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(str(self.shop["iana_timezone"]))

    def listing(self, resource: str, params: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
        """Every `resource` record matching `params`, following the Link header."""
        first_page = {"limit": PAGE_SIZE, **params}
        for page in LinkHeaderPaginator().pages(self, "GET", f"{resource}.json", params=first_page):
            yield from page.get(resource, [])


def _call_limit(value: str | None) -> tuple[int, int]:
    """(used, size) from `X-Shopify-Shop-Api-Call-Limit: 32/40`; (0, 0) when absent or garbled."""
    used, _, size = (value or "").partition("/")
    if not (used.strip().isdigit() and size.strip().isdigit()):
        return 0, 0
    return int(used), int(size)


def _fetch_orders(client: ApiClient, request: FetchRequest) -> Iterator[Record]:
    assert isinstance(client, ShopifyClient) and request.date_range is not None
    start, end = request.date_range.bounds_in(client.zone)
    params = {
        "status": "any",
        "created_at_min": start.isoformat(),
        "created_at_max": (end - timedelta(seconds=1)).isoformat(),
        # Oldest change first: when a page repeats an order, the later (newer) copy is kept.
        "order": "updated_at asc",
    }
    yield from client.listing("orders", params)


def _entity_fetcher(resource: str):
    def fetch(client: ApiClient, request: FetchRequest) -> Iterator[Record]:
        assert isinstance(client, ShopifyClient)
        yield from client.listing(resource, {"order": "updated_at asc"})

    return fetch


STREAMS: tuple[StreamSpec, ...] = (
    StreamSpec(
        platform=Platform.SHOPIFY,
        table="orders",
        description="One row per Shopify order, filed under the shop-local day it was placed: "
        "gross total, refunds so far, customer, landing-page UTMs (money in the shop currency).",
        partitioning=Partitioning.DATE_AND_WORKSPACE,
        cadence=Cadence.HOURLY,
        schema=ORDER_SCHEMA,
        primary_key=("account_id", "order_id"),
        fetch=_fetch_orders,
        normalise=normalise_order,
        restatement_lookback_days=ORDER_LOOKBACK_DAYS,
        wire_date_path="created_at",
    ),
    StreamSpec(
        platform=Platform.SHOPIFY,
        table="customers",
        description="One row per Shopify customer: lifetime order count and amount spent "
        "(e-mail not stored).",
        partitioning=Partitioning.WORKSPACE,
        cadence=Cadence.HOURLY,
        schema=CUSTOMER_SCHEMA,
        primary_key=("account_id", "customer_id"),
        fetch=_entity_fetcher("customers"),
        normalise=normalise_customer,
    ),
    StreamSpec(
        platform=Platform.SHOPIFY,
        table="products",
        description="One row per Shopify product: type, status and its variants' price range.",
        partitioning=Partitioning.WORKSPACE,
        cadence=Cadence.EVERY_6_HOURS,
        schema=PRODUCT_SCHEMA,
        primary_key=("account_id", "product_id"),
        fetch=_entity_fetcher("products"),
        normalise=normalise_product,
    ),
)


def build_client(*, credentials: Mapping[str, str], **client_options: Any) -> ShopifyClient:
    """A client for one shop; `credentials` holds the resolved Admin API `access_token`."""
    return ShopifyClient(access_token=credentials["access_token"], **client_options)


CONNECTOR = Connector(
    platform=Platform.SHOPIFY,
    build_client=build_client,
    # The REST leaky bucket: 40 calls, draining 2 per second (seed 000: 2 calls/second).
    rate_limits=(RateLimit(requests=BUCKET_SIZE, per_seconds=BUCKET_SIZE / LEAK_PER_SECOND),),
    streams=STREAMS,
    credential_names=("access_token",),
)
