"""Each MRR convention (docs/architecture.md, "MRR conventions") against a hand computation,
from Stripe's wire objects through the connector's normalisers to the mart's daily rows.

Times are 17:00 UTC (noon in the workspace's America/New_York), so a day is the same day in
both zones.
"""

from __future__ import annotations

import itertools
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from ownlay_pipelines.billing.mrr import MrrDay, mrr_days
from ownlay_pipelines.connectors import stripe
from ownlay_pipelines.connectors.streams import FetchRequest
from ownlay_pipelines.connectors.stripe_rows import (
    amount,
    normalise_customer,
    normalise_subscription,
    normalise_subscription_event,
    state_from_row,
)
from ownlay_pipelines.connectors.wire_values import RowError
from ownlay_pipelines.models.mrr import subscription_states
from ownlay_pipelines.registry.workspaces import load_registry
from ownlay_pipelines.settings import DEFAULT_REGISTRY_FILE

D = Decimal


@pytest.fixture(scope="module")
def request_():
    workspace = load_registry(DEFAULT_REGISTRY_FILE).get("acme-outdoor")
    [connection] = workspace.connections_for(stripe.Platform.STRIPE)
    return FetchRequest(workspace, connection, None)


def at(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, 17, tzinfo=UTC).timestamp())


def jan(d: int) -> date:
    return date(2026, 1, d)


FIRST_OF_JANUARY = jan(1)
EVENT_IDS = itertools.count(1)


def item(unit_amount=5000, interval="month", count=1, quantity: int | None = 1, **price):
    return {
        "object": "subscription_item",
        "quantity": quantity,
        "price": {
            "object": "price",
            "unit_amount": unit_amount,
            "billing_scheme": "per_unit",
            "recurring": {"interval": interval, "interval_count": count, "usage_type": "licensed"},
            **price,
        },
    }


def subscription(
    *items: dict[str, Any],
    sub_id="sub_1",
    customer="cus_A",
    status="active",
    start=FIRST_OF_JANUARY,
    currency="usd",
    coupon: dict[str, Any] | None = None,
    discount_end: date | None = None,
    **fields: Any,
) -> dict[str, Any]:
    discount = None
    if coupon is not None:
        discount = {
            "object": "discount",
            "start": at(start),
            "end": at(discount_end) if discount_end else None,
            "coupon": {"object": "coupon", "percent_off": None, "amount_off": None, **coupon},
        }
    return {
        "id": sub_id,
        "object": "subscription",
        "customer": customer,
        "currency": currency,
        "status": status,
        "created": at(start),
        "start_date": at(start),
        "canceled_at": None,
        "ended_at": None,
        "trial_end": None,
        "cancel_at_period_end": False,
        "items": {"object": "list", "data": list(items or [item()]), "has_more": False},
        "discount": discount,
        **fields,
    }


def event(kind: str, day: date, obj: dict[str, Any], previous=None) -> dict:
    data: dict[str, Any] = {"object": obj}
    if previous is not None:
        data["previous_attributes"] = previous
    return {
        "id": f"evt_{next(EVENT_IDS)}",
        "object": "event",
        "type": f"customer.subscription.{kind}",
        "created": at(day),
        "data": data,
    }


def mart(request_, snapshots, events, days, customers=()) -> list[MrrDay]:
    subs = [normalise_subscription(s, request_) for s in snapshots]
    rows = [normalise_subscription_event(e, request_) for e in events]
    people = [normalise_customer(c, request_) for c in customers]
    states = subscription_states(subs, rows, zone=request_.workspace.zone, customers=people)
    return mrr_days(states, days)


def mrr_on(request_, obj) -> Decimal:
    day = jan(20)
    [row] = [r for r in mart(request_, [obj], [], [day]) if r.currency == obj["currency"].upper()]
    return row.mrr


def movements(rows: list[MrrDay]) -> list[tuple]:
    return [
        (r.day.day, r.mrr, r.new, r.expansion, r.contraction, r.churned, r.reactivation)
        for r in rows
    ]


# --- Normalising one subscription to a month -------------------------------------------------


@pytest.mark.parametrize(
    ("the_item", "expected"),
    [
        # 12.00 a week: 52 weeks in a year / 12 months → 12 × 52 / 12 = 52.00 (not × 4.33 = 51.96).
        (item(1200, "week"), "52"),
        # 1,200.00 a year / 12 = 100.00.
        (item(120000, "year"), "100"),
        # 90.00 every 3 months / 3 = 30.00.
        (item(9000, "month", 3), "30"),
        # 7 seats × 10.00 = 70.00.
        (item(1000, quantity=7), "70"),
        # 2.00 a day × 365 / 12 = 60.833333…
        (item(200, "day"), "60.833333"),
        # Sub-cent price: unit_amount_decimal "0.5" cents × 1,000 units = 5.00.
        (item(None, quantity=1000, unit_amount_decimal="0.5"), "5"),
        # A quantity of 0 is 0, not 1.
        (item(1000, quantity=0), "0"),
        # Package pricing: 12 seats in packs of 5 at 10.00 a pack, rounded up: 3 packs = 30.00.
        (item(1000, quantity=12, transform_quantity={"divide_by": 5, "round": "up"}), "30"),
        # … rounded down: 2 packs = 20.00.
        (item(1000, quantity=12, transform_quantity={"divide_by": 5, "round": "down"}), "20"),
    ],
)
def test_each_billing_period_and_quantity_normalises_to_a_month(request_, the_item, expected):
    assert mrr_on(request_, subscription(the_item)) == D(expected)


def test_metered_items_are_left_out_and_several_items_add_up(request_):
    metered = item(3, quantity=None)
    metered["price"]["recurring"]["usage_type"] = "metered"
    # 50.00 monthly base + 1,200.00 yearly add-on (100.00) + metered 0.03 per call (not MRR).
    obj = subscription(item(5000), item(120000, "year"), metered)
    assert mrr_on(request_, obj) == D(150)


def test_tiered_prices_are_refused_naming_the_field(request_):
    tiered = item(None, billing_scheme="tiered")
    with pytest.raises(RowError, match=r"items\.data\[0\]\.price\.billing_scheme.*tiered"):
        normalise_subscription(subscription(tiered), request_)


def test_minor_units_follow_the_currency(request_):
    # ¥1,000 is `1000` (zero-decimal), 12.345 KWD is `12345` (three decimals), $10 is `1000`.
    assert mrr_on(request_, subscription(item(1000), currency="jpy")) == D(1000)
    assert mrr_on(request_, subscription(item(12345), currency="kwd")) == D("12.345")
    assert mrr_on(request_, subscription(item(1000), currency="usd")) == D(10)
    # ISK is zero-decimal in ISO 4217 but Stripe sends it with two decimals (500 = 5 ISK).
    assert amount(500, "ISK", "amount") == D(5)
    # A ¥500 amount_off coupon on a ¥3,000 plan: 3,000 − 500 = 2,500 (not 3,000 − 5).
    obj = subscription(
        item(3000), currency="jpy", coupon={"duration": "forever", "amount_off": 500}
    )
    obj["discount"]["coupon"]["currency"] = "jpy"
    assert mrr_on(request_, obj) == D(2500)


# --- Discounts -------------------------------------------------------------------------------


def test_forever_coupons_percent_and_amount_off(request_):
    # 20 % off forever on 50.00 a month: 50 × 0.8 = 40.00.
    assert mrr_on(
        request_, subscription(item(5000), coupon={"duration": "forever", "percent_off": 20})
    ) == D(40)
    # 10.00 off forever on 50.00 a month: 40.00.
    assert mrr_on(
        request_, subscription(item(5000), coupon={"duration": "forever", "amount_off": 1000})
    ) == D(40)
    # 10.00 off each yearly invoice of 600.00: (600 − 10) / 12 = 49.166667.
    assert mrr_on(
        request_,
        subscription(item(60000, "year"), coupon={"duration": "forever", "amount_off": 1000}),
    ) == D("49.166667")
    # A once coupon only touches the first invoice: MRR stays 50.00.
    assert mrr_on(
        request_, subscription(item(5000), coupon={"duration": "once", "percent_off": 100})
    ) == D(50)


def test_a_repeating_coupon_ending_mid_month_is_expansion_on_its_end_day(request_):
    # 50.00 a month from Jan 1 with 10.00 off for 1 month; Stripe says the discount ends Jan 15
    # (its `end`, set e.g. when the coupon was applied mid-cycle). MRR 40.00 until Jan 14,
    # 50.00 from Jan 15: +10.00 expansion on Jan 15.
    obj = subscription(
        item(5000),
        coupon={"duration": "repeating", "amount_off": 1000, "duration_in_months": 1},
        discount_end=jan(15),
    )
    rows = mart(request_, [obj], [], [jan(14), jan(15), jan(16)])
    assert movements(rows) == [
        (14, D(40), 0, 0, 0, 0, 0),
        (15, D(50), 0, D(10), 0, 0, 0),
        (16, D(50), 0, 0, 0, 0, 0),
    ]


# --- Movements -------------------------------------------------------------------------------


def test_upgrade_and_downgrade_mid_month_are_expansion_and_contraction(request_):
    two = subscription(item(5000, quantity=2))
    five = subscription(item(5000, quantity=5))
    one = subscription(item(5000, quantity=1))
    events = [
        event("created", jan(1), two),
        # Jan 12: 2 → 5 seats of 50.00: 100.00 → 250.00, +150.00 expansion.
        event("updated", jan(12), five, {"items": two["items"]}),
        # Jan 20: 5 → 1 seat: 250.00 → 50.00, 200.00 contraction.
        event("updated", jan(20), one, {"items": five["items"]}),
    ]
    rows = mart(request_, [one], events, [jan(1), jan(12), jan(20)])
    assert movements(rows) == [
        (1, D(100), D(100), 0, 0, 0, 0),
        (12, D(250), 0, D(150), 0, 0, 0),
        (20, D(50), 0, 0, D(200), 0, 0),
    ]


def test_cancel_at_period_end_churns_on_the_day_it_ends_not_the_day_it_was_requested(request_):
    live = subscription(item(3000))
    requested = subscription(item(3000), cancel_at_period_end=True, canceled_at=at(jan(10)))
    ended = subscription(
        item(3000),
        status="canceled",
        cancel_at_period_end=True,
        canceled_at=at(jan(10)),
        ended_at=at(jan(31)),
    )
    events = [
        event("created", jan(1), live),
        event("updated", jan(10), requested, {"cancel_at_period_end": False}),
        event("deleted", jan(31), ended, {"status": "active"}),
    ]
    rows = mart(request_, [ended], events, [jan(10), jan(30), jan(31)])
    # 30.00 counts through Jan 30 and is churned on Jan 31, when the period ends.
    assert movements(rows) == [
        (10, D(30), 0, 0, 0, 0, 0),
        (30, D(30), 0, 0, 0, 0, 0),
        (31, D(0), 0, 0, 0, D(30), 0),
    ]


def test_a_customer_back_after_churn_is_reactivation_not_new(request_):
    first = subscription(item(2000), status="canceled", canceled_at=at(jan(5)), ended_at=at(jan(5)))
    again = subscription(item(4000), sub_id="sub_2", start=jan(9))
    rows = mart(request_, [first, again], [], [jan(1), jan(5), jan(9)])
    # Jan 1: 20.00 new; Jan 5: 20.00 churned; Jan 9: 40.00 reactivation (they paid before).
    assert movements(rows) == [
        (1, D(20), D(20), 0, 0, 0, 0),
        (5, D(0), 0, 0, 0, D(20), 0),
        (9, D(40), 0, 0, 0, 0, D(40)),
    ]


def test_a_second_subscription_of_a_paying_customer_is_expansion(request_):
    a = subscription(item(2000))
    b = subscription(item(1500), sub_id="sub_2", start=jan(3))
    rows = mart(request_, [a, b], [], [jan(3)])
    assert movements(rows) == [(3, D(35), 0, D(15), 0, 0, 0)]


def test_trial_counts_nothing_until_it_converts_then_new(request_):
    trialing = subscription(item(9900), status="trialing", trial_end=at(jan(15)))
    active = subscription(item(9900), trial_end=at(jan(15)))
    events = [
        event("created", jan(1), trialing),
        event("updated", jan(15), active, {"status": "trialing"}),
    ]
    rows = mart(request_, [active], events, [jan(1), jan(14), jan(15)])
    assert movements(rows) == [
        (1, D(0), 0, 0, 0, 0, 0),
        (14, D(0), 0, 0, 0, 0, 0),
        (15, D("99"), D("99"), 0, 0, 0, 0),
    ]


def test_a_trial_older_than_the_retained_events_still_starts_paying_at_trial_end(request_):
    # Only the snapshot is left (events are kept 30 days): trial Jan 1–14, paying from Jan 15.
    active = subscription(item(9900), trial_end=at(jan(15)))
    rows = mart(request_, [active], [], [jan(14), jan(15)])
    assert movements(rows) == [(14, D(0), 0, 0, 0, 0, 0), (15, D(99), D(99), 0, 0, 0, 0)]
    # Ended during its trial: it never counted, so there is nothing to churn either.
    ended = subscription(item(9900), status="canceled", trial_end=at(jan(15)), ended_at=at(jan(10)))
    assert [r.mrr for r in mart(request_, [ended], [], [jan(5), jan(10)])] == [0, 0]


def test_past_due_still_counts_and_unpaid_is_churn(request_):
    live = subscription(item(5000))
    past_due = subscription(item(5000), status="past_due")
    unpaid = subscription(item(5000), status="unpaid")
    events = [
        event("created", jan(1), live),
        event("updated", jan(8), past_due, {"status": "active"}),
        event("updated", jan(22), unpaid, {"status": "past_due"}),
    ]
    rows = mart(request_, [unpaid], events, [jan(8), jan(21), jan(22)])
    # past_due keeps its 50.00 (the customer is still billed); unpaid drops it as churn.
    assert movements(rows) == [
        (8, D(50), 0, 0, 0, 0, 0),
        (21, D(50), 0, 0, 0, 0, 0),
        (22, D(0), 0, 0, 0, D(50), 0),
    ]


def test_a_price_or_coupon_in_another_currency_uses_its_currency_options_or_is_refused(request_):
    # A USD price of 29.00 with a ¥4,000 option, on a JPY subscription: ¥4,000 (not ¥2,900).
    multi = item(2900, currency="usd", currency_options={"jpy": {"unit_amount": 4000}})
    assert mrr_on(request_, subscription(multi, currency="jpy")) == D(4000)
    # Without the option the row is refused, never read as ¥2,900.
    with pytest.raises(RowError, match=r"price\.currency.*USD.*JPY"):
        normalise_subscription(subscription(item(2900, currency="usd"), currency="jpy"), request_)
    # A 5.00 USD amount_off coupon with a ¥700 option on a ¥4,000 plan: ¥3,300.
    coupon = {
        "duration": "forever",
        "amount_off": 500,
        "currency": "usd",
        "currency_options": {"jpy": {"amount_off": 700}},
    }
    obj = subscription(item(4000, currency="jpy"), currency="jpy", coupon=coupon)
    assert mrr_on(request_, obj) == D(3300)


def test_a_trial_whose_created_event_expired_converts_on_its_update_day(request_):
    # Created trialing on Jan 1 (that event is gone), converted on Jan 15: only the update is
    # left, and its previous_attributes say it was trialing. 99.00 is new on Jan 15, not Jan 1.
    active = subscription(item(9900), trial_end=at(jan(15)))
    events = [event("updated", jan(15), active, {"status": "trialing"})]
    rows = mart(request_, [active], events, [jan(1), jan(15)])
    assert movements(rows) == [(1, D(0), 0, 0, 0, 0, 0), (15, D(99), D(99), 0, 0, 0, 0)]


# --- Stackable discounts (`discounts`, Stripe API 2024+) ---------------------------------------


def discount_object(discount_id: str, start=FIRST_OF_JANUARY, **coupon: Any) -> dict[str, Any]:
    """An expanded Discount object (what `expand[]=discounts` returns in place of its id)."""
    return {
        "id": discount_id,
        "object": "discount",
        "start": at(start),
        "end": None,
        "coupon": {"object": "coupon", "percent_off": None, "amount_off": None, **coupon},
    }


def test_discount_ids_that_cannot_be_resolved_are_refused_not_dropped(request_):
    # A 2024+ event: the coupon arrives only as the id `di_1` (events are never expanded).
    # Dropping it would report 50.00 instead of the discounted figure, so the row is refused,
    # naming the field and the id.
    obj = subscription(item(5000), discounts=["di_1"])
    with pytest.raises(RowError, match=r"discounts\[0\].*di_1.*not expanded"):
        normalise_subscription_event(event("created", jan(1), obj), request_)
    on_item = {**item(5000), "discounts": ["di_2"]}
    with pytest.raises(RowError, match=r"items\.data\[0\]\.discounts\[0\].*di_2"):
        normalise_subscription(subscription(on_item), request_)


def test_expanded_discounts_stack_in_order_item_discounts_first(request_):
    # Item A 100.00 with its own 10 % off, item B 50.00; on the subscription 20 % off, then
    # 5.00 off, both forever. Item first: A = 100 × 0.9 = 90; sum 90 + 50 = 140; then in order
    # 140 × 0.8 = 112, 112 − 5 = 107.00 (not 150 × (1 − 0.1 − 0.2) − 5).
    a = {
        **item(10000),
        "discounts": [discount_object("di_item", duration="forever", percent_off=10)],
    }
    obj = subscription(
        a,
        item(5000),
        discounts=[
            discount_object("di_pct", duration="forever", percent_off=20),
            discount_object("di_amt", duration="forever", amount_off=500),
        ],
    )
    assert mrr_on(request_, obj) == D(107)
    row = normalise_subscription_event(event("created", jan(20), obj), request_)
    assert row["mrr"] == D(107)


def test_a_once_discount_in_the_stack_is_skipped_and_the_rest_still_applies(request_):
    # 60.00 a month; 50 % once (first invoice only, not MRR) then 10.00 off forever: 50.00.
    obj = subscription(
        item(6000),
        discounts=[
            discount_object("di_once", duration="once", percent_off=50),
            discount_object("di_ten", duration="forever", amount_off=1000),
        ],
    )
    assert mrr_on(request_, obj) == D(50)


def test_the_legacy_discount_resolves_its_own_id_and_is_not_counted_twice(request_):
    # API 2022-11-15 sends both: `discount` (expanded) and `discounts: ["di_1"]`, the same one.
    # 20 % off 50.00 once applied = 40.00 (twice would be 32.00); the id needs no lookup.
    obj = subscription(item(5000), coupon={"duration": "forever", "percent_off": 20})
    obj["discount"]["id"] = "di_1"
    obj["discounts"] = ["di_1"]
    assert mrr_on(request_, obj) == D(40)


def test_rows_written_before_stackable_discounts_still_rebuild_their_discount():
    # A lake row from before `discounts`: one `discount` object in state_json. 20 % off 50.00.
    legacy = {
        "trial_end": None,
        "items": [{"unit_amount": "50", "interval": "month", "interval_count": 1, "quantity": 1}],
        "discount": {
            "duration": "forever",
            "start": "2026-01-01",
            "percent_off": "20",
            "amount_off": None,
            "duration_in_months": None,
            "end": None,
        },
    }
    row = {
        "subscription_id": "sub_1",
        "customer_id": "cus_A",
        "currency": "USD",
        "status": "active",
        "state_json": json.dumps(legacy),
    }
    assert state_from_row(row, jan(1)).monthly_amount(jan(20)) == D(40)


def test_a_discount_from_api_2025_09_30_reads_its_coupon_from_source(request_):
    # Since 2025-09-30 a Discount holds its coupon in `source.coupon`: 25 % off 80.00 = 60.00.
    clover = discount_object("di_1", duration="forever", percent_off=25)
    clover["source"] = {"type": "coupon", "coupon": clover.pop("coupon")}
    assert mrr_on(request_, subscription(item(8000), discounts=[clover])) == D(60)
    # Its coupon as a bare id cannot be applied: refused, naming the field.
    clover["source"]["coupon"] = "SUMMER25"
    with pytest.raises(RowError, match=r"discounts\[0\]\.source\.coupon.*SUMMER25"):
        normalise_subscription(subscription(item(8000), discounts=[clover]), request_)


# --- Customer-level coupons --------------------------------------------------------------------


def customer(customer_id="cus_A", currency="usd", discount=None) -> dict[str, Any]:
    return {
        "id": customer_id,
        "object": "customer",
        "created": at(FIRST_OF_JANUARY),
        "email": None,
        "currency": currency,
        "delinquent": False,
        "discount": discount,
    }


def test_a_customer_coupon_applies_to_each_subscription_without_its_own(request_):
    # Customer A holds 10 % off forever. sub_1 (50.00, no discount) takes it: 45.00. sub_2
    # (100.00) has its own 20 % off, which overrides the customer's: 80.00, not 72.00.
    # Customer B (30.00) has no coupon: 30.00. Total 45 + 80 + 30 = 155.00.
    tenth = discount_object("di_cus", duration="forever", percent_off=10)
    own = discount_object("di_sub", duration="forever", percent_off=20)
    subs = [
        subscription(item(5000)),
        subscription(item(10000), sub_id="sub_2", discounts=[own]),
        subscription(item(3000), sub_id="sub_3", customer="cus_B"),
    ]
    people = [customer(discount=tenth), customer("cus_B")]
    [row] = mart(request_, subs, [], [jan(20)], people)
    assert row.mrr == D(155)
    # Without the customers rows the coupon is unknown: 50 + 80 + 30 = 160.00.
    assert mart(request_, subs, [], [jan(20)])[0].mrr == D(160)


def test_a_customer_amount_off_coupon_is_per_invoice_and_in_its_currency(request_):
    # 12.00 off each invoice of a customer billed in USD, on a yearly 600.00 plan:
    # (600 − 12) / 12 = 49.00 a month.
    twelve = discount_object("di_cus", duration="forever", amount_off=1200, currency="usd")
    subs = [subscription(item(60000, "year"))]
    [row] = mart(request_, subs, [], [jan(20)], [customer(discount=twelve)])
    assert row.mrr == D(49)
    # A 12.00 EUR coupon (no USD option) cannot come off a USD subscription: refused, naming
    # both, rather than subtracting euros from dollars.
    euros = discount_object("di_cus", duration="forever", amount_off=1200, currency="eur")
    with pytest.raises(ValueError, match=r"cus_A.*EUR.*sub_1.*USD"):
        mart(request_, subs, [], [jan(20)], [customer(currency="eur", discount=euros)])


# --- Tax ---------------------------------------------------------------------------------------


def tax_rate(percentage, inclusive=True) -> dict[str, Any]:
    return {"object": "tax_rate", "percentage": percentage, "inclusive": inclusive, "active": True}


def test_inclusive_tax_rates_are_taken_out_because_mrr_excludes_tax(request_):
    # 120.00 a month with a 20 % VAT rate included in it: 120 / 1.2 = 100.00 of MRR.
    vat = {**item(12000), "tax_rates": [tax_rate(20)]}
    assert mrr_on(request_, subscription(vat)) == D(100)
    # The subscription's default rates apply to items without their own: 119.00 with 19 %
    # included = 100.00; an item's own exclusive 10 % overrides the default and is added on
    # top of the price, so its 50.00 stays 50.00. Total 150.00.
    own = {**item(5000), "tax_rates": [tax_rate(10, inclusive=False)]}
    obj = subscription(item(11900), own, default_tax_rates=[tax_rate(19)])
    assert mrr_on(request_, obj) == D(150)
    # An inclusive price under Stripe Tax (`automatic_tax`) carries no rate: counted as set.
    auto = subscription(item(12000, tax_behavior="inclusive"), automatic_tax={"enabled": True})
    assert mrr_on(request_, auto) == D(120)


def test_a_tax_rate_sent_as_an_id_is_refused_naming_the_field(request_):
    obj = subscription({**item(12000), "tax_rates": ["txr_1"]})
    with pytest.raises(RowError, match=r"items\.data\[0\]\.tax_rates\[0\].*txr_1"):
        normalise_subscription(obj, request_)


def test_a_deleted_customers_coupon_no_longer_applies(request_):
    # A `customer.deleted` event leaves the customers row marked deleted (until the next
    # snapshot drops it): its 10 % coupon is not applied, 50.00 rather than 45.00.
    tenth = discount_object("di_cus", duration="forever", percent_off=10)
    gone = {**customer(discount=tenth), "deleted": True}
    [row] = mart(request_, [subscription(item(5000))], [], [jan(20)], [gone])
    assert row.mrr == D(50)
