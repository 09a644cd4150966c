"""MRR per workspace, currency and day, and its movements, from subscription states over time.

**Monthly amount of a subscription** (what it would bill per month if nothing changed): for each
item, `unit_amount × quantity` normalised by its billing period — `month`: ÷ interval_count;
`year`: ÷ (12 × interval_count); `week`: × 52 / 12 ÷ interval_count; `day`: × 365 / 12 ÷
interval_count — summed over items. Discounts in force that day apply one after another, each to what the one
before left (Stripe stacks them so): an item's own discounts to its amount first, then the
subscription's to the sum, in Stripe's order. `percent_off` multiplies by (1 − p/100);
`amount_off` (per invoice) is normalised by the item's period (the first item's, for a
subscription discount) like a price and subtracted, never below zero. Discounts with `duration = once`
touch only the first invoice and are ignored, as MRR tools (ChartMogul, Baremetrics) do;
`repeating` ones apply until Stripe's `discount.end` (else `duration_in_months` from their
start). Only `active` and `past_due` subscriptions count; `trialing`, `incomplete`, `unpaid`,
`paused` and `canceled` count zero. Metered items never reach this model (the connector leaves
them out). Amounts are kept exact to six decimal places. Every convention and its published
reference: docs/architecture.md, "Stripe, Mailchimp and MRR".

**Movements** compare each customer's MRR (all their subscriptions in one currency) with the
day before: from zero to positive is **new** when the customer never had MRR before, else
**reactivation**; positive to zero is **churned** (reported as a positive amount lost); up is
**expansion**, down is **contraction**. So `mrr(d) = mrr(d−1) + new + reactivation + expansion
− contraction − churned` holds every day.
"""

from __future__ import annotations

import calendar
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum

SIX_PLACES = Decimal("0.000001")
COUNTING_STATUSES = frozenset({"active", "past_due"})
MONTHS_PER_PERIOD = {
    "day": Decimal(12) / Decimal(365),
    "week": Decimal(12) / Decimal(52),
    "month": Decimal(1),
    "year": Decimal(12),
}
"""How many months one billing period of each interval lasts."""


class DiscountDuration(StrEnum):
    FOREVER = "forever"
    ONCE = "once"
    REPEATING = "repeating"


@dataclass(frozen=True)
class Discount:
    """A coupon on a subscription: percent or amount off, how long, from when."""

    duration: DiscountDuration
    start: date
    percent_off: Decimal | None = None
    amount_off: Decimal | None = None
    duration_in_months: int | None = None
    end: date | None = None
    """The first day without the discount (Stripe's `discount.end`, set for `repeating`)."""

    def in_force(self, day: date) -> bool:
        if self.duration is DiscountDuration.ONCE or day < self.start:
            return False
        if self.duration is DiscountDuration.REPEATING:
            end = self.end or add_months(self.start, self.duration_in_months or 0)
            return day < end
        return True


def apply_discounts(
    amount: Decimal, discounts: Iterable[Discount], day: date, months_per_period: Decimal
) -> Decimal:
    """`amount` (per month) after each discount in force on `day`, in order, each taking from
    what the previous ones left and none below zero; an `amount_off` is per invoice, so it is
    divided by the months one invoice covers (`months_per_period`)."""
    for discount in discounts:
        if not discount.in_force(day):
            continue
        if discount.percent_off is not None:
            amount *= 1 - discount.percent_off / 100
        if discount.amount_off is not None:
            amount -= discount.amount_off / months_per_period
        amount = max(amount, Decimal(0))
    return amount


@dataclass(frozen=True)
class PriceItem:
    """One subscription item: price per period (major units), billing interval, quantity, and
    the discounts on this item alone (Stripe's `items.data[].discounts`), in Stripe's order."""

    unit_amount: Decimal
    interval: str
    interval_count: int
    quantity: int
    discounts: tuple[Discount, ...] = ()

    def months_per_period(self) -> Decimal:
        if self.interval not in MONTHS_PER_PERIOD:
            raise ValueError(f"interval {self.interval!r} is not day, week, month or year")
        if self.interval_count < 1:
            raise ValueError(f"interval_count must be at least 1, not {self.interval_count}")
        return MONTHS_PER_PERIOD[self.interval] * self.interval_count

    def monthly_amount(self, day: date) -> Decimal:
        """The item's amount per month on `day`, after its own discounts in force that day."""
        gross = self.unit_amount * self.quantity / self.months_per_period()
        return apply_discounts(gross, self.discounts, day, self.months_per_period())


def add_months(day: date, months: int) -> date:
    """The same day `months` later, clamped to the month's last day (Jan 31 + 1 → Feb 28)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class SubscriptionState:
    """A subscription as it was from `valid_from` (a day) until its next state."""

    subscription_id: str
    customer_id: str
    currency: str
    status: str
    items: tuple[PriceItem, ...]
    valid_from: date
    discounts: tuple[Discount, ...] = ()
    """The subscription-level discounts, in Stripe's order (after each item's own)."""

    def monthly_amount(self, day: date) -> Decimal:
        """This state's MRR on `day` (zero unless active or past due)."""
        if self.status not in COUNTING_STATUSES or not self.items:
            return Decimal(0)
        total = sum((item.monthly_amount(day) for item in self.items), Decimal(0))
        period = self.items[0].months_per_period()
        return apply_discounts(total, self.discounts, day, period).quantize(SIX_PLACES)


@dataclass(frozen=True)
class MrrDay:
    """One row of the MRR mart: a currency's MRR on a day and how it moved since the day before."""

    day: date
    currency: str
    mrr: Decimal
    new: Decimal
    expansion: Decimal
    contraction: Decimal
    churned: Decimal
    reactivation: Decimal
    paying_customers: int


def histories(states: Iterable[SubscriptionState]) -> list[list[SubscriptionState]]:
    """Each subscription's states, oldest first (the last of a day wins: the sort is stable)."""
    by_subscription: dict[str, list[SubscriptionState]] = defaultdict(list)
    for state in states:
        by_subscription[state.subscription_id].append(state)
    return [sorted(h, key=lambda s: s.valid_from) for h in by_subscription.values()]


def customer_mrr(
    subscription_histories: Sequence[Sequence[SubscriptionState]], day: date
) -> dict[tuple[str, str], Decimal]:
    """(currency, customer) → MRR on `day` from every subscription's state in force that day."""
    totals: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for history in subscription_histories:
        index = bisect_right(history, day, key=lambda s: s.valid_from)
        if index:
            state = history[index - 1]
            amount = state.monthly_amount(day)
            if amount:
                totals[(state.currency, state.customer_id)] += amount
    return dict(totals)


def mrr_days(states: Sequence[SubscriptionState], days: Sequence[date]) -> list[MrrDay]:
    """MRR and movements for each of `days` (and each currency seen), oldest first.

    History before the first day is replayed from the earliest state so "new" and
    "reactivation" are told apart correctly.
    """
    if not states or not days:
        return []
    first = min(s.valid_from for s in states)
    wanted = set(days)
    last = max(days)
    currencies = sorted({s.currency for s in states})
    subscription_histories = histories(states)
    ever_paid: set[tuple[str, str]] = set()
    previous: dict[tuple[str, str], Decimal] = {}
    rows: list[MrrDay] = []
    day = min(first, min(days))
    while day <= last:
        current = customer_mrr(subscription_histories, day)
        if day in wanted:
            rows.extend(_movements(day, currencies, previous, current, ever_paid))
        ever_paid.update(key for key, amount in current.items() if amount > 0)
        previous = current
        day += timedelta(days=1)
    return rows


def _movements(
    day: date,
    currencies: Sequence[str],
    previous: dict[tuple[str, str], Decimal],
    current: dict[tuple[str, str], Decimal],
    ever_paid: set[tuple[str, str]],
) -> list[MrrDay]:
    sums: dict[str, dict[str, Decimal]] = {c: defaultdict(Decimal) for c in currencies}
    for key in set(previous) | set(current):
        before, now = previous.get(key, Decimal(0)), current.get(key, Decimal(0))
        bucket = sums[key[0]]
        if before == 0 and now > 0:
            bucket["reactivation" if key in ever_paid else "new"] += now
        elif before > 0 and now == 0:
            bucket["churned"] += before
        elif now > before:
            bucket["expansion"] += now - before
        elif now < before:
            bucket["contraction"] += before - now
    return [
        MrrDay(
            day=day,
            currency=currency,
            mrr=sum((a for (c, _), a in current.items() if c == currency), Decimal(0)),
            new=sums[currency]["new"],
            expansion=sums[currency]["expansion"],
            contraction=sums[currency]["contraction"],
            churned=sums[currency]["churned"],
            reactivation=sums[currency]["reactivation"],
            paying_customers=sum(1 for (c, _), a in current.items() if c == currency and a > 0),
        )
        for currency in currencies
    ]
