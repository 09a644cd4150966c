"""MRR normalisation and movements against a hand computation."""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal

import pytest

from ownlay_pipelines.billing.mrr import (
    Discount,
    DiscountDuration,
    PriceItem,
    SubscriptionState,
    add_months,
    mrr_days,
)

D = Decimal


def state(sub, customer, day, *items, status="active", discount=None, currency="USD"):
    discounts = () if discount is None else (discount,)
    return SubscriptionState(sub, customer, currency, status, tuple(items), day, discounts)


def item(amount, interval="month", count=1, quantity=1):
    return PriceItem(D(amount), interval, count, quantity)


@pytest.mark.parametrize(
    ("price", "expected"),
    [
        (item("50", quantity=2), "100"),
        (item("1200", "year"), "100"),
        (item("2400", "year", count=2), "100"),
        (item("30", "week", count=2), "65"),  # 30 every 2 weeks = 30 × 52 / 24
        (item("1", "day"), "30.416667"),  # 365 / 12
        (item("90", "month", count=3), "30"),
    ],
)
def test_each_interval_normalises_to_a_monthly_amount(price, expected):
    assert state("s", "c", date(2026, 1, 1), price).monthly_amount(date(2026, 1, 1)) == D(expected)


def test_discounts_percent_amount_once_and_repeating():
    day = date(2026, 1, 15)
    forever = Discount(DiscountDuration.FOREVER, day, percent_off=D(25))
    assert state("s", "c", day, item("1200", "year"), discount=forever).monthly_amount(day) == D(75)
    amount_off = Discount(DiscountDuration.FOREVER, day, amount_off=D("0.5"))
    # 0.50 off each daily invoice is 0.5 × 365 / 12 a month; 30.416667 − 15.208333.
    assert state("s", "c", day, item("1", "day"), discount=amount_off).monthly_amount(day) == D(
        "15.208333"
    )
    once = Discount(DiscountDuration.ONCE, day, percent_off=D(100))
    assert state("s", "c", day, item("40"), discount=once).monthly_amount(day) == D(40)
    repeating = Discount(DiscountDuration.REPEATING, day, percent_off=D(50), duration_in_months=2)
    with_repeating = state("s", "c", day, item("40"), discount=repeating)
    assert with_repeating.monthly_amount(date(2026, 3, 14)) == D(20)
    assert with_repeating.monthly_amount(date(2026, 3, 15)) == D(40)
    too_much = Discount(DiscountDuration.FOREVER, day, amount_off=D(100))
    assert state("s", "c", day, item("40"), discount=too_much).monthly_amount(day) == D(0)
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)


def test_trialing_and_canceled_count_zero_and_bad_intervals_are_refused():
    day = date(2026, 1, 1)
    assert state("s", "c", day, item("40"), status="trialing").monthly_amount(day) == 0
    with pytest.raises(ValueError, match="interval 'fortnight'"):
        state("s", "c", day, item("40", "fortnight")).monthly_amount(day)


def test_movements_match_a_hand_computation():
    jan = lambda d: date(2026, 1, d)  # noqa: E731
    states = [
        # A: 2 seats × 50 from Jan 1, 3 seats on Jan 3, 1 seat on Jan 5.
        state("a1", "A", jan(1), item("50", quantity=2)),
        state("a1", "A", jan(3), item("50", quantity=3)),
        state("a1", "A", jan(5), item("50", quantity=1)),
        # B: 1200 a year with 25 % off forever from Jan 2 → 75.
        state(
            "b1",
            "B",
            jan(2),
            item("1200", "year"),
            discount=Discount(DiscountDuration.FOREVER, jan(2), percent_off=D(25)),
        ),
        # C: 30 every two weeks (65) from Jan 1, canceled Jan 4, a new 20 monthly plan Jan 6.
        state("c1", "C", jan(1), item("30", "week", count=2)),
        state("c1", "C", jan(4), item("30", "week", count=2), status="canceled"),
        state("c2", "C", jan(6), item("20")),
        # D: 1 a day with 0.50 off every invoice → 15.208333, from Jan 1.
        state(
            "d1",
            "D",
            jan(1),
            item("1", "day"),
            discount=Discount(DiscountDuration.FOREVER, jan(1), amount_off=D("0.5")),
        ),
        # E: trialing, never counts.
        state("e1", "E", jan(1), item("99"), status="trialing"),
    ]
    rows = mrr_days(states, [jan(d) for d in range(1, 7)])
    got = [
        (
            r.day.day,
            r.mrr,
            r.new,
            r.expansion,
            r.contraction,
            r.churned,
            r.reactivation,
            r.paying_customers,
        )
        for r in rows
    ]
    assert got == [
        (1, D("180.208333"), D("180.208333"), 0, 0, 0, 0, 3),
        (2, D("255.208333"), D("75"), 0, 0, 0, 0, 4),
        (3, D("305.208333"), 0, D("50"), 0, 0, 0, 4),
        (4, D("240.208333"), 0, 0, 0, D("65"), 0, 3),
        (5, D("140.208333"), 0, 0, D("100"), 0, 0, 3),
        (6, D("160.208333"), 0, 0, 0, 0, D("20"), 4),
    ]
    for before, after in itertools.pairwise(rows):
        assert after.mrr == (
            before.mrr
            + after.new
            + after.reactivation
            + after.expansion
            - after.contraction
            - after.churned
        )


def test_currencies_are_kept_apart():
    rows = mrr_days(
        [
            state("x", "X", date(2026, 1, 1), item("10")),
            state("y", "Y", date(2026, 1, 1), item("1000"), currency="JPY"),
        ],
        [date(2026, 1, 1)],
    )
    assert [(r.currency, r.mrr, r.new) for r in rows] == [("JPY", 1000, 1000), ("USD", 10, 10)]
