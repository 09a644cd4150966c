"""The sandbox's subscription businesses: Stripe customers, subscriptions, their changes, invoices,
charges and refunds for each registry workspace with a `stripe` connection.

Everything is derived from `hash(seed, account, …)`, so it is the same in every process. Each
account has `CUSTOMERS` customers; a customer has one subscription (some a second) to a plan
(monthly, yearly, weekly or every three months, quantity 1–5), started within the last
`HISTORY_DAYS`; some carry a coupon (25 % off forever, or the equivalent of 10.00 USD off for
three months); some change quantity once (an `updated` event) and some cancel (a `deleted`
event, then no more invoices). Subscriptions bill at each period start from their start date: an
invoice, and a charge for it (a few charges are refunded in part); `CHECKOUT_PAYMENTS` one-off
charges (no invoice) come on top. Objects are in the API sync's pinned 2022-11-15 shape (the
webhooks of other versions: `stripe_webhooks.py`). `states()` is the ground truth the MRR tests
compare against.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal
from functools import cached_property
from typing import Any

from ownlay_pipelines.billing.mrr import (
    Discount,
    DiscountDuration,
    PriceItem,
    SubscriptionState,
    add_months,
)
from ownlay_pipelines.sandbox.currency import (
    THREE_DECIMAL_CURRENCIES,
    amount_from_minor,
    minor_from_amount,
    price_level,
)
from ownlay_pipelines.sandbox.seeding import digits, rng_for, unit_draw

CUSTOMERS = 40
HISTORY_DAYS = 150
PLANS_USD_CENTS = (
    ("Starter", 2900, "month", 1),
    ("Team", 7900, "month", 1),
    ("Business", 19900, "month", 1),
    ("Team yearly", 79000, "year", 1),
    ("Weekly box", 1500, "week", 1),
    ("Quarterly", 9000, "month", 3),
)
"""Plan prices in US cents; each account charges their equivalent in its own currency's minor
units (`price_minor`), so a JPY account's Starter is ¥4,350 as `4350`, not ¥29 or ¥2,900."""
EVENT_RETENTION_DAYS = 30
COUPON_AMOUNT_OFF_USD_CENTS = 1000
CHECKOUT_PAYMENTS = 6
"""One-off card payments per account (no invoice), besides the subscriptions' charges."""


def price_minor(usd_cents: int, currency: str) -> int:
    """`usd_cents` worth of `currency`, in its minor units (three-decimal currencies in tens, as
    Stripe requires: their last digit must be 0)."""
    minor = minor_from_amount(usd_cents / 100 * price_level(currency), currency)
    return round(minor, -1) if currency in THREE_DECIMAL_CURRENCIES else minor


@dataclass(frozen=True)
class SandboxSubscription:
    """One subscription as the world knows it: plan, quantities over time, coupon, end."""

    id: str
    customer_id: str
    currency: str
    plan: tuple[str, int, str, int]
    start: datetime
    quantity: int
    change_at: datetime | None
    new_quantity: int
    coupon: dict[str, Any] | None
    canceled_at: datetime | None

    def quantity_at(self, moment: datetime) -> int:
        return self.new_quantity if self.change_at and moment >= self.change_at else self.quantity

    def status_at(self, moment: datetime) -> str:
        return "canceled" if self.canceled_at and moment >= self.canceled_at else "active"

    def period_starts(self, until: datetime) -> list[datetime]:
        """Billing period starts from the start date up to `until` (and before a cancellation)."""
        _, _, interval, count = self.plan
        end = min(until, self.canceled_at) if self.canceled_at else until
        starts, index = [], 0
        while True:
            if interval == "month":
                moment = datetime.combine(
                    add_months(self.start.date(), index * count), self.start.time(), UTC
                )
            elif interval == "year":
                moment = datetime.combine(
                    add_months(self.start.date(), 12 * index * count), self.start.time(), UTC
                )
            else:
                step = timedelta(weeks=count) if interval == "week" else timedelta(days=count)
                moment = self.start + index * step
            if moment >= end:
                return starts
            starts.append(moment)
            index += 1


class StripeAccountWorld:
    """One Stripe account's objects in Stripe's wire shape, as of `now`."""

    def __init__(self, seed: int, account_id: str, currency: str, now: datetime) -> None:
        self.seed = seed
        self.account_id = account_id
        self.currency = currency.lower()
        self.now = now.astimezone(UTC)

    @cached_property
    def subscriptions(self) -> list[SandboxSubscription]:
        found = []
        for number in range(CUSTOMERS):
            rng = rng_for(self.seed, "stripe", self.account_id, "customer", number)
            customer_id = f"cus_{digits(rng, 14)}"
            for second in range(2 if rng.random() < 0.2 else 1):
                name, usd_cents, interval, count = PLANS_USD_CENTS[
                    rng.randrange(len(PLANS_USD_CENTS))
                ]
                plan = (name, price_minor(usd_cents, self.currency.upper()), interval, count)
                start = self.now - timedelta(
                    days=rng.randrange(1, HISTORY_DAYS), seconds=rng.randrange(86_400)
                )
                change_at = None
                if rng.random() < 0.35:
                    change_at = start + timedelta(days=rng.randrange(1, 45))
                    change_at = change_at if change_at < self.now else None
                canceled_at = None
                if rng.random() < 0.25:
                    canceled_at = start + timedelta(days=rng.randrange(3, HISTORY_DAYS))
                    canceled_at = canceled_at if canceled_at < self.now else None
                coupon = None
                roll = rng.random()
                if roll < 0.15:
                    coupon = {"id": "LAUNCH25", "duration": "forever", "percent_off": 25.0}
                elif roll < 0.25:
                    coupon = {
                        "id": "TENOFF3",
                        "duration": "repeating",
                        "amount_off": price_minor(
                            COUPON_AMOUNT_OFF_USD_CENTS, self.currency.upper()
                        ),
                        "currency": self.currency,
                        "duration_in_months": 3,
                    }
                found.append(
                    SandboxSubscription(
                        id=f"sub_{digits(rng, 14)}{second}",
                        customer_id=customer_id,
                        currency=self.currency,
                        plan=plan,
                        start=start.replace(microsecond=0),
                        quantity=rng.randint(1, 5),
                        change_at=change_at.replace(microsecond=0) if change_at else None,
                        new_quantity=rng.randint(1, 5),
                        coupon=coupon,
                        canceled_at=canceled_at.replace(microsecond=0) if canceled_at else None,
                    )
                )
        return found

    def subscription_object(self, sub: SandboxSubscription, moment: datetime) -> dict[str, Any]:
        """The subscription as Stripe would return it at `moment`."""
        name, unit_amount, interval, count = sub.plan
        status = sub.status_at(moment)
        return {
            "id": sub.id,
            "object": "subscription",
            "customer": sub.customer_id,
            "currency": sub.currency,
            "status": status,
            "created": int(sub.start.timestamp()),
            "start_date": int(sub.start.timestamp()),
            "canceled_at": int(sub.canceled_at.timestamp()) if status == "canceled" else None,
            "ended_at": int(sub.canceled_at.timestamp()) if status == "canceled" else None,
            "items": {
                "object": "list",
                "data": [
                    {
                        "id": f"si_{sub.id[4:]}",
                        "object": "subscription_item",
                        "quantity": sub.quantity_at(moment),
                        "discounts": [],
                        "price": {
                            "id": f"price_{name.lower().replace(' ', '_')}",
                            "object": "price",
                            "currency": sub.currency,
                            "unit_amount": unit_amount,
                            "recurring": {"interval": interval, "interval_count": count},
                        },
                    }
                ],
                "has_more": False,
            },
            # 2022-11-15 sends both: the legacy single `discount` and the stackable list of
            # ids (objects only with `expand[]`, `sandbox/stripe.py`).
            "discounts": [] if sub.coupon is None else [discount_id(sub)],
            "discount": None
            if sub.coupon is None
            else {
                "id": discount_id(sub),
                "object": "discount",
                "subscription": sub.id,
                "start": int(sub.start.timestamp()),
                "coupon": {
                    "object": "coupon",
                    "percent_off": None,
                    "amount_off": None,
                    **sub.coupon,
                },
            },
        }

    def customers(self) -> list[dict[str, Any]]:
        seen: dict[str, dict[str, Any]] = {}
        for sub in self.subscriptions:
            if sub.customer_id not in seen:
                seen[sub.customer_id] = {
                    "id": sub.customer_id,
                    "object": "customer",
                    "created": int(sub.start.timestamp()) - 60,
                    "email": customer_email(sub.customer_id),
                    "currency": sub.currency,
                    "delinquent": False,
                }
        return list(seen.values())

    def subscription_objects(self) -> list[dict[str, Any]]:
        return [self.subscription_object(sub, self.now) for sub in self.subscriptions]

    def events(self) -> list[dict[str, Any]]:
        """Events still retained (the last 30 days): `customer.subscription.*` and each refund's
        `charge.refunded` (the charge after it) and `refund.created` (the refund)."""
        horizon = self.now - timedelta(days=EVENT_RETENTION_DAYS)
        return self._subscription_events(horizon) + self._refund_events(horizon)

    def _refund_events(self, horizon: datetime) -> list[dict[str, Any]]:
        charges = {charge["id"]: charge for charge in self.invoices_and_charges()[1]}
        events = []
        for refund in self.refunds():
            if refund["created"] < horizon.timestamp():
                continue
            charge = charges[refund["charge"]]
            changed = {"amount_refunded": 0, "refunded": False}
            for kind, obj, data in (
                ("charge.refunded", charge, {"previous_attributes": changed}),
                ("refund.created", refund, {}),
            ):
                rng = rng_for(self.seed, "stripe-event", refund["id"], kind)
                events.append(
                    {
                        "id": f"evt_{digits(rng, 16)}",
                        "object": "event",
                        "type": kind,
                        "created": refund["created"],
                        "data": {"object": obj, **data},
                    }
                )
        return events

    def _subscription_events(self, horizon: datetime) -> list[dict[str, Any]]:
        events = []
        for sub in self.subscriptions:
            changes = [("customer.subscription.created", sub.start)]
            if sub.change_at:
                changes.append(("customer.subscription.updated", sub.change_at))
            if sub.canceled_at:
                changes.append(("customer.subscription.deleted", sub.canceled_at))
            for kind, moment in changes:
                if moment >= horizon:
                    rng = rng_for(self.seed, "stripe-event", sub.id, kind)
                    now_obj = self.subscription_object(sub, moment)
                    data: dict[str, Any] = {"object": now_obj}
                    if kind != "customer.subscription.created":
                        # Stripe sends the changed fields' old values with every update.
                        before = self.subscription_object(sub, moment - timedelta(seconds=1))
                        data["previous_attributes"] = {
                            k: before[k] for k in ("items", "status") if before[k] != now_obj[k]
                        }
                    events.append(
                        {
                            "id": f"evt_{digits(rng, 16)}",
                            "object": "event",
                            "type": kind,
                            "created": int(moment.timestamp()),
                            "data": data,
                        }
                    )
        return events

    def invoices_and_charges(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        invoices, charges = [], []
        for sub in self.subscriptions:
            for moment in sub.period_starts(self.now):
                amount_minor = _invoice_amount(sub, moment)
                rng = rng_for(self.seed, "stripe-invoice", sub.id, moment.isoformat())
                invoice_id = f"in_{digits(rng, 14)}"
                created = int(moment.timestamp())
                charge_id, intent_id = f"ch_{digits(rng, 14)}", f"pi_{digits(rng, 14)}"
                invoices.append(
                    {
                        "id": invoice_id,
                        "object": "invoice",
                        "customer": sub.customer_id,
                        "customer_email": customer_email(sub.customer_id),
                        "customer_phone": None,
                        "customer_address": None,
                        "subscription": sub.id,
                        # The subscription's metadata as of finalisation (2022-11-15 names it
                        # `subscription_details`); the sandbox merchant also stamps the consent
                        # on each invoice and PaymentIntent (whose charge copies it).
                        "subscription_details": {"metadata": self.subscription_metadata(sub)},
                        "metadata": self.subscription_metadata(sub),
                        "charge": charge_id,
                        "payment_intent": intent_id,
                        "paid": True,
                        "status": "paid",
                        "billing_reason": "subscription_create"
                        if moment == sub.start
                        else "subscription_cycle",
                        "currency": sub.currency,
                        "subtotal": amount_minor,
                        "total": amount_minor,
                        "amount_paid": amount_minor,
                        "amount_due": amount_minor,
                        "created": created,
                        "period_start": created,
                        "period_end": created,
                    }
                )
                refunded = amount_minor // 2 if rng.random() < 0.05 else 0
                charges.append(
                    {
                        "id": charge_id,
                        "object": "charge",
                        "amount": amount_minor,
                        "amount_captured": amount_minor,
                        "amount_refunded": refunded,
                        "currency": sub.currency,
                        "created": created + 5,
                        "customer": sub.customer_id,
                        "invoice": invoice_id,
                        "payment_intent": intent_id,
                        "status": "succeeded",
                        "paid": True,
                        "refunded": refunded == amount_minor,
                        "balance_transaction": f"txn_{digits(rng, 14)}",
                        "billing_details": _billing_details(sub.customer_id),
                        "receipt_email": customer_email(sub.customer_id),
                        "metadata": self.subscription_metadata(sub),
                    }
                )
        return invoices, [*charges, *self.checkout_charges()]

    def subscription_metadata(self, sub: SandboxSubscription) -> dict[str, str]:
        """The subscription's metadata: `marketing_consent` as the merchant's checkout set it
        (about seven customers in ten said yes)."""
        said_yes = unit_draw(self.seed, "stripe-consent", sub.customer_id) < 0.7
        return {"marketing_consent": "true" if said_yes else "false"}

    def checkout_charges(self) -> list[dict[str, Any]]:
        """One-off card payments (Checkout in `payment` mode): a PaymentIntent and its charge,
        no invoice; `metadata.marketing_consent` as the checkout page recorded it."""
        found, customers = [], self.customers()
        for number in range(CHECKOUT_PAYMENTS):
            rng = rng_for(self.seed, "stripe", self.account_id, "checkout", number)
            customer = customers[rng.randrange(len(customers))]["id"]
            amount = price_minor(rng.choice((1900, 4500, 12900)), self.currency.upper())
            created = self.now - timedelta(days=rng.randrange(1, 60), seconds=rng.randrange(86_400))
            found.append(
                {
                    "id": f"ch_{digits(rng, 14)}",
                    "object": "charge",
                    "amount": amount,
                    "amount_captured": amount,
                    "amount_refunded": 0,
                    "currency": self.currency,
                    "created": int(created.timestamp()),
                    "customer": customer,
                    "invoice": None,
                    "payment_intent": f"pi_{digits(rng, 14)}",
                    "status": "succeeded",
                    "paid": True,
                    "refunded": False,
                    "balance_transaction": f"txn_{digits(rng, 14)}",
                    "billing_details": _billing_details(customer),
                    "receipt_email": customer_email(customer),
                    "metadata": {"marketing_consent": "true" if rng.random() < 0.7 else "false"},
                }
            )
        return found

    def refunds(self) -> list[dict[str, Any]]:
        _, charges = self.invoices_and_charges()
        return [
            {
                "id": f"re_{charge['id'][3:]}",
                "object": "refund",
                "amount": charge["amount_refunded"],
                "charge": charge["id"],
                "currency": charge["currency"],
                "created": charge["created"] + 86_400,
                "status": "succeeded",
                "reason": "requested_by_customer",
            }
            for charge in charges
            if charge["amount_refunded"] and charge["created"] + 86_400 <= self.now.timestamp()
        ]

    def states(self, zone: tzinfo) -> list[SubscriptionState]:
        """Ground truth: every subscription's state from each change on (days in `zone`)."""
        found = []
        for sub in self.subscriptions:
            moments = [sub.start, *(m for m in (sub.change_at, sub.canceled_at) if m)]
            for moment in sorted(moments):
                day = moment.astimezone(zone).date()
                found.append(_state(self.subscription_object(sub, moment), day))
        return found


def _state(obj: dict[str, Any], day: date) -> SubscriptionState:
    item = obj["items"]["data"][0]
    price = item["price"]
    coupon = (obj.get("discount") or {}).get("coupon")
    currency = obj["currency"].upper()
    discount = None
    if coupon:
        discount = Discount(
            duration=DiscountDuration(coupon["duration"]),
            start=datetime.fromtimestamp(obj["discount"]["start"], UTC).date(),
            percent_off=Decimal(str(coupon["percent_off"])) if coupon["percent_off"] else None,
            amount_off=amount_from_minor(coupon["amount_off"], currency)
            if coupon["amount_off"]
            else None,
            duration_in_months=coupon.get("duration_in_months"),
        )
    return SubscriptionState(
        subscription_id=obj["id"],
        customer_id=obj["customer"],
        currency=currency,
        status=obj["status"],
        items=(
            PriceItem(
                amount_from_minor(price["unit_amount"], currency),
                price["recurring"]["interval"],
                price["recurring"]["interval_count"],
                item["quantity"],
            ),
        ),
        valid_from=day,
        discounts=() if discount is None else (discount,),
    )


def customer_email(customer_id: str) -> str:
    """The e-mail the sandbox gives a customer (on the customer, its invoices and charges)."""
    return f"{customer_id[4:12]}@customers.example"


def _billing_details(customer_id: str) -> dict[str, Any]:
    return {
        "email": customer_email(customer_id),
        "name": None,
        "phone": None,
        "address": {
            "city": "Portland",
            "country": "US",
            "line1": None,
            "line2": None,
            "postal_code": "97201",
            "state": "OR",
        },
    }


def discount_id(sub: SandboxSubscription) -> str:
    """The id of the Discount a subscription's coupon was redeemed into."""
    return f"di_{sub.id[4:]}"


def _invoice_amount(sub: SandboxSubscription, moment: datetime) -> int:
    """Minor units billed for the period starting at `moment`: price × quantity less the coupon."""
    amount = sub.plan[1] * sub.quantity_at(moment)
    coupon = sub.coupon or {}
    if coupon.get("percent_off"):
        amount = round(amount * (1 - coupon["percent_off"] / 100))
    if coupon.get("amount_off") and moment.date() < add_months(
        sub.start.date(), coupon["duration_in_months"]
    ):
        amount = max(0, amount - coupon["amount_off"])
    return amount
