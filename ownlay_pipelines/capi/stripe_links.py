"""One purchase per Stripe payment from API 2025-03-31 ("basil") on: charges linked to invoices.

The change (docs.stripe.com/changelog/basil/2025-03-31/
add-support-for-multiple-partial-payments-on-invoices): the Charge and PaymentIntent lose
`invoice`; the Invoice loses `charge`, `payment_intent` and `paid`. The link between an invoice
and the payment that paid it is the InvoicePayment object (docs.stripe.com/api/invoice-payment/
object: `invoice`, `payment.type` = `payment_intent` with `payment.payment_intent`, or `charge`
with `payment.charge` for a charge without a PaymentIntent; `status` `paid`), announced by the
`invoice_payment.paid` event and listed by `GET /v1/invoice_payments?invoice=…` or
`?payment[type]=payment_intent&payment[payment_intent]=pi_…`. Stripe sends a subscription
payment's events as `charge.succeeded`, `invoice_payment.paid`, `invoice.paid`,
`invoice.payment_succeeded`, and delivers them in no guaranteed order. A webhook endpoint renders
events in its own API version, so one workspace can meet both shapes.

Up to 2025-02-24 orders.py skips a charge naming its invoice. From basil the charge cannot say,
so without a link a subscription payment queued two purchases (`pi_…` and `in_…`). Design:

- The invoice stays the conversion, keyed `in_…` in every version: only it carries the
  `billing_reason` (a renewal is `system_generated`), the subscription's consent snapshot and the
  customer's e-mail, phone and address, and an account moving to basil keeps its ids.
- The link is an order claim (`capi_order_keys`, outbox.py `claim_orders`): the PaymentIntent's
  order (`pi_…`, or the charge id) is owned by the invoice's event, so the charge's conversion
  — and a first-party purchase naming the PaymentIntent — is left out as `same_order`, exactly as
  a store order already forwarded leaves out its first-party twin. Idempotent: a replayed link,
  charge or invoice changes nothing.
- Ordering: before a capture pass reads a workspace's Stripe deliveries, every
  `invoice_payment.paid` after its cursor is claimed first (`claim_invoice_payment_links`). A basil
  charge that would be queued waits `LINK_WAIT` after it was received (`held`): the cursor stays
  before it, so the deliveries after it wait too (pre-basil endpoints never wait). Stripe sends
  the link seconds after the charge, so it is read before the charge is converted, whichever was
  delivered first.
- A link read after its charge was already queued (its delivery was retried for longer than the
  wait) gives the invoice's order to the charge's event instead, so the invoice is left out: one
  purchase, without the invoice's action source. Only if the invoice was queued too are both
  forwarded. Such links are counted (`late_links`, each capture pass that reads them).

Not done: looking the link up with `GET /v1/invoice_payments` for a charge whose link never came
(the capture reads the webhook store only, without the account's API key); an endpoint on basil
must subscribe to `invoice_payment.paid` (docs/capi.md).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ownlay_pipelines.capi.orders import stripe_basil, stripe_event_conversion
from ownlay_pipelines.capi.outbox import claim_orders
from ownlay_pipelines.ingest.webhook_store import WebhookDelivery, read_webhook_deliveries
from ownlay_pipelines.registry.workspaces import Workspace

PROVIDER = "stripe"
LINK_TYPE = "invoice_payment.paid"
LINK_WAIT = timedelta(minutes=10)
"""How long a basil charge waits after its delivery for an invoice payment to name it."""
PAGE = 1000


@dataclass
class LinkReport:
    """Links claimed in one pass: new ones, and ones read after their charge was queued."""

    links: int = 0
    late: int = 0


def invoice_payment_link(event: Mapping[str, Any]) -> tuple[str, str] | None:
    """(the order id of the payment, the invoice id) of a paid `invoice_payment.paid` event —
    the payment's order being its PaymentIntent (`pi_…`), or the charge (`ch_…`) for a payment
    of `type` `charge` — or None for any other event."""
    if event.get("type") != LINK_TYPE:
        return None
    obj = _mapping(_mapping(event.get("data")).get("object"))
    payment = _mapping(obj.get("payment"))
    kind = payment.get("type")
    order = _id(payment.get(kind)) if kind in ("payment_intent", "charge") else None
    invoice = _id(obj.get("invoice"))
    if obj.get("status") != "paid" or order is None or invoice is None:
        return None
    return order, invoice


def held(delivery: WebhookDelivery, workspace_id: str, now: datetime) -> bool:
    """Whether the delivery is a basil charge that would be queued and was received less than
    `LINK_WAIT` before `now`, so an invoice payment may still name it."""
    if delivery.topic != "charge.succeeded":
        return False
    if delivery.received_at_us > int((now - LINK_WAIT).timestamp() * 1_000_000):
        try:
            event = json.loads(delivery.raw_body)
            if not isinstance(event, Mapping) or not stripe_basil(event):
                return False
            conversion = stripe_event_conversion(event, workspace_id)
        except (ValueError, TypeError, KeyError):
            return False  # not read as an order anyway: the capture counts it as refused
        return conversion is not None and conversion.marketing_consent
    return False


def claim_invoice_payment_links(
    engine: sa.Engine,
    workspace: Workspace,
    deliveries_path: Path,
    *,
    after_seq: int,
    now: datetime,
) -> LinkReport:
    """Claim for each invoice the order of the payment that paid it, from every
    `invoice_payment.paid` delivery after `after_seq`; a link whose payment another event
    already owns gives the invoice's order to that event instead."""
    links: dict[str, str] = {}
    cursor = after_seq
    while batch := read_webhook_deliveries(
        deliveries_path,
        provider=PROVIDER,
        workspace_id=workspace.id,
        after_seq=cursor,
        limit=PAGE,
        topics=(LINK_TYPE,),
    ):
        for delivery in batch:
            try:
                link = invoice_payment_link(json.loads(delivery.raw_body))
            except (ValueError, AttributeError):
                link = None
            if link is not None:
                links.setdefault(*link)
        cursor = batch[-1].seq
    report = LinkReport(links=len(links))
    taken = claim_orders(engine, workspace.id, workspace.capi, links, now=now)
    if taken:
        report.late = len(taken)
        owners = {links[order]: owner for order, owner in taken.items()}
        claim_orders(engine, workspace.id, workspace.capi, owners, now=now)
    return report


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _id(value: object) -> str | None:
    """An id, or the id of an expanded object."""
    if isinstance(value, Mapping):
        value = value.get("id")
    return value if isinstance(value, str) and value else None
