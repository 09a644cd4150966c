"""A workspace's shop in the world: orders, abandoned checkouts and customers, with ground truth.

Orders come from the visitors (`visitors.py`): every purchase visit is one order placed when the
visit ends, by a customer drawn from the shop's pool, with an occasional refund days later. What
the shop shows depends on the world's `now` only as a platform would: orders and refunds that have
not happened yet are not there. The shop keeps a rolling history of `SHOP_HISTORY_DAYS` local days,
which bounds what a customer's lifetime totals add up.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from ownlay_pipelines.sandbox.seeding import rng_for
from ownlay_pipelines.sandbox.shop_catalog import basket, pick_customer, shop_id, shop_token
from ownlay_pipelines.sandbox.shop_entities import (
    AbandonedCheckout,
    Refund,
    ShopCustomer,
    ShopOrder,
    Visit,
    VisitOutcome,
)
from ownlay_pipelines.sandbox.visitors import MAX_ORDER_DELAY, VisitorModel

if TYPE_CHECKING:
    from ownlay_pipelines.sandbox.world import SandboxWorld

SHOP_HISTORY_DAYS = 90
REFUND_RATE = 0.06
CANCEL_RATE = 0.03
"""Share of orders cancelled (and refunded in full) within a day of being placed."""
FIRST_ORDER_NUMBER = 1001
ORDER_NUMBERS_PER_DAY = 1000
ORDER_NUMBER_EPOCH = date(2024, 1, 1)
"""Order numbers count from this day, so a later `now` never renumbers an order."""
ORGANIC_CLICK_LOOKBACK_DAYS = 20
"""Organic buyers' old ad clicks go back at most this far (visitors.organic_purchases)."""

ShopRecord = tuple[Visit, ShopOrder | AbandonedCheckout | None]
"""A visit and what it left in the shop: an order, an abandoned checkout, or nothing."""


@dataclass(frozen=True)
class CustomerSummary:
    """A customer as the shop reports them at `now`: first order, latest change and totals."""

    customer: ShopCustomer
    created_at: datetime
    updated_at: datetime
    orders_count: int
    total_spent: Decimal
    last_order: ShopOrder


@dataclass(frozen=True)
class TruthRow:
    """Ground truth for one order day and driver: how many orders, and their revenue.

    `platform` and `campaign_id` are None for orders no ad click drove.
    """

    order_date: date
    platform: str | None
    campaign_id: str | None
    orders: int
    revenue: Decimal
    net_revenue: Decimal
    """Revenue less refunds made by the world's `now`, cancelled orders counting 0."""


class Shop:
    """One workspace's shop; records are built per local day on first use and kept."""

    def __init__(self, world: SandboxWorld, workspace_id: str) -> None:
        self.world = world
        self.workspace_id = workspace_id
        self.visitors = VisitorModel(world, workspace_id)
        self.currency = self.visitors.currency
        today = self.visitors.local_date(world.now)
        self.opened = today - timedelta(days=SHOP_HISTORY_DAYS - 1)
        """The first local day the shop has orders for."""
        self._ad_records: dict[date, list[ShopRecord]] = {}
        self._organic_records: dict[date, list[ShopRecord]] = {}
        self._orders_by_day: dict[date, list[ShopOrder]] = {}

    def orders_on(self, day: date) -> list[ShopOrder]:
        """Orders placed on local date `day` (whether or not `now` has reached them), by time."""
        if day not in self._orders_by_day:
            placed = [
                record
                for click_day in _days(day - MAX_ORDER_DELAY, day)
                for _, record in self.ad_records(click_day)
                if isinstance(record, ShopOrder)
                and self.visitors.local_date(record.created_at) == day
            ]
            placed += [o for _, o in self.organic_records(day) if isinstance(o, ShopOrder)]
            self._orders_by_day[day] = (
                sorted(placed, key=lambda o: (o.created_at, o.order_id))
                if day >= self.opened
                else []
            )
        return self._orders_by_day[day]

    def orders(self, start: date, end: date) -> list[ShopOrder]:
        """Orders placed on local dates [start, end] that exist at the world's `now`."""
        return [o for day in _days(start, end) for o in self.orders_on(day) if self._exists(o)]

    def order_number(self, order: ShopOrder) -> int:
        """The order's number (#1001 …): consecutive within a day, increasing across days."""
        day = self.visitors.local_date(order.created_at)
        rank = self.orders_on(day).index(order)
        return FIRST_ORDER_NUMBER + (day - ORDER_NUMBER_EPOCH).days * ORDER_NUMBERS_PER_DAY + rank

    def history(self) -> list[ShopOrder]:
        """Every order that exists at `now`, oldest first."""
        return self.orders(self.opened, self.visitors.local_date(self.world.now))

    def abandoned_checkouts(self, start: date, end: date) -> list[AbandonedCheckout]:
        """Checkouts started on local dates [start, end] and never completed, as of `now`."""
        found = [
            record
            for click_day in _days(start - timedelta(days=1), end)
            for _, record in self.ad_records(click_day)
            if isinstance(record, AbandonedCheckout)
            and start <= self.visitors.local_date(record.created_at) <= end
            and self._exists(record)
            and self.visitors.local_date(record.created_at) >= self.opened
        ]
        return sorted(found, key=lambda c: (c.created_at, c.checkout_id))

    def customers(self) -> list[CustomerSummary]:
        """Every customer with an order in the shop's history, as of `now`, by first order."""
        by_customer: dict[int, list[ShopOrder]] = defaultdict(list)
        for order in self.history():
            by_customer[order.customer.customer_id].append(order)
        now = self.world.now
        summaries = [
            CustomerSummary(
                customer=orders[0].customer,
                created_at=orders[0].created_at,
                updated_at=max(o.updated_at(now) for o in orders),
                orders_count=len(orders),
                total_spent=sum(
                    (o.total - sum((r.amount for r in o.refunds_as_of(now)), Decimal(0)))
                    for o in orders
                ),
                last_order=orders[-1],
            )
            for orders in by_customer.values()
        ]
        return sorted(summaries, key=lambda s: (s.created_at, s.customer.customer_id))

    def event_records(self, start: date, end: date) -> list[ShopRecord]:
        """Every visit that may have an event on local dates [start, end], with its record."""
        ad = [r for day in _days(start - MAX_ORDER_DELAY, end) for r in self.ad_records(day)]
        late_end = end + timedelta(days=ORGANIC_CLICK_LOOKBACK_DAYS)
        return ad + [r for day in _days(start, late_end) for r in self.organic_records(day)]

    def last_click_truth(self, start: date, end: date) -> list[TruthRow]:
        """Orders and revenue per order date and driving campaign, for orders that exist at now."""
        totals: dict[tuple[date, str | None, str | None], list] = defaultdict(
            lambda: [0, Decimal(0), Decimal(0)]
        )
        for order in self.orders(start, end):
            key = (
                self.visitors.local_date(order.created_at),
                order.driving_platform,
                order.driving_campaign_id,
            )
            totals[key][0] += 1
            totals[key][1] += order.total
            totals[key][2] += order.net_total(self.world.now)
        return [
            TruthRow(day, platform, campaign, count, revenue, net)
            for (day, platform, campaign), (count, revenue, net) in sorted(
                totals.items(), key=lambda item: tuple(str(part) for part in item[0])
            )
        ]

    def ad_records(self, click_day: date) -> list[ShopRecord]:
        """The visits whose last ad click was on local date `click_day`, with their records."""
        if click_day not in self._ad_records:
            self._ad_records[click_day] = [
                (visit, self._record(visit, driven=True))
                for visit in self.visitors.ad_visits(click_day)
            ]
        return self._ad_records[click_day]

    def organic_records(self, order_day: date) -> list[ShopRecord]:
        """The organic buyers of local date `order_day`, with their orders."""
        if order_day not in self._organic_records:
            self._organic_records[order_day] = [
                (visit, self._record(visit, driven=False))
                for visit in self.visitors.organic_purchases(order_day)
            ]
        return self._organic_records[order_day]

    def _record(self, visit: Visit, *, driven: bool) -> ShopOrder | AbandonedCheckout | None:
        if visit.outcome is VisitOutcome.BOUNCE:
            return None
        seed, workspace = self.world.seed, self.workspace_id
        if visit.outcome is VisitOutcome.CHECKOUT:
            return AbandonedCheckout(
                checkout_id=shop_id(seed, workspace, "checkout", visit.visitor_id, digits=14),
                token=shop_token(seed, workspace, "checkout", visit.visitor_id),
                visit=visit,
                created_at=visit.ended_at,
                currency=self.currency,
                subtotal=basket(visit.line_items, self.currency).subtotal,
            )
        totals = basket(visit.line_items, self.currency)
        order_id = shop_id(seed, workspace, "order", visit.visitor_id, digits=13)
        driver = visit.clicks[-1] if driven else None
        cancelled_at = self._cancellation(order_id, visit.ended_at)
        refunds = (
            self._refunds(order_id, visit.ended_at, totals.total, visit)
            if cancelled_at is None
            else (
                Refund(
                    refund_id=shop_id(seed, workspace, "refund", order_id, digits=12),
                    created_at=cancelled_at,
                    amount=totals.total,
                    note="Order cancelled: customer changed their mind",
                ),
            )
        )
        return ShopOrder(
            order_id=order_id,
            checkout_id=shop_id(seed, workspace, "checkout", visit.visitor_id, digits=14),
            visit=visit,
            customer=pick_customer(seed, workspace, (visit.visitor_id,)),
            created_at=visit.ended_at,
            currency=self.currency,
            subtotal=totals.subtotal,
            shipping=totals.shipping,
            tax=totals.tax,
            total=totals.total,
            refunds=refunds,
            driving_platform=driver.platform if driver else None,
            driving_campaign_id=driver.campaign_id if driver else None,
            cancelled_at=cancelled_at,
        )

    def _cancellation(self, order_id: int, placed: datetime) -> datetime | None:
        rng = rng_for(self.world.seed, "shop-cancel", self.workspace_id, order_id)
        if rng.random() >= CANCEL_RATE:
            return None
        return placed + timedelta(seconds=round(rng.uniform(0.5, 20) * 3600))

    def _refunds(
        self, order_id: int, placed: datetime, total: Decimal, visit: Visit
    ) -> tuple[Refund, ...]:
        rng = rng_for(self.world.seed, "shop-refund", self.workspace_id, order_id)
        if rng.random() >= REFUND_RATE:
            return ()
        full = rng.random() < 0.4 or len(visit.line_items) == 1
        amount = total if full else visit.line_items[0].total
        return (
            Refund(
                refund_id=shop_id(
                    self.world.seed, self.workspace_id, "refund", order_id, digits=12
                ),
                created_at=placed + timedelta(seconds=round(rng.uniform(2, 25) * 86400)),
                amount=amount,
                note="Customer returned the items" if full else "One item returned",
            ),
        )

    def _exists(self, record: ShopOrder | AbandonedCheckout) -> bool:
        return record.created_at <= self.world.now


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=offset) for offset in range((end - start).days + 1)]
