"""Stripe objects (API version 2022-11-15) as lake rows: one normaliser and schema per table.

Webhooks come in their endpoint's API version instead, so the few fields other versions moved
are read from either place: an invoice's subscription (`_invoice_subscription`) and an item's
price (`_price_of_plan`).

Amounts are integers in the currency's smallest unit on the wire; rows hold exact decimals in
major units (Stripe's zero-decimal currencies such as JPY are whole units, its three-decimal
ones such as KWD thousandths). Timestamps are Unix seconds, stored as UTC instants; a dated row's
`report_date` is the day it was created in the workspace's timezone. Customer e-mails are kept
only as the keyed HMAC pseudonym (`privacy/keyed_hash.py`), never as text.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from functools import cache
from typing import Any

import pyarrow as pa

from ownlay_pipelines.billing.mrr import Discount, DiscountDuration, PriceItem, SubscriptionState
from ownlay_pipelines.connectors.streams import FetchRequest, Record, key_fields, text_fields
from ownlay_pipelines.connectors.wire_values import RowError, dig
from ownlay_pipelines.privacy.keyed_hash import PII_HASH_KEY_ENV, PiiHasher, PiiKeyMissing
from ownlay_pipelines.schema.campaign_metrics import MONEY

ZERO_DECIMAL = frozenset(
    [
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "JPY",
        "KMF",
        "KRW",
        "MGA",
        "PYG",
        "RWF",
        "UGX",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    ]
)
THREE_DECIMAL = frozenset(["BHD", "JOD", "KWD", "OMR", "TND"])
"""Stripe's own lists (docs.stripe.com/currencies); they differ from ISO 4217 in places."""

TIMESTAMP = pa.timestamp("us", tz="UTC")
EVENT_CREATED_AT = "event_created_at"
EVENT_VERSION = pa.field(EVENT_CREATED_AT, TIMESTAMP)
"""When the webhook event that wrote the row was created (NULL: written by the API sync); the
newer event wins (`stripe_webhooks.py`)."""
IS_DELETED = "is_deleted"
DELETED_FLAG = pa.field(IS_DELETED, pa.bool_())
"""True when a `*.deleted` event wrote the row (Airbyte's convention): Stripe deleted the object,
which the next API snapshot or re-pull no longer lists. NULL in rows written before the column
existed, which means not deleted."""


def minor_unit_exponent(currency: str) -> int:
    """Decimal places of Stripe's minor unit for `currency` (JPY 0, USD 2, KWD 3; ISK, HUF and
    TWD are sent with two decimals by Stripe although they are zero-decimal elsewhere)."""
    return 0 if currency in ZERO_DECIMAL else 3 if currency in THREE_DECIMAL else 2


def amount(value: object, currency: str, field: str) -> Decimal:
    """Major-unit Decimal of an integer minor-unit amount in `currency`."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise RowError(field, f"expected an integer amount in minor units, got {value!r}")
    return Decimal(value).scaleb(-minor_unit_exponent(currency.upper()))


def instant(value: object, field: str) -> datetime:
    """UTC instant of a Unix-seconds timestamp."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise RowError(field, f"expected Unix seconds, got {value!r}")
    return datetime.fromtimestamp(value, UTC)


def local_day(value: object, field: str, request: FetchRequest) -> date:
    return instant(value, field).astimezone(request.workspace.zone).date()


def currency_of(record: Record) -> str:
    value = dig(record, "currency")
    if not isinstance(value, str) or len(value) != 3:
        raise RowError("currency", f"expected a three-letter currency, got {value!r}")
    return value.upper()


def object_id(value: object) -> str | None:
    """An id, whether Stripe sent it plain or expanded into an object."""
    if isinstance(value, Mapping):
        return str(value.get("id")) if value.get("id") else None
    return str(value) if value else None


def optional_instant(record: Record, field: str) -> datetime | None:
    value = record.get(field)
    return None if value is None else instant(value, field)


def _hasher() -> PiiHasher | None:
    """The keyed hasher, or None when `OWNLAY_PII_HASH_KEY` is not set: then customer rows keep
    no e-mail pseudonym at all rather than failing the table (the e-mail is never stored)."""
    return _hasher_for(os.environ.get(PII_HASH_KEY_ENV, ""))


@cache
def _hasher_for(key: str) -> PiiHasher | None:
    """One hasher per key value: the environment read on each call, never a stale answer."""
    try:
        return PiiHasher.from_env({PII_HASH_KEY_ENV: key})
    except PiiKeyMissing:
        return None


CHARGE_SCHEMA = pa.schema(
    [
        *key_fields("charge_id"),
        pa.field("report_date", pa.date32(), nullable=False),
        pa.field("created_at", TIMESTAMP, nullable=False),
        *text_fields("customer_id", "invoice_id", "payment_intent_id", "status", "currency"),
        pa.field("amount", MONEY, nullable=False),
        pa.field("amount_refunded", MONEY, nullable=False),
        pa.field("paid", pa.bool_()),
        pa.field("refunded", pa.bool_()),
        EVENT_VERSION,
    ]
)


def normalise_charge(record: Record, request: FetchRequest) -> dict[str, Any]:
    currency = currency_of(record)
    return {
        **request.row_keys(),
        "charge_id": str(dig(record, "id")),
        "report_date": local_day(dig(record, "created"), "created", request),
        "created_at": instant(dig(record, "created"), "created"),
        "customer_id": object_id(record.get("customer")),
        "invoice_id": object_id(record.get("invoice")),
        "payment_intent_id": object_id(record.get("payment_intent")),
        "status": record.get("status"),
        "currency": currency,
        "amount": amount(dig(record, "amount"), currency, "amount"),
        "amount_refunded": amount(record.get("amount_refunded", 0), currency, "amount_refunded"),
        "paid": bool(record.get("paid")),
        "refunded": bool(record.get("refunded")),
    }


REFUND_SCHEMA = pa.schema(
    [
        *key_fields("refund_id"),
        pa.field("report_date", pa.date32(), nullable=False),
        pa.field("created_at", TIMESTAMP, nullable=False),
        *text_fields("charge_id", "status", "reason", "currency"),
        pa.field("amount", MONEY, nullable=False),
        EVENT_VERSION,
    ]
)


def normalise_refund(record: Record, request: FetchRequest) -> dict[str, Any]:
    currency = currency_of(record)
    return {
        **request.row_keys(),
        "refund_id": str(dig(record, "id")),
        "report_date": local_day(dig(record, "created"), "created", request),
        "created_at": instant(dig(record, "created"), "created"),
        "charge_id": object_id(record.get("charge")),
        "status": record.get("status"),
        "reason": record.get("reason"),
        "currency": currency,
        "amount": amount(dig(record, "amount"), currency, "amount"),
    }


INVOICE_SCHEMA = pa.schema(
    [
        *key_fields("invoice_id"),
        pa.field("report_date", pa.date32(), nullable=False),
        pa.field("created_at", TIMESTAMP, nullable=False),
        *text_fields("customer_id", "subscription_id", "status", "billing_reason", "currency"),
        pa.field("subtotal", MONEY, nullable=False),
        pa.field("total", MONEY, nullable=False),
        pa.field("amount_paid", MONEY, nullable=False),
        pa.field("amount_due", MONEY, nullable=False),
        pa.field("period_start", TIMESTAMP),
        pa.field("period_end", TIMESTAMP),
        DELETED_FLAG,
        EVENT_VERSION,
    ]
)


def normalise_invoice(record: Record, request: FetchRequest) -> dict[str, Any]:
    currency = currency_of(record)
    return {
        **request.row_keys(),
        "invoice_id": str(dig(record, "id")),
        "report_date": local_day(dig(record, "created"), "created", request),
        "created_at": instant(dig(record, "created"), "created"),
        "customer_id": object_id(record.get("customer")),
        "subscription_id": _invoice_subscription(record),
        "status": record.get("status"),
        "billing_reason": record.get("billing_reason"),
        "currency": currency,
        **{
            name: amount(dig(record, name), currency, name)
            for name in ("subtotal", "total", "amount_paid", "amount_due")
        },
        "period_start": optional_instant(record, "period_start"),
        "period_end": optional_instant(record, "period_end"),
        IS_DELETED: record.get("deleted") is True,
    }


def _invoice_subscription(record: Record) -> str | None:
    """The invoice's subscription id: `subscription` (2022-11-15, the API sync's version), or
    `parent.subscription_details.subscription` in webhooks rendered in API 2025-03-31 and
    later, which dropped the top-level field; None for an invoice of no subscription."""
    return object_id(record.get("subscription")) or object_id(
        dig(record, "parent.subscription_details.subscription", required=False)
    )


CUSTOMER_SCHEMA = pa.schema(
    [
        *key_fields("customer_id"),
        pa.field("created_at", TIMESTAMP, nullable=False),
        *text_fields("email_hash", "currency"),
        pa.field("delinquent", pa.bool_()),
        pa.field("discount_json", pa.string()),
        DELETED_FLAG,
        EVENT_VERSION,
    ]
)
"""`discount_json`: the customer's own coupon (Stripe's `customer.discount`), which applies to
each of its subscriptions without a discount of their own; its amount off is in `currency`."""


def normalise_customer(record: Record, request: FetchRequest) -> dict[str, Any]:
    email = record.get("email")
    currency = record.get("currency")
    return {
        **request.row_keys(),
        "customer_id": str(dig(record, "id")),
        "created_at": instant(dig(record, "created"), "created"),
        "email_hash": hasher.hash_email(email)
        if (hasher := _hasher()) is not None and isinstance(email, str) and email
        else None,
        "currency": currency.upper() if isinstance(currency, str) else None,
        "delinquent": bool(record.get("delinquent")),
        "discount_json": _customer_discount_json(record, request),
        IS_DELETED: record.get("deleted") is True,
    }


def _customer_discount_json(record: Record, request: FetchRequest) -> str | None:
    """The customer's discount as JSON (`state_json`'s form plus the `currency` its amount off
    is in: the customer's when the coupon has an amount in it, else the coupon's own), None
    without one."""
    raw = record.get("discount")
    if not isinstance(raw, Mapping):
        return None
    coupon = raw.get("coupon") or (raw.get("source") or {}).get("coupon") or {}
    coupon = coupon if isinstance(coupon, Mapping) else {}
    own, billed = coupon.get("currency"), record.get("currency")
    if billed and own and own != billed and billed not in (coupon.get("currency_options") or {}):
        billed = own
    currency = str(billed or own).upper() if (billed or own) else None
    created = local_day(dig(record, "created"), "created", request)
    discount = _discount(raw, "discount", currency or "", created, request.workspace.zone)
    return json.dumps({**_discount_json(discount), "currency": currency}, sort_keys=True)


def customer_discount_from_row(row: Mapping[str, Any]) -> tuple[Discount, str | None] | None:
    """A customers row's own discount and the currency of its amount off (None without one;
    rows synced before the column existed have none)."""
    document = row.get("discount_json")
    if not document:
        return None
    raw = json.loads(document)
    return _discount_from_json(raw), raw.get("currency")


SUBSCRIPTION_FIELDS = [
    *text_fields("customer_id", "status", "currency"),
    pa.field("state_json", pa.string(), nullable=False),
    pa.field("mrr", MONEY, nullable=False),
]
SUBSCRIPTION_SCHEMA = pa.schema(
    [
        *key_fields("subscription_id"),
        pa.field("created_at", TIMESTAMP, nullable=False),
        pa.field("start_date", TIMESTAMP, nullable=False),
        pa.field("canceled_at", TIMESTAMP),
        pa.field("ended_at", TIMESTAMP),
        *SUBSCRIPTION_FIELDS,
        EVENT_VERSION,
    ]
)


def subscription_state(record: Record, valid_from: date, zone: tzinfo) -> SubscriptionState:
    """The MRR model's view of a subscription object as of `valid_from` (days in `zone`).

    An item without `price` is read from its legacy `plan` (`_price_of_plan`). Metered items
    (`recurring.usage_type = metered`) are left out: MRR excludes usage-based
    products (Stripe's Billing metric definitions). A missing `quantity` is 1; a quantity of 0
    stays 0; package pricing bills whole packages (`_billed_units`). Tax included in a price
    by its tax rates is taken out (`_included_tax_percent`): MRR excludes tax. An `items` list
    with `has_more` (cut short) is refused rather than summed.
    """
    currency = currency_of(record)
    if (record.get("items") or {}).get("has_more"):
        raise RowError(
            "items.has_more",
            "the subscription lists only its first items; summing them would understate MRR",
        )
    items = []
    for index, item in enumerate(dig(record, "items.data") or []):  # type: ignore[union-attr]
        price = item.get("price") or _price_of_plan(item.get("plan"))
        recurring = price.get("recurring") or {}
        field = f"items.data[{index}].price"
        if not recurring.get("interval"):
            raise RowError(f"{field}.recurring", "a subscription item needs a recurring price")
        if recurring.get("usage_type") == "metered":
            continue
        quantity = item.get("quantity")
        included = _included_tax_percent(item, record, f"items.data[{index}]")
        items.append(
            PriceItem(
                unit_amount=_unit_amount(price, currency, field) / (1 + included / 100),
                interval=str(recurring["interval"]),
                interval_count=int(recurring.get("interval_count") or 1),
                quantity=_billed_units(1 if quantity is None else int(quantity), price, field),
                discounts=_discounts(
                    item, f"items.data[{index}].", None, currency, valid_from, zone
                ),
            )
        )
    legacy = record.get("discount")
    return SubscriptionState(
        subscription_id=str(dig(record, "id")),
        customer_id=object_id(record.get("customer")) or "",
        currency=currency,
        status=str(dig(record, "status")),
        items=tuple(items),
        valid_from=valid_from,
        discounts=_discounts(record, "", legacy, currency, valid_from, zone),
    )


def _price_of_plan(plan: object) -> Mapping[str, Any]:
    """A legacy `plan` (an item without `price`, as API versions before Prices send it) in the
    price object's shape: `amount` is `unit_amount`, `transform_usage` is
    `transform_quantity`, interval and usage type move under `recurring`. Empty without one."""
    if not isinstance(plan, Mapping):
        return {}
    return {
        "currency": plan.get("currency"),
        "unit_amount": plan.get("amount"),
        "unit_amount_decimal": plan.get("amount_decimal"),
        "billing_scheme": plan.get("billing_scheme"),
        "transform_quantity": plan.get("transform_usage"),
        "recurring": {
            "interval": plan.get("interval"),
            "interval_count": plan.get("interval_count"),
            "usage_type": plan.get("usage_type"),
        },
    }


def _discounts(
    owner: Mapping[str, Any],
    field: str,
    legacy: object,
    currency: str,
    valid_from: date,
    zone: tzinfo,
) -> tuple[Discount, ...]:
    """The discounts of a subscription or item (`owner`), in Stripe's order.

    `discounts` (the stackable list, ids or expanded Discount objects) wins when present: since
    2022-11-15 it also lists the one in the legacy single `discount`, which resolves its own id
    there (never counted twice). Without the list, the legacy `discount` alone. An id that no
    expanded object resolves is refused, naming it: dropping it would overstate MRR.
    """
    known = {legacy.get("id"): legacy} if isinstance(legacy, Mapping) else {}
    listed = owner.get("discounts")
    if not listed:
        raw = [legacy] if isinstance(legacy, Mapping) else []
        return tuple(_discount(d, f"{field}discount", currency, valid_from, zone) for d in raw)
    if not isinstance(listed, list):
        raise RowError(f"{field}discounts", f"expected a list, got {listed!r}")
    found = []
    for index, entry in enumerate(listed):
        where = f"{field}discounts[{index}]"
        resolved = entry if isinstance(entry, Mapping) else known.get(entry)
        if not isinstance(resolved, Mapping):
            raise RowError(
                where,
                f"discount {entry!r} is an id, not expanded, and no Discount object here "
                "resolves it (sync with expand[]=data.discounts); its coupon cannot be applied",
            )
        found.append(_discount(resolved, where, currency, valid_from, zone))
    return tuple(found)


def _discount(
    raw: Mapping[str, Any], field: str, currency: str, valid_from: date, zone: tzinfo
) -> Discount:
    """One Discount object (coupon, start, end) as the MRR model's discount; the coupon is
    `coupon`, or `source.coupon` from API 2025-09-30 on (where it is no longer expanded)."""
    coupon = raw.get("coupon")
    where = f"{field}.coupon"
    if coupon is None and isinstance(raw.get("source"), Mapping):
        coupon, where = raw["source"].get("coupon"), f"{field}.source.coupon"
    if not isinstance(coupon, Mapping):
        raise RowError(where, f"expected the expanded coupon object, got {coupon!r}")
    return Discount(
        duration=DiscountDuration(coupon.get("duration", "forever")),
        start=_day_in(raw.get("start"), zone) or valid_from,
        percent_off=Decimal(str(coupon["percent_off"])) if coupon.get("percent_off") else None,
        amount_off=_amount_off(coupon, currency, field) if coupon.get("amount_off") else None,
        duration_in_months=coupon.get("duration_in_months"),
        end=_day_in(raw.get("end"), zone),
    )


def _included_tax_percent(item: Mapping[str, Any], record: Record, field: str) -> Decimal:
    """The tax percent included in an item's price: the sum of its inclusive tax rates (the
    item's own `tax_rates`, else the subscription's `default_tax_rates`; Stripe adds inclusive
    rates up, 120.00 with 20 % included is 100.00 net). Exclusive rates are added on top of the
    price, so they take nothing out. Under Stripe Tax (`automatic_tax`) the rate is not on the
    subscription, so an inclusive price is counted as set (docs/architecture.md)."""
    rates, where = item.get("tax_rates"), f"{field}.tax_rates"
    if not rates:
        rates, where = record.get("default_tax_rates") or [], "default_tax_rates"
    total = Decimal(0)
    for index, rate in enumerate(rates):
        if not isinstance(rate, Mapping):
            raise RowError(f"{where}[{index}]", f"expected a tax rate object, got {rate!r}")
        if rate.get("inclusive"):
            total += Decimal(str(dig(rate, "percentage")))
    return total


def _amount_off(coupon: Mapping[str, Any], currency: str, field: str) -> Decimal:
    """A coupon's amount off in the subscription's `currency`: its `amount_off` when the coupon
    is in that currency, else the matching `currency_options` entry (multi-currency coupons)."""
    coupon_currency = str(coupon.get("currency") or currency).upper()
    if coupon_currency == currency:
        return amount(coupon["amount_off"], currency, f"{field}.coupon.amount_off")
    option = (coupon.get("currency_options") or {}).get(currency.lower()) or {}
    if option.get("amount_off") is None:
        raise RowError(
            f"{field}.coupon.currency",
            f"the coupon takes {coupon_currency} off a {currency} subscription and has no "
            f"{currency} amount in currency_options",
        )
    return amount(option["amount_off"], currency, f"{field}.coupon.currency_options.{currency}")


def _unit_amount(price: Mapping[str, Any], currency: str, field: str) -> Decimal:
    """A price's amount per unit in major units: `unit_amount`, or `unit_amount_decimal` (minor
    units with up to 12 decimals, the only one set for sub-cent prices).

    A multi-currency price carries its default currency's amount; the subscription's currency
    is in `currency_options` (only when expanded) — without it the row is refused rather than
    reading, say, US cents as yen.
    """
    price_currency = str(price.get("currency") or currency).upper()
    if price_currency != currency:
        option = (price.get("currency_options") or {}).get(currency.lower())
        if not isinstance(option, Mapping):
            raise RowError(
                f"{field}.currency",
                f"the price is in {price_currency} but the subscription bills in {currency} "
                f"and the price has no {currency} entry in currency_options",
            )
        price = {**price, **option, "currency": currency.lower()}
    if price.get("unit_amount") is not None:
        return amount(price["unit_amount"], currency, f"{field}.unit_amount")
    if price.get("unit_amount_decimal") is not None:
        try:
            minor = Decimal(str(price["unit_amount_decimal"]))
        except ArithmeticError as error:
            raise RowError(f"{field}.unit_amount_decimal", "not a decimal number") from error
        return minor.scaleb(-minor_unit_exponent(currency))
    if price.get("billing_scheme") == "tiered":
        raise RowError(
            f"{field}.billing_scheme",
            "tiered prices are not supported by the MRR model (their tiers are not synced)",
        )
    raise RowError(f"{field}.unit_amount", "a licensed price needs unit_amount")


def _billed_units(quantity: int, price: Mapping[str, Any], field: str) -> int:
    """The units a quantity bills: with package pricing (`transform_quantity`) the quantity
    divided by the package size, rounded up or down as the price says (12 seats in packs of 5,
    rounded up, bill 3 packs)."""
    transform = price.get("transform_quantity")
    if not isinstance(transform, Mapping):
        return quantity
    divide_by = transform.get("divide_by")
    if not isinstance(divide_by, int) or isinstance(divide_by, bool) or divide_by < 1:
        raise RowError(f"{field}.transform_quantity.divide_by", "expected a positive integer")
    if transform.get("round") == "down":
        return quantity // divide_by
    return -(-quantity // divide_by)


def _day_in(unix_seconds: object, zone: tzinfo) -> date | None:
    """The day of a Unix timestamp in `zone` (discount start and end), None when absent."""
    if unix_seconds is None:
        return None
    return instant(unix_seconds, "discount").astimezone(zone).date()


def state_json(
    state: SubscriptionState, trial_end: date | None = None, *, with_status: bool = False
) -> str:
    """What the MRR model needs of a state (items and their discounts, the subscription's
    discounts in order, the day its trial ends; its status too `with_status`, for a state
    before an event, whose row holds only the status after), as JSON."""
    return json.dumps(
        {
            **({"status": state.status} if with_status else {}),
            "trial_end": None if trial_end is None else trial_end.isoformat(),
            "items": [
                {
                    "unit_amount": str(i.unit_amount),
                    "interval": i.interval,
                    "interval_count": i.interval_count,
                    "quantity": i.quantity,
                    "discounts": [_discount_json(d) for d in i.discounts],
                }
                for i in state.items
            ],
            "discounts": [_discount_json(d) for d in state.discounts],
        },
        sort_keys=True,
    )


def _discount_json(discount: Discount) -> dict[str, Any]:
    return {
        "duration": discount.duration.value,
        "start": discount.start.isoformat(),
        "percent_off": None if discount.percent_off is None else str(discount.percent_off),
        "amount_off": None if discount.amount_off is None else str(discount.amount_off),
        "duration_in_months": discount.duration_in_months,
        "end": None if discount.end is None else discount.end.isoformat(),
    }


def _discount_from_json(raw: Mapping[str, Any]) -> Discount:
    return Discount(
        duration=DiscountDuration(raw["duration"]),
        start=date.fromisoformat(raw["start"]),
        percent_off=None if raw["percent_off"] is None else Decimal(raw["percent_off"]),
        amount_off=None if raw["amount_off"] is None else Decimal(raw["amount_off"]),
        duration_in_months=raw["duration_in_months"],
        end=date.fromisoformat(raw["end"]) if raw.get("end") else None,
    )


def state_from_row(row: Mapping[str, Any], valid_from: date) -> SubscriptionState:
    """Rebuild the MRR model's state from a subscriptions or subscription_events row (rows
    written before stackable discounts hold one `discount` or null instead of `discounts`)."""
    document = json.loads(row["state_json"])
    if "discounts" in document:
        discounts = document["discounts"]
    else:
        discounts = [document["discount"]] if document.get("discount") else []
    return SubscriptionState(
        subscription_id=row["subscription_id"],
        customer_id=row["customer_id"] or "",
        currency=row["currency"],
        status=row["status"],
        items=tuple(
            PriceItem(
                Decimal(i["unit_amount"]),
                i["interval"],
                i["interval_count"],
                i["quantity"],
                tuple(_discount_from_json(d) for d in i.get("discounts", [])),
            )
            for i in document["items"]
        ),
        valid_from=valid_from,
        discounts=tuple(_discount_from_json(d) for d in discounts),
    )


def trial_end_of(row: Mapping[str, Any]) -> date | None:
    """The day a subscriptions row's trial ended or ends (None without a trial)."""
    value = json.loads(row["state_json"]).get("trial_end")
    return date.fromisoformat(value) if value else None


def _state_columns(
    state: SubscriptionState, day: date, trial_end: date | None = None
) -> dict[str, Any]:
    return {
        "customer_id": state.customer_id,
        "status": state.status,
        "currency": state.currency,
        "state_json": state_json(state, trial_end),
        "mrr": state.monthly_amount(day),
    }


def normalise_subscription(record: Record, request: FetchRequest) -> dict[str, Any]:
    today = datetime.now(UTC).astimezone(request.workspace.zone).date()
    zone = request.workspace.zone
    start = local_day(dig(record, "start_date"), "start_date", request)
    state = subscription_state(record, start, zone)
    return {
        **request.row_keys(),
        "subscription_id": state.subscription_id,
        "created_at": instant(dig(record, "created"), "created"),
        "start_date": instant(dig(record, "start_date"), "start_date"),
        "canceled_at": optional_instant(record, "canceled_at"),
        "ended_at": optional_instant(record, "ended_at"),
        **_state_columns(state, today, _day_in(record.get("trial_end"), zone)),
    }


SUBSCRIPTION_EVENT_SCHEMA = pa.schema(
    [
        *key_fields("event_id"),
        pa.field("report_date", pa.date32(), nullable=False),
        pa.field("created_at", TIMESTAMP, nullable=False),
        *text_fields("type", "subscription_id"),
        *SUBSCRIPTION_FIELDS,
        pa.field("previous_state_json", pa.string()),
    ]
)


def normalise_subscription_event(record: Record, request: FetchRequest) -> dict[str, Any]:
    """One `customer.subscription.*` event: the subscription's state right after the change."""
    subscription = dig(record, "data.object")
    if not isinstance(subscription, Mapping):
        raise RowError("data.object", "expected the subscription object")
    day = local_day(dig(record, "created"), "created", request)
    state = subscription_state(subscription, day, request.workspace.zone)
    return {
        **request.row_keys(),
        "event_id": str(dig(record, "id")),
        "report_date": day,
        "created_at": instant(dig(record, "created"), "created"),
        "type": str(dig(record, "type")),
        "subscription_id": state.subscription_id,
        **_state_columns(state, day),
        "previous_state_json": _previous_state_json(record, subscription, day, request),
    }


def _previous_state_json(
    record: Record, subscription: Record, day: date, request: FetchRequest
) -> str | None:
    """The state before an update, from the event's `previous_attributes` (None without any)."""
    previous = dig(record, "data.previous_attributes", required=False)
    if not isinstance(previous, Mapping) or not previous:
        return None
    before = subscription_state({**subscription, **previous}, day, request.workspace.zone)
    return state_json(before, with_status=True)
