"""Stripe against its simulator: paging, windows, errors, PII, and MRR ground truth."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from ownlay_pipelines.billing.mrr import mrr_days
from ownlay_pipelines.connectors import stripe
from ownlay_pipelines.connectors.streams import FetchRequest
from ownlay_pipelines.connectors.stripe_rows import state_from_row
from ownlay_pipelines.http.clock import FakeClock
from ownlay_pipelines.http.errors import AuthExpired, FatalApiError, RetryBudgetExhausted
from ownlay_pipelines.privacy.keyed_hash import PII_HASH_KEY_ENV
from ownlay_pipelines.registry.workspaces import load_registry
from ownlay_pipelines.sandbox.credentials import sandbox_credential
from ownlay_pipelines.sandbox.faults import FaultPlan, PlatformFaults
from ownlay_pipelines.sandbox.stripe import StripeSimulator
from ownlay_pipelines.sandbox.world import SandboxWorld
from ownlay_pipelines.schema.date_range import DateRange
from ownlay_pipelines.settings import DEFAULT_REGISTRY_FILE

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
ACCOUNT = "acct_1AcmeOutdoor"


@pytest.fixture(scope="module")
def world():
    return SandboxWorld(load_registry(DEFAULT_REGISTRY_FILE), seed=7, now=NOW)


def client(world, faults=None, key=None):
    simulator = StripeSimulator(world, faults)
    return simulator, stripe.StripeClient(
        api_key=key or sandbox_credential("api_key", ACCOUNT),
        account_id=ACCOUNT,
        transport=httpx.MockTransport(simulator.handle),
        clock=FakeClock(NOW),
    )


def request(world, start=None, end=None):
    workspace = world.registry.get("acme-outdoor")
    [connection] = workspace.connections_for(stripe.Platform.STRIPE)
    window = DateRange(start, end) if start else None
    return FetchRequest(workspace, connection, window)


def test_lists_page_with_starting_after_until_has_more_is_false(world):
    simulator, api = client(world)
    everything = simulator.account(ACCOUNT).subscription_objects()
    got = list(api.listing("subscriptions", {"status": "all", "limit": 7}))
    assert sorted(s["id"] for s in got) == sorted(s["id"] for s in everything)
    assert len(got) > 7  # more than one page
    assert api.stats.pages == -(-len(got) // 7) or api.stats.pages >= 2
    active = list(api.listing("subscriptions", {}))
    assert all(s["status"] != "canceled" for s in active)


def test_created_windows_select_the_workspace_local_days(world):
    simulator, api = client(world)
    req = request(world, date(2026, 11, 1), date(2026, 11, 10))
    charges = list(stripe.STREAMS[0].fetch(api, req))
    assert charges
    rows = [stripe.STREAMS[0].normalise(c, req) for c in charges]
    assert {r["report_date"] for r in rows} <= {date(2026, 11, d) for d in range(1, 11)}
    _, all_charges = simulator.account(ACCOUNT).invoices_and_charges()
    window = stripe.created_window(req)
    expected = [
        c for c in all_charges if window["created[gte]"] <= c["created"] < window["created[lt]"]
    ]
    assert sorted(c["id"] for c in charges) == sorted(c["id"] for c in expected)
    assert rows[0]["amount"] == rows[0]["amount"].quantize(__import__("decimal").Decimal("0.01"))


def test_errors_map_to_the_taxonomy(world):
    _, bad_key = client(world, key="sk_test_wrong_key_000000")
    with pytest.raises(AuthExpired, match=r"Invalid API Key provided: sk_test\*+0000"):
        list(bad_key.listing("charges", {}))
    # A key pasted with its newline: a header value with one is refused by real HTTP stacks.
    _, pasted = client(world, key=sandbox_credential("api_key", ACCOUNT) + "\n")
    key = sandbox_credential("api_key", ACCOUNT)
    assert pasted.auth_headers()["Authorization"] == f"Bearer {key}"
    _, api = client(world)
    with pytest.raises(FatalApiError, match=r"must be greater than 1.* \(param limit\)"):
        list(api.listing("charges", {"limit": 500}))
    # A cursor object deleted between two pages: Stripe names the refused parameter.
    with pytest.raises(FatalApiError, match=r"resource_missing.*\(param starting_after\)"):
        list(api.listing("charges", {"starting_after": "ch_deleted_meanwhile"}))
    throttled = FaultPlan(faults={"stripe": PlatformFaults(throttle_rate=1.0)})
    _, api = client(world, throttled)
    with pytest.raises(RetryBudgetExhausted):
        list(api.listing("charges", {}))
    assert api.stats.throttled >= 1


def test_transient_faults_are_retried_to_the_same_rows(world):
    flaky = FaultPlan(
        faults={"stripe": PlatformFaults(server_error_rate=0.3, throttle_rate=0.2)}, seed=3
    )
    _, clean = client(world)
    _, api = client(world, flaky)
    assert [c["id"] for c in api.listing("charges", {})] == [
        c["id"] for c in clean.listing("charges", {})
    ]
    assert api.stats.retries > 0


def test_customer_emails_are_stored_only_as_keyed_hashes(world, monkeypatch):
    monkeypatch.setenv(PII_HASH_KEY_ENV, "k" * 40)

    _, api = client(world)
    req = request(world)
    spec = next(s for s in stripe.STREAMS if s.table == "customers")
    rows = [spec.normalise(c, req) for c in spec.fetch(api, req)]
    assert rows and all(len(r["email_hash"]) == 64 for r in rows)
    assert all("@" not in str(v) for r in rows for v in r.values())


def test_mrr_from_the_synced_subscriptions_and_events_matches_the_world(world):
    simulator, api = client(world)
    req = request(world)
    subs_spec = next(s for s in stripe.STREAMS if s.table == "subscriptions")
    events_spec = next(s for s in stripe.STREAMS if s.table == "subscription_events")
    subscriptions = [subs_spec.normalise(s, req) for s in subs_spec.fetch(api, req)]
    window = request(world, (NOW - timedelta(days=40)).date(), NOW.date())
    events = [events_spec.normalise(e, window) for e in events_spec.fetch(api, window)]
    assert {e["type"] for e in events} >= {
        "customer.subscription.created",
        "customer.subscription.updated",
    }
    truth = simulator.account(ACCOUNT).states(req.workspace.zone)
    days = [NOW.date() - timedelta(days=d) for d in range(0, 25)]
    from ownlay_pipelines.models.mrr import subscription_states

    synced = subscription_states(subscriptions, events, zone=req.workspace.zone)
    expected = [(r.day, r.mrr) for r in mrr_days(truth, days)]
    got = [(r.day, r.mrr) for r in mrr_days(synced, days)]
    assert got == expected
    assert any(r.mrr > 0 for r in mrr_days(synced, days))
    assert (
        state_from_row(subscriptions[0], date(2026, 1, 1)).subscription_id
        == subscriptions[0]["subscription_id"]
    )


def _without_legacy_discount(value):
    """A response body as API versions from 2025-03-31 send it: subscriptions have no single
    `discount`, only `discounts` (ids unless expanded)."""
    if isinstance(value, list):
        return [_without_legacy_discount(v) for v in value]
    if isinstance(value, dict):
        return {
            k: _without_legacy_discount(v)
            for k, v in value.items()
            if not (k == "discount" and value.get("object") == "subscription")
        }
    return value


def test_discount_ids_without_the_legacy_discount_are_expanded_or_looked_up(world):
    simulator = StripeSimulator(world)

    def modern(request: httpx.Request) -> httpx.Response:
        response = simulator.handle(request)
        return httpx.Response(response.status_code, json=_without_legacy_discount(response.json()))

    api = stripe.StripeClient(
        api_key=sandbox_credential("api_key", ACCOUNT),
        account_id=ACCOUNT,
        transport=httpx.MockTransport(modern),
        clock=FakeClock(NOW),
    )
    req = request(world)
    window = request(world, (NOW - timedelta(days=40)).date(), NOW.date())
    subs_spec = next(s for s in stripe.STREAMS if s.table == "subscriptions")
    events_spec = next(s for s in stripe.STREAMS if s.table == "subscription_events")
    raw_events = list(api.listing("events", {"types[]": ["customer.subscription.created"]}))
    # The wire really holds bare ids here: an event's object is never expanded.
    assert any(
        e["data"]["object"]["discounts"] and isinstance(e["data"]["object"]["discounts"][0], str)
        for e in raw_events
    )
    # The snapshot asks for the Discount objects; events resolve theirs through the same list.
    subscriptions = [subs_spec.normalise(s, req) for s in subs_spec.fetch(api, req)]
    events = [events_spec.normalise(e, window) for e in events_spec.fetch(api, window)]
    assert any('"percent_off": "25' in e["state_json"] for e in events)
    from ownlay_pipelines.models.mrr import subscription_states

    days = [NOW.date() - timedelta(days=d) for d in range(0, 25)]
    truth = mrr_days(simulator.account(ACCOUNT).states(req.workspace.zone), days)
    synced = mrr_days(subscription_states(subscriptions, events, zone=req.workspace.zone), days)
    assert [(r.day, r.mrr) for r in synced] == [(r.day, r.mrr) for r in truth]


def test_the_mrr_mart_rebuilt_from_the_lake_matches_the_world(world, tmp_path, monkeypatch):
    from contextlib import contextmanager

    from ownlay_pipelines.connectors.sync import sync_stream
    from ownlay_pipelines.models.mrr import compute_mrr_daily

    monkeypatch.setenv(PII_HASH_KEY_ENV, "k" * 40)
    simulator, api = client(world)
    workspace = world.registry.get("acme-outdoor")

    @contextmanager
    def open_client(connection):
        yield api

    days = [NOW.date() - timedelta(days=d) for d in range(35, -1, -1)]
    for table in ("customers", "subscriptions", "subscription_events"):
        spec = next(s for s in stripe.STREAMS if s.table == table)
        result = sync_stream(
            spec, workspace=workspace, open_client=open_client, lake_root=tmp_path, days=days
        )
        assert result.quarantined == 0
    mart = compute_mrr_daily(tmp_path, workspace.id, workspace.zone, days[-20:]).to_pylist()
    truth = mrr_days(simulator.account(ACCOUNT).states(workspace.zone), days[-20:])
    assert [(r["report_date"], r["mrr"], r["new_mrr"], r["churned_mrr"]) for r in mart] == [
        (t.day, t.mrr, t.new, t.churned) for t in truth
    ]
    assert {r["currency"] for r in mart} == {"USD"}


@pytest.mark.parametrize(("currency", "zone"), [("JPY", "Asia/Tokyo"), ("KWD", "Asia/Kuwait")])
def test_a_zero_or_three_decimal_account_agrees_with_the_world_in_major_units(
    world, currency, zone
):
    from zoneinfo import ZoneInfo

    from ownlay_pipelines.models.mrr import subscription_states
    from ownlay_pipelines.sandbox.stripe_billing import StripeAccountWorld

    account = StripeAccountWorld(7, "acct_1Minor", currency, NOW)
    workspace = world.registry.get("acme-outdoor").model_copy(
        update={"timezone": zone, "currency": currency}
    )
    [connection] = workspace.connections_for(stripe.Platform.STRIPE)
    req = FetchRequest(workspace, connection, None)
    subs_spec = next(s for s in stripe.STREAMS if s.table == "subscriptions")
    rows = [subs_spec.normalise(s, req) for s in account.subscription_objects()]
    today = NOW.astimezone(ZoneInfo(zone)).date()
    [truth] = mrr_days(account.states(ZoneInfo(zone)), [today])
    [synced] = mrr_days(subscription_states(rows, [], zone=ZoneInfo(zone)), [today])
    assert (synced.currency, synced.mrr) == (truth.currency, truth.mrr) == (currency, truth.mrr)
    # The 29 USD Starter plan is 29 × 150 = ¥4,350 (wire `4350`) and 29 × 0.31 = 8.990 KWD
    # (wire `8990`, three decimals, a multiple of 10 as Stripe requires).
    starter = {"JPY": 4350, "KWD": 8990}[currency]
    prices = {
        i["price"]["unit_amount"]
        for s in account.subscription_objects()
        for i in s["items"]["data"]
    }
    assert starter in prices
    assert all(p % 10 == 0 for p in prices) or currency == "JPY"


def _stripe_error(status, code, headers):
    return httpx.Response(
        status,
        json={"error": {"type": "invalid_request_error", "code": code, "message": "slow down"}},
        headers=headers,
        request=httpx.Request("GET", "https://api.stripe.com/v1/charges"),
    )


def test_a_429_waits_its_retry_after_and_stripe_should_retry_false_overrides_it(world):
    from ownlay_pipelines.http.errors import RateLimited

    _, api = client(world)
    waited = api.classify(_stripe_error(429, "rate_limit", {"Retry-After": "3"}))
    assert isinstance(waited, RateLimited) and waited.wait_seconds == 3
    refused = api.classify(_stripe_error(429, "rate_limit", {"Stripe-Should-Retry": "false"}))
    assert isinstance(refused, FatalApiError) and "Stripe-Should-Retry: false" in str(refused)
    # A 409 lock_timeout is a rate limit too; an idempotency 409 Stripe says not to retry is not.
    assert isinstance(api.classify(_stripe_error(409, "lock_timeout", {})), RateLimited)
    conflict = _stripe_error(409, "idempotency_key_in_use", {"Stripe-Should-Retry": "false"})
    assert isinstance(api.classify(conflict), FatalApiError)


@pytest.mark.parametrize("local_time", ["00:01", "12:00", "23:59"])
def test_scheduled_event_re_pulls_never_reach_a_day_stripe_has_partly_dropped(local_time):
    from zoneinfo import ZoneInfo

    from ownlay_pipelines.orchestration.plan import restatement_window

    spec = next(s for s in stripe.STREAMS if s.table == "subscription_events")
    zone = ZoneInfo("America/New_York")
    now = datetime.fromisoformat(f"2026-11-30T{local_time}").replace(tzinfo=zone)
    window = restatement_window(spec, now.date(), date(2024, 1, 1))
    oldest_start = datetime.combine(window.start, datetime.min.time(), zone)
    # Every event of the oldest re-pulled day is still inside Stripe's 30 days, with a day spare.
    assert now - oldest_start <= timedelta(days=stripe.EVENT_RETENTION_DAYS - 1)


def test_expand_gives_objects_the_normaliser_reads_and_unknown_parameters_are_refused(world):
    _, api = client(world)
    req = request(world)
    [charge] = list(api.listing("charges", {"expand[]": "data.customer", "limit": 1}))[:1]
    assert charge["customer"]["object"] == "customer"
    row = stripe.STREAMS[0].normalise(charge, req)
    assert row["customer_id"] == charge["customer"]["id"]
    mine = list(api.listing("invoices", {"customer": row["customer_id"]}))
    assert mine and {i["customer"] for i in mine} == {row["customer_id"]}
    with pytest.raises(FatalApiError, match="Received unknown parameter: updated"):
        list(api.listing("charges", {"updated[gte]": 1}))
    with pytest.raises(FatalApiError, match=r"cannot be expanded \(data.balance"):
        list(api.listing("charges", {"expand[]": "data.balance_transaction"}))


@pytest.mark.parametrize(
    ("currency", "wire", "expected"),
    [
        ("jpy", 1000, "1000"),  # zero-decimal: ¥1,000, not ¥10
        ("krw", 55000, "55000"),
        ("kwd", 12340, "12.340"),  # three decimals: /1000
        ("bhd", 500, "0.500"),
        ("usd", 1999, "19.99"),
        ("huf", 150000, "1500.00"),  # Stripe sends HUF with two decimals
    ],
)
def test_charges_refunds_and_invoices_convert_minor_units_per_currency(
    world, currency, wire, expected
):
    from decimal import Decimal

    from ownlay_pipelines.connectors import stripe_rows

    req = request(world)
    created = int(NOW.timestamp())
    charge = {"id": "ch_1", "amount": wire, "amount_refunded": wire, "currency": currency}
    refund = {"id": "re_1", "amount": wire, "currency": currency, "charge": "ch_1"}
    invoice = {"id": "in_1", "currency": currency, "subtotal": wire, "total": wire}
    invoice |= {"amount_paid": wire, "amount_due": 0}
    rows = [
        stripe_rows.normalise_charge({**charge, "created": created}, req),
        stripe_rows.normalise_refund({**refund, "created": created}, req),
        stripe_rows.normalise_invoice({**invoice, "created": created}, req),
    ]
    amounts = [rows[0]["amount"], rows[0]["amount_refunded"], rows[1]["amount"]]
    amounts += [rows[2]["subtotal"], rows[2]["total"], rows[2]["amount_paid"]]
    assert amounts == [Decimal(expected)] * 6
    assert {r["currency"] for r in rows} == {currency.upper()}


def test_a_discount_id_the_lookup_cannot_find_stays_an_id_and_the_row_is_refused(world):
    from ownlay_pipelines.connectors.stripe_discounts import DiscountLookup
    from ownlay_pipelines.connectors.stripe_rows import normalise_subscription_event
    from ownlay_pipelines.connectors.wire_values import RowError

    calls = []
    ten_off = {"id": "di_live", "object": "discount", "start": 1767286800, "end": None}
    ten_off["coupon"] = {"duration": "forever", "percent_off": 10, "amount_off": None}

    class Subscriptions:
        def listing(self, resource, params):
            calls.append((resource, params))
            yield {"id": "sub_1", "discounts": [ten_off], "items": {"data": []}}

    lookup = DiscountLookup(Subscriptions())
    plain = {"id": "sub_2", "discounts": [], "items": {"data": [{"discounts": []}]}}
    assert lookup.expanded(plain) is plain and calls == []  # nothing to resolve, no request
    obj = {
        "id": "sub_1",
        "object": "subscription",
        "customer": "cus_A",
        "currency": "usd",
        "status": "active",
        "items": {
            "data": [
                {"quantity": 1, "price": {"unit_amount": 5000, "recurring": {"interval": "month"}}}
            ]
        },
        "discounts": ["di_live"],
    }
    # The update removed `di_gone`: it is only in previous_attributes, and nowhere to look up.
    event = {
        "id": "evt_1",
        "type": "customer.subscription.updated",
        "created": 1767286800,
        "data": {"object": obj, "previous_attributes": {"discounts": ["di_gone", "di_live"]}},
    }
    resolved = lookup.event_expanded(event)
    assert resolved["data"]["object"]["discounts"] == [ten_off]
    assert resolved["data"]["previous_attributes"]["discounts"] == ["di_gone", ten_off]
    assert calls == [("subscriptions", {"status": "all", "expand[]": stripe.DISCOUNT_EXPANSIONS})]
    with pytest.raises(RowError, match=r"discounts\[0\].*di_gone"):
        normalise_subscription_event(resolved, request(world))
