"""The payment webhooks a sandbox Stripe account sends, rendered in a webhook endpoint's API version.

A webhook endpoint renders its events in its own API version, not the sync's pinned one, so the
same payment reaches the ingest route in different shapes:

- up to 2025-02-24 (the sync's 2022-11-15 here): `charge.succeeded` names the invoice the charge
  pays (`invoice`, null for a one-off payment), then `invoice.paid` and
  `invoice.payment_succeeded` carry the invoice with its `charge`, `payment_intent`, `paid` and
  top-level `subscription` / `subscription_details`;
- from 2025-03-31 ("basil"): the Charge and PaymentIntent lose `invoice`, the Invoice loses
  `charge`, `payment_intent`, `paid` and `paid_out_of_band`, and its subscription moves under
  `parent.subscription_details` (with the subscription's metadata snapshot); the link between
  the two is a separate InvoicePayment object (`inpay_…`: `invoice`, `payment.type`
  `payment_intent` with `payment.payment_intent`, `status`, `amount_paid`), announced by an
  `invoice_payment.paid` event. Sources: docs.stripe.com/changelog/basil/2025-03-31/
  add-support-for-multiple-partial-payments-on-invoices and
  docs.stripe.com/api/invoice-payment/object.

Stripe sends a subscription payment's events as `charge.succeeded`, (basil)
`invoice_payment.paid`, `invoice.paid`, `invoice.payment_succeeded` — but delivers them in no
guaranteed order, which the tests permute.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ownlay_pipelines.sandbox.seeding import digits, rng_for
from ownlay_pipelines.sandbox.stripe_billing import StripeAccountWorld

LEGACY = "2022-11-15"
BASIL = "2025-03-31.basil"
_BASIL_DAY = "2025-03-31"
_INVOICE_FIELDS_GONE = ("charge", "payment_intent", "paid", "paid_out_of_band", "subscription")


@dataclass(frozen=True)
class SandboxPayment:
    """One successful payment and the events announcing it, in the order Stripe sends them."""

    intent_id: str
    charge_id: str
    invoice_id: str | None
    """None for a one-off payment (no invoice)."""
    billing_reason: str | None
    consent: bool
    """Whether the payment's consent metadata says yes (the invoice's subscription's, or the
    one-off charge's own)."""
    events: tuple[dict[str, Any], ...]


def is_basil(api_version: str) -> bool:
    """Whether `api_version` (`YYYY-MM-DD[.name]`) is 2025-03-31 or later."""
    return api_version[:10] >= _BASIL_DAY


def payment_events(account: StripeAccountWorld, api_version: str) -> list[SandboxPayment]:
    """Every succeeded payment of the account with its webhook events in `api_version`."""
    invoices, charges = account.invoices_and_charges()
    by_id = {invoice["id"]: invoice for invoice in invoices}
    payments = []
    for charge in charges:
        if charge["status"] != "succeeded":
            continue
        invoice = by_id.get(charge["invoice"]) if charge["invoice"] else None
        events = [_event(account, "charge.succeeded", _charge(charge, api_version), api_version)]
        if invoice is not None:
            if is_basil(api_version):
                link = _invoice_payment(account, invoice, charge)
                events.append(_event(account, "invoice_payment.paid", link, api_version))
            shaped = _invoice(invoice, api_version)
            for kind in ("invoice.paid", "invoice.payment_succeeded"):
                events.append(_event(account, kind, shaped, api_version))
            metadata = invoice["subscription_details"]["metadata"]
        else:
            metadata = charge["metadata"]
        payments.append(
            SandboxPayment(
                intent_id=charge["payment_intent"],
                charge_id=charge["id"],
                invoice_id=None if invoice is None else invoice["id"],
                billing_reason=None if invoice is None else invoice["billing_reason"],
                consent=metadata.get("marketing_consent") == "true",
                events=tuple(events),
            )
        )
    return payments


def _charge(charge: dict[str, Any], api_version: str) -> dict[str, Any]:
    if not is_basil(api_version):
        return dict(charge)
    return {name: value for name, value in charge.items() if name != "invoice"}


def _invoice(invoice: dict[str, Any], api_version: str) -> dict[str, Any]:
    if not is_basil(api_version):
        return dict(invoice)
    shaped = {
        name: value
        for name, value in invoice.items()
        if name not in _INVOICE_FIELDS_GONE and name != "subscription_details"
    }
    shaped["amount_overpaid"] = 0
    shaped["parent"] = {
        "type": "subscription_details",
        "quote_details": None,
        "subscription_details": {
            "metadata": invoice["subscription_details"]["metadata"],
            "subscription": invoice["subscription"],
        },
    }
    return shaped


def _invoice_payment(
    account: StripeAccountWorld, invoice: dict[str, Any], charge: dict[str, Any]
) -> dict[str, Any]:
    """The InvoicePayment linking the invoice to the PaymentIntent that paid it."""
    rng = rng_for(account.seed, "stripe-invoice-payment", invoice["id"])
    return {
        "id": f"inpay_{digits(rng, 14)}",
        "object": "invoice_payment",
        "amount_paid": invoice["amount_paid"],
        "amount_requested": invoice["amount_due"],
        "created": invoice["created"],
        "currency": invoice["currency"],
        "invoice": invoice["id"],
        "is_default": True,
        "livemode": False,
        "payment": {"type": "payment_intent", "payment_intent": charge["payment_intent"]},
        "status": "paid",
        "status_transitions": {"canceled_at": None, "paid_at": charge["created"]},
    }


def _event(
    account: StripeAccountWorld, kind: str, obj: dict[str, Any], api_version: str
) -> dict[str, Any]:
    rng = rng_for(account.seed, "stripe-payment-event", obj["id"], kind, api_version)
    return {
        "id": f"evt_{digits(rng, 16)}",
        "object": "event",
        "api_version": api_version,
        "created": obj["created"] if kind == "charge.succeeded" else obj["created"] + 5,
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": kind,
    }
