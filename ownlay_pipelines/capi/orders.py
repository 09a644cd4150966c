"""Store orders as purchase conversions: a Shopify order or a paid Stripe charge/invoice → Conversion.

Read from the raw webhook body (the only place the buyer's contact data exists in clear; the
lake's order rows hold keyed hashes), so the result goes straight to the outbox.

The event id (each platform's dedup key) is what a storefront pixel can send for the same order:

- Shopify: the order's numeric `id` as a string — the Web Pixels `checkout_completed` event's
  `data.checkout.order.id` (its numeric tail when given as a `gid://shopify/Order/…` GID), so the
  pixel sends `fbq('track', 'Purchase', {…}, {eventID: orderId})` / `ttq.track(…, {event_id})` /
  Snap `client_dedup_id` with that value;
- Stripe: the PaymentIntent id (`pi_…`, which the success page receives as `?payment_intent=`) for
  a charge, the charge id when it has none; the invoice id (`in_…`) for a paid invoice, in every
  API version. A charge paying an invoice is the invoice's purchase: up to 2025-02-24 the charge
  says so (`invoice`) and is skipped here; from 2025-03-31 ("basil") it no longer does, and the
  capture links the two through the `invoice_payment.paid` event (capi/stripe_links.py).

The order id (`order_id`, Google's `orderId`) is the same value. A first-party `purchase` event
naming that order in `properties.order_id` is the same conversion: whichever is queued first is
forwarded, the other is left out (`capi_order_keys`, outbox.py).

Consent: Shopify — `buyer_accepts_marketing: true` or an e-mail or SMS marketing consent state
`subscribed` (on the order or its customer), unless any of them says `unsubscribed` or
`redacted`; Stripe — the object's `metadata.marketing_consent` is `true`, `yes`, `1` or
`granted`; an invoice without it in its own metadata is read from its subscription's metadata
snapshot (`subscription_details.metadata`, from 2025-03-31 `parent.subscription_details.metadata`;
Stripe fills it for invoices created from 2023-06-29). Anything else is no consent, and the order
is never queued.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ownlay_pipelines.capi.conversions import Conversion, click_ids_from_url
from ownlay_pipelines.connectors import stripe_rows

SHOPIFY_ORDER_TOPICS = frozenset({"orders/create", "orders/paid", "orders/updated"})
"""Topics whose body is a whole order; the same order id dedups the repeats."""
STRIPE_PAID_TYPES = frozenset({"charge.succeeded", "invoice.paid", "invoice.payment_succeeded"})
STRIPE_BASIL = "2025-03-31"
"""The first Stripe API version whose Charge and PaymentIntent no longer name their invoice."""
CONSENT_YES = frozenset({"true", "yes", "1", "granted"})
_REFUSED = frozenset({"unsubscribed", "redacted"})


def shopify_order_conversion(order: Mapping[str, Any], workspace_id: str) -> Conversion | None:
    """The purchase conversion of a Shopify order body, or None for a test or cancelled order."""
    if order.get("test") is True or order.get("cancelled_at") or order.get("id") is None:
        return None
    customer = _mapping(order.get("customer"))
    address = _mapping(order.get("billing_address")) or _mapping(order.get("shipping_address"))
    client = _mapping(order.get("client_details"))
    user_agent = _text(client.get("user_agent"))
    landing = _text(order.get("landing_site"))
    content_ids = tuple(
        str(item.get("variant_id") or item.get("product_id"))
        for item in order.get("line_items") or ()
        if isinstance(item, Mapping) and (item.get("variant_id") or item.get("product_id"))
    )
    return Conversion(
        workspace_id=workspace_id,
        event_id=str(order["id"]),
        event_type="purchase",
        event_time=_iso_time(order.get("processed_at") or order.get("created_at")),
        marketing_consent=shopify_marketing_consent(order),
        value=_float(order.get("total_price")),
        currency=_text(order.get("currency")),
        order_id=str(order["id"]),
        content_ids=content_ids,
        page_url=landing,
        email=_first(order.get("email"), order.get("contact_email"), customer.get("email")),
        phone=_first(order.get("phone"), customer.get("phone"), address.get("phone")),
        first_name=_first(address.get("first_name"), customer.get("first_name")),
        last_name=_first(address.get("last_name"), customer.get("last_name")),
        city=_text(address.get("city")),
        state=_text(address.get("province_code")),
        zip=_text(address.get("zip")),
        country=_text(address.get("country_code")),
        external_id=str(customer["id"]) if customer.get("id") is not None else None,
        ip=_first(order.get("browser_ip"), client.get("browser_ip")),
        user_agent=user_agent,
        click_ids=click_ids_from_url(landing),
        action_source="website" if user_agent else "other",
    )


def shopify_marketing_consent(order: Mapping[str, Any]) -> bool:
    """Whether the buyer accepted marketing (see the module docstring for the rule)."""
    customer = _mapping(order.get("customer"))
    states = {
        str(_mapping(holder.get(name)).get("state", "")).lower()
        for holder in (order, customer)
        for name in ("email_marketing_consent", "sms_marketing_consent")
    }
    if states & _REFUSED:
        return False
    return order.get("buyer_accepts_marketing") is True or "subscribed" in states


def stripe_event_conversion(event: Mapping[str, Any], workspace_id: str) -> Conversion | None:
    """The purchase conversion of a Stripe `charge.succeeded` or paid-invoice event, or None.

    A charge that names the invoice it pays is left to the invoice's event (one conversion per
    payment); a basil charge cannot say, so the capture links it (capi/stripe_links.py).
    """
    kind = event.get("type")
    obj = _mapping(_mapping(event.get("data")).get("object"))
    if kind not in STRIPE_PAID_TYPES or not obj.get("id"):
        return None
    currency = str(obj.get("currency") or "").upper()
    consent = _stripe_consent(obj, kind)
    if kind == "charge.succeeded":
        if obj.get("invoice") or obj.get("paid") is False:
            return None
        billing = _mapping(obj.get("billing_details"))
        address = _mapping(billing.get("address"))
        amount = obj.get("amount_captured") or obj.get("amount")
        dedup_id = _text(obj.get("payment_intent")) or str(obj["id"])
        email = _first(billing.get("email"), obj.get("receipt_email"))
        phone = _text(billing.get("phone"))
        source = "other"
    else:
        address = _mapping(obj.get("customer_address"))
        amount = obj.get("amount_paid")
        dedup_id = str(obj["id"])
        email = _text(obj.get("customer_email"))
        phone = _text(obj.get("customer_phone"))
        source = (
            "system_generated" if obj.get("billing_reason") == "subscription_cycle" else "other"
        )
    value = float(stripe_rows.amount(amount, currency, "amount")) if amount is not None else None
    customer = obj.get("customer")
    return Conversion(
        workspace_id=workspace_id,
        event_id=dedup_id,
        event_type="purchase",
        event_time=datetime.fromtimestamp(int(obj.get("created") or event["created"]), UTC),
        marketing_consent=consent,
        value=value,
        currency=currency or None,
        order_id=dedup_id,
        email=email,
        phone=phone,
        city=_text(address.get("city")),
        state=_text(address.get("state")),
        zip=_text(address.get("postal_code")),
        country=_text(address.get("country")),
        external_id=customer if isinstance(customer, str) and customer else None,
        action_source=source,
    )


def stripe_basil(event: Mapping[str, Any]) -> bool:
    """Whether the event is rendered in API 2025-03-31 or later: its `api_version`, or (an event
    without one) a charge object without the `invoice` key every earlier version sends."""
    version = event.get("api_version")
    if isinstance(version, str) and version:
        return version[:10] >= STRIPE_BASIL
    obj = _mapping(_mapping(event.get("data")).get("object"))
    return obj.get("object") == "charge" and "invoice" not in obj


def _stripe_consent(obj: Mapping[str, Any], kind: object) -> bool:
    """The object's `metadata.marketing_consent`; for an invoice without it, its subscription's
    metadata snapshot (top-level `subscription_details` up to 2025-02-24, under `parent` on)."""
    holders = [_mapping(obj.get("metadata"))]
    if kind != "charge.succeeded":
        parent = _mapping(_mapping(obj.get("parent")).get("subscription_details"))
        holders += [
            _mapping(_mapping(obj.get("subscription_details")).get("metadata")),
            _mapping(parent.get("metadata")),
        ]
    value = next((h["marketing_consent"] for h in holders if "marketing_consent" in h), "")
    return str(value).strip().lower() in CONSENT_YES


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _first(*values: object) -> str | None:
    return next((text for value in values if (text := _text(value))), None)


def _float(value: object) -> float | None:
    try:
        return float(str(value)) if value is not None else None
    except ValueError:
        return None


def _iso_time(value: object) -> datetime:
    if not isinstance(value, str):
        raise ValueError("the order has no created_at/processed_at time")
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
