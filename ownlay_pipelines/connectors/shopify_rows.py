"""Shopify records (REST list items and webhook bodies alike) as typed lake rows.

An order's row keeps what attribution and ROAS need: when it was placed (UTC, and the shop-local
day from the offset Shopify writes), its gross total and the refunds so far, the customer, and the
landing page's UTM parameters (seed 003's store attribution). Customer e-mails and phone numbers
reach the lake only as keyed hashes (`privacy.keyed_hash`, the same pseudonyms the event lake's
`email_hash` uses, so an order can be matched to a visitor), and only when
`OWNLAY_PII_HASH_KEY` is set; landing and referring URLs are masked as free text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pyarrow as pa

from ownlay_pipelines.connectors.streams import FetchRequest, Record, key_fields, text_fields
from ownlay_pipelines.connectors.wire_values import (
    RowError,
    dig,
    to_count,
    to_date,
    to_non_negative_decimal,
    to_text,
)
from ownlay_pipelines.privacy.free_text import mask_contact_data
from ownlay_pipelines.privacy.keyed_hash import optional_hasher
from ownlay_pipelines.schema.campaign_metrics import MONEY

TIMESTAMP = pa.timestamp("us", tz="UTC")
UTM_FIELDS = ("source", "medium", "campaign", "content", "term")


ORDER_SCHEMA = pa.schema(
    [
        *key_fields("order_id"),
        *text_fields("order_name"),
        pa.field("report_date", pa.date32(), nullable=False),
        pa.field("created_at", TIMESTAMP, nullable=False),
        pa.field("updated_at", TIMESTAMP, nullable=False),
        pa.field("cancelled_at", TIMESTAMP),
        pa.field("test", pa.bool_(), nullable=False),
        *text_fields("currency", "financial_status", "fulfillment_status", "customer_id"),
        pa.field("total_price", MONEY, nullable=False),
        pa.field("subtotal_price", MONEY),
        pa.field("total_tax", MONEY),
        pa.field("total_discounts", MONEY),
        pa.field("total_refunded", MONEY, nullable=False),
        pa.field("item_quantity", pa.int64(), nullable=False),
        *text_fields("source_name", "landing_site", "referring_site"),
        *text_fields(*(f"landing_utm_{name}" for name in UTM_FIELDS)),
        pa.field("line_items_json", pa.string()),
        *text_fields("customer_email_hash", "customer_phone_hash"),
    ]
)
"""One row per order (primary key account_id, order_id); `report_date` is the shop-local day."""

CUSTOMER_SCHEMA = pa.schema(
    [
        *key_fields("customer_id"),
        pa.field("created_at", TIMESTAMP),
        pa.field("updated_at", TIMESTAMP, nullable=False),
        pa.field("orders_count", pa.int64()),
        pa.field("total_spent", MONEY),
        *text_fields("currency", "state", "tags", "last_order_id"),
        *text_fields("email_hash", "phone_hash"),
    ]
)

PRODUCT_SCHEMA = pa.schema(
    [
        *key_fields("product_id"),
        *text_fields("title", "handle", "product_type", "vendor", "status"),
        pa.field("created_at", TIMESTAMP),
        pa.field("updated_at", TIMESTAMP, nullable=False),
        pa.field("variant_count", pa.int64(), nullable=False),
        pa.field("min_price", MONEY),
        pa.field("max_price", MONEY),
    ]
)


def to_timestamp(value: object, field: str) -> datetime:
    """A Shopify timestamp ('2026-01-01T11:00:00-05:00') as an aware UTC datetime."""
    if not isinstance(value, str):
        raise RowError(field, f"expected an ISO 8601 timestamp, got {value!r}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise RowError(field, f"expected an ISO 8601 timestamp, got {value!r}") from None
    if moment.tzinfo is None:
        raise RowError(field, f"{value!r} has no UTC offset")
    return moment.astimezone(UTC)


def _optional_timestamp(record: Record, field: str) -> datetime | None:
    value = record.get(field)
    return None if value is None else to_timestamp(value, field)


def _optional_money(record: Record, field: str) -> Decimal | None:
    value = record.get(field)
    return None if value is None else to_non_negative_decimal(value, field)


def refunded_amount(refunds: object) -> Decimal:
    """Successful refund transactions of an order's embedded `refunds`, summed."""
    if refunds is None:
        return Decimal(0)
    if not isinstance(refunds, list):
        raise RowError("refunds", f"expected a list, got {type(refunds).__name__}")
    total = Decimal(0)
    for refund in refunds:
        for transaction in (refund or {}).get("transactions") or []:
            if transaction.get("kind") == "refund" and transaction.get("status") == "success":
                total += to_non_negative_decimal(
                    transaction.get("amount"), "refunds.transactions.amount"
                )
    return total


def contact_hashes(*holders: object) -> tuple[str | None, str | None]:
    """Keyed hashes of the first e-mail and phone found in `holders` (order, customer, address).

    None for both when no PII key is configured: then no contact data is kept at all.
    """
    hasher = optional_hasher()
    if hasher is None:
        return None, None
    mappings = [holder for holder in holders if isinstance(holder, Mapping)]
    email = next(
        (m["email"] for m in mappings if isinstance(m.get("email"), str) and m["email"]), None
    )
    phone = next(
        (m["phone"] for m in mappings if isinstance(m.get("phone"), str) and m["phone"]), None
    )
    return (
        hasher.hash_email(email) if email else None,
        hasher.hash_phone(phone) if phone and any(c.isdigit() for c in phone) else None,
    )


def _masked_text(record: Record, field: str) -> str | None:
    value = to_text(record.get(field), field, required=False)
    return None if value is None else mask_contact_data(value)


def landing_utms(landing_site: str | None) -> dict[str, str | None]:
    """`landing_utm_*` columns from an order's landing path and query ('/x?utm_source=…')."""
    query = dict(parse_qsl(urlsplit(landing_site or "").query))
    return {f"landing_utm_{name}": query.get(f"utm_{name}") or None for name in UTM_FIELDS}


def _line_items(lines: object) -> tuple[int, str]:
    if not isinstance(lines, list):
        raise RowError("line_items", "expected a list")
    compact = [
        {
            "product_id": to_text(line.get("product_id"), "line_items.product_id", required=False),
            "variant_id": to_text(line.get("variant_id"), "line_items.variant_id", required=False),
            "quantity": to_count(line.get("quantity"), "line_items.quantity"),
            "price": str(to_non_negative_decimal(line.get("price"), "line_items.price")),
        }
        for line in lines
    ]
    return sum(item["quantity"] for item in compact), json.dumps(compact, separators=(",", ":"))


def normalise_order(record: Record, request: FetchRequest) -> dict[str, Any]:
    """An order row; its `report_date` is the date in `created_at`, i.e. the shop-local day."""
    created_text = dig(record, "created_at")
    quantity, lines_json = _line_items(record.get("line_items") or [])
    customer = record.get("customer")
    landing = _masked_text(record, "landing_site")
    email_hash, phone_hash = contact_hashes(
        record, customer, record.get("billing_address"), record.get("shipping_address")
    )
    return {
        **request.row_keys(),
        "order_id": to_text(dig(record, "id"), "id"),
        "order_name": to_text(record.get("name"), "name", required=False),
        "report_date": to_date(created_text, "created_at"),
        "created_at": to_timestamp(created_text, "created_at"),
        "updated_at": to_timestamp(dig(record, "updated_at"), "updated_at"),
        "cancelled_at": _optional_timestamp(record, "cancelled_at"),
        "test": bool(record.get("test", False)),
        "currency": to_text(dig(record, "currency"), "currency"),
        "financial_status": to_text(
            record.get("financial_status"), "financial_status", required=False
        ),
        "fulfillment_status": to_text(
            record.get("fulfillment_status"), "fulfillment_status", required=False
        ),
        "customer_id": to_text(customer.get("id"), "customer.id", required=False)
        if isinstance(customer, Mapping)
        else None,
        "total_price": to_non_negative_decimal(dig(record, "total_price"), "total_price"),
        "subtotal_price": _optional_money(record, "subtotal_price"),
        "total_tax": _optional_money(record, "total_tax"),
        "total_discounts": _optional_money(record, "total_discounts"),
        "total_refunded": refunded_amount(record.get("refunds")),
        "item_quantity": quantity,
        "source_name": to_text(record.get("source_name"), "source_name", required=False),
        "landing_site": landing,
        "referring_site": _masked_text(record, "referring_site"),
        **landing_utms(landing),
        "line_items_json": lines_json,
        "customer_email_hash": email_hash,
        "customer_phone_hash": phone_hash,
    }


def normalise_customer(record: Record, request: FetchRequest) -> dict[str, Any]:
    """A customer row with Shopify's lifetime totals."""
    orders_count = record.get("orders_count")
    email_hash, phone_hash = contact_hashes(record, record.get("default_address"))
    return {
        **request.row_keys(),
        "customer_id": to_text(dig(record, "id"), "id"),
        "created_at": _optional_timestamp(record, "created_at"),
        "updated_at": to_timestamp(dig(record, "updated_at"), "updated_at"),
        "orders_count": None if orders_count is None else to_count(orders_count, "orders_count"),
        "total_spent": _optional_money(record, "total_spent"),
        "currency": to_text(record.get("currency"), "currency", required=False),
        "state": to_text(record.get("state"), "state", required=False),
        "tags": to_text(record.get("tags"), "tags", required=False),
        "last_order_id": to_text(record.get("last_order_id"), "last_order_id", required=False),
        "email_hash": email_hash,
        "phone_hash": phone_hash,
    }


def normalise_product(record: Record, request: FetchRequest) -> dict[str, Any]:
    """A product row with its variants' count and price range."""
    variants = record.get("variants") or []
    if not isinstance(variants, list):
        raise RowError("variants", "expected a list")
    prices = [to_non_negative_decimal(v.get("price"), "variants.price") for v in variants]
    return {
        **request.row_keys(),
        "product_id": to_text(dig(record, "id"), "id"),
        "title": to_text(record.get("title"), "title", required=False),
        "handle": to_text(record.get("handle"), "handle", required=False),
        "product_type": to_text(record.get("product_type"), "product_type", required=False),
        "vendor": to_text(record.get("vendor"), "vendor", required=False),
        "status": to_text(record.get("status"), "status", required=False),
        "created_at": _optional_timestamp(record, "created_at"),
        "updated_at": to_timestamp(dig(record, "updated_at"), "updated_at"),
        "variant_count": len(variants),
        "min_price": min(prices, default=None),
        "max_price": max(prices, default=None),
    }
