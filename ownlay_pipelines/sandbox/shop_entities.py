"""The shop side of the sandbox world: products, customers, visits, orders and their ground truth.

Like `entities.py`, these records hold what is true; the Shopify simulator renders them in
Shopify's words and `visitors.py` renders the visits as first-party events. Times are aware UTC
datetimes with whole microseconds (the event lake's resolution); money is exact in the shop
currency.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

SETTLE_DELAY = timedelta(minutes=2)
"""Shopify updates an order again once the payment is captured, a moment after it was placed."""


@dataclass(frozen=True)
class ShopVariant:
    """One purchasable variant of a product, at its price in the shop currency."""

    variant_id: int
    title: str
    sku: str
    price: Decimal


@dataclass(frozen=True)
class ShopProduct:
    """A product of the shop's catalogue with its variants."""

    product_id: int
    title: str
    handle: str
    product_type: str
    vendor: str
    created_at: datetime
    variants: tuple[ShopVariant, ...]


@dataclass(frozen=True)
class LineItem:
    """One line of an order or checkout: a variant, how many, at what unit price."""

    line_item_id: int
    product: ShopProduct
    variant: ShopVariant
    quantity: int

    @property
    def total(self) -> Decimal:
        """Unit price times quantity."""
        return self.variant.price * self.quantity


@dataclass(frozen=True)
class Click:
    """A visitor arriving from an ad: when, which campaign, and the URL the ad sent them to.

    `url` carries the ad's UTM parameters and the platform's click id (`fbclid`, `gclid`).
    """

    at: datetime
    platform: str
    account_id: str
    campaign_id: str
    url: str


class VisitOutcome(StrEnum):
    """How far a visit went: left after the landing page, started a checkout, or bought."""

    BOUNCE = "bounce"
    CHECKOUT = "checkout"
    PURCHASE = "purchase"


@dataclass(frozen=True)
class Visit:
    """One visitor's journey: earlier ad clicks, the session that counts, and how it ended.

    `clicks` are in time order; for a purchase driven by an ad, the last one is the driving click
    and no other click falls between it and the order. `session_start` is when the final session
    began (the driving click itself, or a later direct return).
    """

    visitor_id: str
    clicks: tuple[Click, ...]
    session_start: datetime
    landing_url: str
    referrer: str | None
    ended_at: datetime
    outcome: VisitOutcome
    line_items: tuple[LineItem, ...]
    device: str


@dataclass(frozen=True)
class Refund:
    """Money given back on an order, some days after it was placed."""

    refund_id: int
    created_at: datetime
    amount: Decimal
    note: str


@dataclass(frozen=True)
class ShopCustomer:
    """A shop customer (the e-mail is synthetic, on the reserved example.com domain)."""

    customer_id: int
    first_name: str
    last_name: str
    email: str


@dataclass(frozen=True)
class ShopOrder:
    """A placed order and the truth about it: which campaign drove it (None when organic).

    `driving_campaign_id` is the campaign of the visitor's last ad click within 7 days of the
    order, which the world arranges to be the campaign that caused the purchase.
    """

    order_id: int
    checkout_id: int
    visit: Visit
    customer: ShopCustomer
    created_at: datetime
    currency: str
    subtotal: Decimal
    shipping: Decimal
    tax: Decimal
    total: Decimal
    refunds: tuple[Refund, ...]
    driving_platform: str | None
    driving_campaign_id: str | None
    cancelled_at: datetime | None = None
    """When the shop cancelled the order (refunding it in full at the same moment), if ever."""

    def cancelled_as_of(self, now: datetime) -> bool:
        """True once the order is cancelled at `now`."""
        return self.cancelled_at is not None and self.cancelled_at <= now

    def net_total(self, now: datetime) -> Decimal:
        """What the shop keeps at `now`: the total less refunds so far, 0 once cancelled."""
        if self.cancelled_as_of(now):
            return Decimal(0)
        return max(
            self.total - sum((r.amount for r in self.refunds_as_of(now)), Decimal(0)), Decimal(0)
        )

    def refunds_as_of(self, now: datetime) -> tuple[Refund, ...]:
        """The refunds already made at `now`."""
        return tuple(r for r in self.refunds if r.created_at <= now)

    def updated_at(self, now: datetime) -> datetime:
        """When Shopify last changed the order as of `now`: payment settling, then refunds."""
        settled = self.created_at + SETTLE_DELAY
        changes = [settled if settled <= now else self.created_at]
        return max(changes + [r.created_at for r in self.refunds_as_of(now)])


@dataclass(frozen=True)
class AbandonedCheckout:
    """A checkout a visitor started and never completed."""

    checkout_id: int
    token: str
    visit: Visit
    created_at: datetime
    currency: str
    subtotal: Decimal
