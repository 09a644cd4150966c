"""Stripe API (api.stripe.com/v1): charges, refunds, invoices, customers, subscriptions and the
subscription change events the MRR mart replays.

Wire facts (reference/connectors.md §1.8): `Authorization: Bearer sk_…` and a pinned
`Stripe-Version`; lists are `{"object": "list", "data": […], "has_more": …}`, newest first, paged
with `starting_after=<last id>` (`limit` ≤ 100); the only server-side window is `created[gte]` /
`created[lt]` (Unix seconds). Errors are `{"error": {"type", "code", "message", "param"}}`; 429
(`rate_limit`, also `lock_timeout` on 409) is retried, after its `Retry-After` when sent;
`Stripe-Should-Retry: true|false` overrides the status (a 429 with `false` is not retried); 401
is a revoked or wrong key, 403 a restricted key without this resource.

Incremental strategy: charges, refunds and invoices are filed under their creation day
(workspace timezone) and each partition is a `created` window; objects keep changing (refunds,
disputes, payments), so scheduled syncs re-pull `RESTATEMENT_DAYS` — the 30 days Stripe keeps
events. The events table itself re-pulls only `EVENT_RESTATEMENT_DAYS` (28): re-pulling a day
whose morning Stripe has already dropped would replace its partition with the afternoon's
events alone, and a lost `deleted` event leaves a subscription paying forever. Updates are read
from `/v1/events`: `customer.subscription.*` here (the MRR history: each event holds the
subscription as it was right after the change), and the later changes of charges, refunds and
invoices by `stripe_events.py`, merged like webhooks. Customers and subscriptions
(`status=all`, or cancelled ones are left out; discounts expanded, since API versions from 2023
list them by id) are snapshots replaced on every sync.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import httpx

from ownlay_pipelines.connectors import stripe_rows as rows
from ownlay_pipelines.connectors.streams import (
    Cadence,
    Connector,
    FetchRequest,
    Partitioning,
    Record,
    StreamSpec,
)
from ownlay_pipelines.connectors.stripe_discounts import DISCOUNT_EXPANSIONS, DiscountLookup
from ownlay_pipelines.http.client import ApiClient
from ownlay_pipelines.http.errors import (
    ApiError,
    AuthExpired,
    FatalApiError,
    PermissionDenied,
    RateLimited,
    TransientError,
)
from ownlay_pipelines.http.pagination import StartingAfterPaginator
from ownlay_pipelines.http.rate_limit import RateLimit
from ownlay_pipelines.http.responses import describe_response, error_object
from ownlay_pipelines.http.retry import retry_after_seconds
from ownlay_pipelines.schema.platforms import Platform

BASE_URL = "https://api.stripe.com/v1"
API_VERSION = "2022-11-15"
PAGE_SIZE = 100
RESTATEMENT_DAYS = 30
EVENT_RETENTION_DAYS = 30
EVENT_RESTATEMENT_DAYS = EVENT_RETENTION_DAYS - 2
"""The oldest re-pulled day starts at most 29 days ago, a day clear of Stripe's retention."""
SUBSCRIPTION_EVENT_TYPES = (
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
)


class StripeClient(ApiClient):
    """One Stripe account (`account_id` is its `acct_…` id; the key decides which account)."""

    platform = Platform.STRIPE.value

    def __init__(self, *, api_key: str, account_id: str, **kwargs: Any) -> None:
        kwargs.setdefault("base_url", BASE_URL)
        super().__init__(account_id=account_id, **kwargs)
        # A key pasted into a secret store often keeps its newline; it is no part of the key.
        self._api_key = api_key.strip()

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_key}", "Stripe-Version": API_VERSION}

    def classify(self, response: httpx.Response) -> ApiError | None:
        if response.is_success:
            return None
        error = error_object(response) or {}
        status = response.status_code
        code = str(error.get("code") or error.get("type") or status)
        message = str(error.get("message") or describe_response(response))
        if error.get("param"):
            # The request field Stripe refused (`starting_after` for an object deleted between
            # pages, `limit` out of range): the message alone does not always name it.
            message = f"{message} (param {error['param']})"
        where = {"status": status, "code": code}
        if status == 401:
            return AuthExpired(f"{message}; the secret key was rolled or is wrong", **where)
        if status == 403:
            return PermissionDenied(f"{message}; give the restricted key read access", **where)
        # Stripe's own verdict wins over the status, a 429 included (stripe-python checks
        # `Stripe-Should-Retry` before anything else).
        should_retry = response.headers.get("stripe-should-retry")
        if should_retry == "false":
            return FatalApiError(f"{message} (Stripe-Should-Retry: false)", **where)
        if status == 429 or code in ("rate_limit", "lock_timeout"):
            wait_seconds = retry_after_seconds(
                response.headers.get("retry-after"), self.clock.now()
            )
            return RateLimited(message, wait_seconds=wait_seconds, **where)
        if should_retry == "true" or status == 409 or status >= 500:
            return TransientError(message, **where)
        return FatalApiError(message, **where)

    def listing(self, resource: str, params: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
        """Every object of `resource` matching `params`, following `has_more`/`starting_after`."""
        first_page = {"limit": PAGE_SIZE, **params}
        for page in StartingAfterPaginator().pages(self, "GET", resource, params=first_page):
            yield from page.get("data", [])


def created_window(request: FetchRequest) -> dict[str, int]:
    """`created[gte]`/`created[lt]` covering the request's days in the workspace timezone."""
    assert request.date_range is not None
    start, end = request.date_range.bounds_in(request.workspace.zone)
    return {"created[gte]": int(start.timestamp()), "created[lt]": int(end.timestamp())}


def _dated(resource: str, extra: Mapping[str, Any] | None = None):
    def fetch(client: ApiClient, request: FetchRequest) -> Iterator[Record]:
        assert isinstance(client, StripeClient)
        yield from client.listing(resource, {**created_window(request), **(extra or {})})

    return fetch


def _snapshot(resource: str, extra: Mapping[str, Any] | None = None):
    def fetch(client: ApiClient, request: FetchRequest) -> Iterator[Record]:
        assert isinstance(client, StripeClient)
        yield from client.listing(resource, dict(extra or {}))

    return fetch


def _subscription_events(client: ApiClient, request: FetchRequest) -> Iterator[Record]:
    """The window's subscription events, their discount ids resolved (`stripe_discounts.py`:
    an event's object cannot be expanded, so the ids are looked up in the subscriptions list)."""
    assert isinstance(client, StripeClient)
    lookup = DiscountLookup(client)
    params = {**created_window(request), "types[]": list(SUBSCRIPTION_EVENT_TYPES)}
    for event in client.listing("events", params):
        yield lookup.event_expanded(event)


def _dated_stream(
    table: str,
    description: str,
    schema,
    key: str,
    fetch,
    normalise,
    lookback_days: int = RESTATEMENT_DAYS,
) -> StreamSpec:
    return StreamSpec(
        platform=Platform.STRIPE,
        table=table,
        description=description,
        partitioning=Partitioning.DATE_AND_WORKSPACE,
        cadence=Cadence.HOURLY,
        schema=schema,
        primary_key=("account_id", key),
        fetch=fetch,
        normalise=normalise,
        restatement_lookback_days=lookback_days,
        wire_date_path="created",
    )


STREAMS: tuple[StreamSpec, ...] = (
    _dated_stream(
        "charges",
        "One row per Stripe charge, filed under its creation day (workspace timezone): amount "
        "and amount refunded so far in major units, status, customer, invoice.",
        rows.CHARGE_SCHEMA,
        "charge_id",
        _dated("charges"),
        rows.normalise_charge,
    ),
    _dated_stream(
        "refunds",
        "One row per Stripe refund, filed under its creation day: amount, charge, status, reason.",
        rows.REFUND_SCHEMA,
        "refund_id",
        _dated("refunds"),
        rows.normalise_refund,
    ),
    _dated_stream(
        "invoices",
        "One row per Stripe invoice, filed under its creation day: subtotal, total, paid and due "
        "amounts, subscription, billing period; is_deleted for a draft an invoice.deleted event "
        "removed.",
        rows.INVOICE_SCHEMA,
        "invoice_id",
        _dated("invoices"),
        rows.normalise_invoice,
    ),
    _dated_stream(
        "subscription_events",
        "One row per customer.subscription.* event, filed under its day: the subscription's "
        "status, items and discount right after the change, and its MRR then.",
        rows.SUBSCRIPTION_EVENT_SCHEMA,
        "event_id",
        _subscription_events,
        rows.normalise_subscription_event,
        lookback_days=EVENT_RESTATEMENT_DAYS,
    ),
    StreamSpec(
        platform=Platform.STRIPE,
        table="customers",
        description="One row per Stripe customer: created, currency, delinquent, its own coupon "
        "(applied to its subscriptions without one in the MRR mart); the e-mail only as a keyed "
        "HMAC pseudonym; is_deleted once a customer.deleted event arrived (until the next "
        "snapshot drops the row).",
        partitioning=Partitioning.WORKSPACE,
        cadence=Cadence.HOURLY,
        schema=rows.CUSTOMER_SCHEMA,
        primary_key=("account_id", "customer_id"),
        fetch=_snapshot("customers"),
        normalise=rows.normalise_customer,
    ),
    StreamSpec(
        platform=Platform.STRIPE,
        table="subscriptions",
        description="One row per Stripe subscription (every status): start, cancel and end "
        "times, items and discount, and its MRR today.",
        partitioning=Partitioning.WORKSPACE,
        cadence=Cadence.HOURLY,
        schema=rows.SUBSCRIPTION_SCHEMA,
        primary_key=("account_id", "subscription_id"),
        fetch=_snapshot("subscriptions", {"status": "all", "expand[]": DISCOUNT_EXPANSIONS}),
        normalise=rows.normalise_subscription,
    ),
)


def build_client(*, credentials: Mapping[str, str], **client_options: Any) -> StripeClient:
    """A client for one account; `credentials` holds the resolved secret `api_key`."""
    return StripeClient(api_key=credentials["api_key"], **client_options)


CONNECTOR = Connector(
    platform=Platform.STRIPE,
    build_client=build_client,
    # Live mode allows 100 read requests a second; test mode 25 (reference/connectors.md §1.8).
    rate_limits=(RateLimit(requests=25, per_seconds=1.0),),
    streams=STREAMS,
    credential_names=("api_key",),
)
