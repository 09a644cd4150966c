"""Stripe API simulator on `api.stripe.com` (reference/connectors.md §1.8).

What it reproduces: `Authorization: Bearer <secret key>` (the key decides the account; a wrong
or expired one is 401 `Invalid API Key provided`); `GET /v1/{charges,refunds,invoices,customers,
subscriptions,events}` as `{"object": "list", "url", "has_more", "data"}`, newest first;
`limit` 1–100 (default 10; outside is 400 with `param: limit`), `starting_after` (an id not in
the list is 400 `resource_missing`), `created[gte|gt|lte|lt]`, `status` on subscriptions
(cancelled ones only with `status=all` or `canceled`), `types[]`/`type` on events, which are kept
30 days, the `FILTERS` of each list and `expand[]=data.<field>` (`EXPANDABLE`, and on
subscriptions `data.discounts`, `data.items.data.discounts`); any other
parameter is 400 `Received unknown parameter`, any other expansion 400 too; 429 `rate_limit`
(the throttle fault) and 500 `api_error` with `Stripe-Should-Retry: true` (the server-error
fault). Accounts are the registry's `stripe` connections.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from ownlay_pipelines.sandbox.credentials import sandbox_credential
from ownlay_pipelines.sandbox.faults import Fault, FaultDice, FaultPlan
from ownlay_pipelines.sandbox.stripe_billing import StripeAccountWorld
from ownlay_pipelines.sandbox.world import SandboxWorld

HOST = "api.stripe.com"
PATH = re.compile(r"^/v1/(?P<resource>charges|refunds|invoices|customers|subscriptions|events)$")
DEFAULT_LIMIT = 10
MAX_LIMIT = 100
CREATED_FILTERS = {
    "created[gte]": lambda created, bound: created >= bound,
    "created[gt]": lambda created, bound: created > bound,
    "created[lte]": lambda created, bound: created <= bound,
    "created[lt]": lambda created, bound: created < bound,
}
LIST_PARAMS = frozenset({"limit", "starting_after", "expand[]", *CREATED_FILTERS})
FILTERS = {
    "charges": {"customer": "customer"},
    "invoices": {"customer": "customer", "subscription": "subscription"},
    "subscriptions": {"customer": "customer", "status": None},
    "refunds": {"charge": "charge"},
    "customers": {},
    "events": {"type": None, "types[]": None},
}
"""The filters each list takes here (parameter → the field it must equal; None: handled apart).
Anything else is refused as Stripe refuses an unknown parameter."""
EXPANDABLE = {
    "charges": {"customer": "customers", "invoice": "invoices"},
    "invoices": {"customer": "customers", "subscription": "subscriptions"},
    "subscriptions": {"customer": "customers"},
    "refunds": {"charge": "charges"},
    "customers": {},
    "events": {},
}
"""`expand[]=data.<field>` replaces the id in `field` by the object from that list."""
DISCOUNT_EXPANSIONS = frozenset({"data.discounts", "data.items.data.discounts"})
"""On subscriptions, `expand[]` of these replaces each discount id by its Discount object."""
SUBSCRIPTION_STATUSES = frozenset(
    {
        "active",
        "past_due",
        "unpaid",
        "canceled",
        "incomplete",
        "incomplete_expired",
        "trialing",
        "paused",
        "all",
        "ended",
    }
)


class StripeError(Exception):
    """An error response: status, Stripe's error object, extra headers."""

    def __init__(self, status: int, error: dict[str, Any], headers: dict[str, str] | None = None):
        super().__init__(error.get("message", ""))
        self.status = status
        self.error = error
        self.headers = headers or {}


def invalid(message: str, param: str | None = None, code: str | None = None) -> StripeError:
    error: dict[str, Any] = {"type": "invalid_request_error", "message": message}
    if param:
        error["param"] = param
    if code:
        error["code"] = code
    return StripeError(400, error)


class StripeSimulator:
    """Every Stripe account of the registry's `stripe` connections, answered from the world."""

    platform = "stripe"
    host = HOST

    def __init__(self, world: SandboxWorld, faults: FaultPlan | None = None) -> None:
        self.world = world
        self.dice = FaultDice(faults or FaultPlan(), self.platform)
        self._accounts: dict[str, StripeAccountWorld] = {
            sandbox_credential("api_key", connection.account_id): StripeAccountWorld(
                world.seed, connection.account_id, workspace.currency, world.now
            )
            for workspace in world.registry.workspaces
            for connection in workspace.connections
            if connection.platform == self.platform
        }

    def use_faults(self, plan: FaultPlan) -> None:
        self.dice = FaultDice(plan, self.platform)

    def account(self, account_id: str) -> StripeAccountWorld:
        """The world of one account (tests read its ground truth)."""
        for account in self._accounts.values():
            if account.account_id == account_id:
                return account
        raise KeyError(account_id)

    def handle(self, request: httpx.Request) -> httpx.Response:
        try:
            match = PATH.fullmatch(request.url.path)
            account = self._authenticate(request)
            if match is None or request.method != "GET":
                raise invalid(
                    f"Unrecognized request URL ({request.method}: {request.url.path}).",
                    code="resource_missing",
                )
            if self.dice.roll(Fault.THROTTLE):
                raise StripeError(
                    429,
                    {
                        "type": "invalid_request_error",
                        "code": "rate_limit",
                        "message": "Request rate limit exceeded. Learn more about rate limits "
                        "here https://stripe.com/docs/rate-limits.",
                    },
                )
            if self.dice.roll(Fault.SERVER_ERROR):
                raise StripeError(
                    500,
                    {"type": "api_error", "message": "An unknown error occurred"},
                    {"Stripe-Should-Retry": "true"},
                )
            body = self._list(account, match["resource"], request)
            return httpx.Response(200, json=body, headers={"Request-Id": "req_sandbox"})
        except StripeError as error:
            return httpx.Response(
                error.status,
                json={"error": error.error},
                headers={"Request-Id": "req_sandbox", **error.headers},
            )

    def _authenticate(self, request: httpx.Request) -> StripeAccountWorld:
        header = request.headers.get("authorization", "")
        key = header.removeprefix("Bearer ").strip()
        account = self._accounts.get(key)
        if account is None or self.dice.token_expired():
            shown = f"{key[:7]}{'*' * 12}{key[-4:]}" if len(key) > 11 else "***"
            raise StripeError(
                401,
                {"type": "invalid_request_error", "message": f"Invalid API Key provided: {shown}"},
            )
        return account

    def _records(self, account: StripeAccountWorld, resource: str, params: httpx.QueryParams):
        if resource == "customers":
            return account.customers()
        if resource == "subscriptions":
            status = params.get("status")
            if status is not None and status not in SUBSCRIPTION_STATUSES:
                raise invalid(
                    f"Invalid status: must be one of {sorted(SUBSCRIPTION_STATUSES)}",
                    param="status",
                )
            subs = account.subscription_objects()
            if status in ("all",):
                return subs
            if status in ("canceled", "ended"):
                return [s for s in subs if s["status"] == "canceled"]
            if status:
                return [s for s in subs if s["status"] == status]
            return [s for s in subs if s["status"] != "canceled"]
        if resource == "events":
            types = params.get_list("types[]") or ([params["type"]] if "type" in params else [])
            events = account.events()
            return [e for e in events if not types or e["type"] in types]
        if resource == "refunds":
            return account.refunds()
        invoices, charges = account.invoices_and_charges()
        return invoices if resource == "invoices" else charges

    def _list(self, account: StripeAccountWorld, resource: str, request: httpx.Request) -> dict:
        params = request.url.params
        for name in params:
            if name not in LIST_PARAMS and name not in FILTERS[resource]:
                raise invalid(f"Received unknown parameter: {name}", param=name)
        try:
            limit = int(params.get("limit", DEFAULT_LIMIT))
        except ValueError as error:
            raise invalid("Invalid integer: limit", param="limit") from error
        if not 1 <= limit <= MAX_LIMIT:
            raise invalid(
                f"This value must be greater than 1 and less than or equal to {MAX_LIMIT}.",
                param="limit",
            )
        records = self._records(account, resource, params)
        for name, field in FILTERS[resource].items():
            if field is not None and name in params:
                records = [r for r in records if r.get(field) == params[name]]
        for name, keep in CREATED_FILTERS.items():
            if name in params:
                try:
                    bound = int(params[name])
                except ValueError as error:
                    raise invalid(f"Invalid integer: {params[name]}", param=name) from error
                records = [r for r in records if keep(r["created"], bound)]
        records.sort(key=lambda r: (r["created"], r["id"]), reverse=True)
        after = params.get("starting_after")
        if after is not None:
            ids = [r["id"] for r in records]
            if after not in ids:
                raise invalid(
                    f"No such object: '{after}'", param="starting_after", code="resource_missing"
                )
            records = records[ids.index(after) + 1 :]
        return {
            "object": "list",
            "url": f"/v1/{resource}",
            "has_more": len(records) > limit,
            "data": self._expanded(account, resource, records[:limit], params),
        }

    def _expanded(
        self,
        account: StripeAccountWorld,
        resource: str,
        records: list[dict[str, Any]],
        params: httpx.QueryParams,
    ) -> list[dict[str, Any]]:
        """`records` with each `expand[]=data.<field>` id replaced by its object."""
        for path in params.get_list("expand[]"):
            if resource == "subscriptions" and path in DISCOUNT_EXPANSIONS:
                records = [_discounts_expanded(r, path) for r in records]
                continue
            field = path.removeprefix("data.")
            target = EXPANDABLE[resource].get(field) if path.startswith("data.") else None
            if target is None:
                raise invalid(f"This property cannot be expanded ({path}).", param="expand")
            by_id = {o["id"]: o for o in self._records(account, target, httpx.QueryParams())}
            records = [
                {**r, field: by_id.get(r[field], r[field])} if r.get(field) else r for r in records
            ]
        return records


def _discounts_expanded(subscription: dict[str, Any], path: str) -> dict[str, Any]:
    """`subscription` with the discount ids at `path` replaced by their Discount objects (the
    sandbox redeems at most one coupon per subscription, its `discount`; items have none)."""
    if path == "data.items.data.discounts":
        return subscription
    legacy = subscription.get("discount")
    by_id = {legacy["id"]: legacy} if legacy else {}
    return {**subscription, "discounts": [by_id.get(d, d) for d in subscription["discounts"]]}
