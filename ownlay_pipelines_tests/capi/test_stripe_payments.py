"""One purchase per Stripe payment, whatever the webhook endpoint's API version and event order.

The sandbox account renders its payments as a webhook endpoint receives them
(sandbox/stripe_webhooks.py): up to 2025-02-24 a charge names the invoice it pays; from
2025-03-31 ("basil") it does not, and an `invoice_payment.paid` event links the two. The events
go into the webhook store as the ingest route stores them, order capture queues them, and each
destination must end up with exactly one purchase per consented payment.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import anyio
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from ownlay_pipelines.capi.order_capture import capture_webhook_orders, source_cursor
from ownlay_pipelines.capi.tables import capi_outbox
from ownlay_pipelines.http.clock import FakeClock
from ownlay_pipelines.ingest.app import create_app
from ownlay_pipelines.ingest.config import IngestSettings
from ownlay_pipelines.ingest.webhook_store import WebhookStore
from ownlay_pipelines.registry.workspaces import load_registry
from ownlay_pipelines.sandbox.stripe import StripeSimulator
from ownlay_pipelines.sandbox.stripe_webhooks import (
    BASIL,
    LEGACY,
    SandboxPayment,
    payment_events,
)
from ownlay_pipelines.sandbox.world import SandboxWorld
from ownlay_pipelines.settings import DEFAULT_REGISTRY_FILE
from ownlay_pipelines_tests.ingest.payloads import NOW, PII_KEY, stripe_signature

REGISTRY = load_registry(DEFAULT_REGISTRY_FILE)
WORKSPACE = REGISTRY.get("acme-outdoor")
ACCOUNT = "acct_1AcmeOutdoor"
SANDBOX_NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
RECEIVED = datetime(2026, 11, 30, 12, 5, tzinfo=UTC)
LATER = RECEIVED + timedelta(hours=1)
"""A capture long after every delivery arrived (any wait for a link is over)."""


def _payments(api_version: str) -> list[SandboxPayment]:
    """A sample with every case: first invoices, renewals, one-off payments, with and without
    consent."""
    world = SandboxWorld(REGISTRY, seed=7, now=SANDBOX_NOW)
    everything = payment_events(StripeSimulator(world).account(ACCOUNT), api_version)
    picked: list[SandboxPayment] = []
    for reason in ("subscription_create", "subscription_cycle", None):
        for consent in (True, False):
            same = [p for p in everything if p.billing_reason == reason and p.consent is consent]
            picked.extend(same[: 3 if consent else 1])
    assert len(picked) == 12
    return picked


class Deliveries:
    """The workspace's webhook store, filled as the Stripe ingest route fills it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0

    def send(self, events, received: datetime = RECEIVED) -> None:
        store = WebhookStore(self.path)
        try:
            for event in events:
                self.count += 1
                anyio.run(
                    partial(
                        store.append,
                        provider="stripe",
                        workspace_id=WORKSPACE.id,
                        delivery_id=f"{event['id']}-{self.count}",  # a redelivery is a new row
                        topic=event["type"],
                        received_at_us=int(received.timestamp() * 1_000_000),
                        headers={},
                        raw_body=json.dumps(event).encode(),
                    )
                )
        finally:
            store.close()


def _queued(store: sa.Engine) -> dict[str, Counter[str]]:
    """Event ids queued per destination, with how many rows each."""
    found: dict[str, Counter[str]] = {}
    with store.connect() as connection:
        for destination, event_id in connection.execute(
            sa.select(capi_outbox.c.destination_id, capi_outbox.c.event_id)
        ):
            found.setdefault(destination, Counter())[event_id] += 1
    return found


def _payloads(store: sa.Engine) -> dict[str, dict]:
    with store.connect() as connection:
        rows = connection.execute(
            sa.select(capi_outbox.c.event_id, capi_outbox.c.payload).where(
                capi_outbox.c.destination_id == "meta-capi"
            )
        ).all()
    return {event_id: json.loads(payload) for event_id, payload in rows}


def _expected(payments: list[SandboxPayment]) -> set[str]:
    """The one event id per consented payment: the invoice's, or a one-off's PaymentIntent."""
    return {p.invoice_id or p.intent_id for p in payments if p.consent}


ORDERS = {
    "as_sent": lambda events: list(events),
    "invoice_first": lambda events: sorted(events, key=lambda e: e["type"] == "charge.succeeded"),
    "link_last": lambda events: sorted(events, key=lambda e: e["type"] == "invoice_payment.paid"),
    "shuffled": lambda events: random.Random(len(events)).sample(events, len(events)),
}


@pytest.mark.parametrize("api_version", [LEGACY, BASIL])
@pytest.mark.parametrize("order", sorted(ORDERS))
def test_each_payment_is_one_purchase_in_either_version_and_any_event_order(
    store, tmp_path: Path, api_version: str, order: str
) -> None:
    payments = _payments(api_version)
    deliveries = Deliveries(tmp_path / "webhooks.sqlite")
    for payment in payments:
        deliveries.send(ORDERS[order](payment.events))

    report = capture_webhook_orders(store, WORKSPACE, deliveries.path, now=LATER, hasher=None)

    expected = _expected(payments)
    assert len(expected) == 9  # 3 first invoices, 3 renewals, 3 one-off payments
    queued = _queued(store)
    assert set(queued) == {"meta-capi", "google-ec", "tiktok-events", "snap-capi"}
    for counts in queued.values():
        assert counts == Counter(dict.fromkeys(expected, 1))
    assert report.queued == 4 * 9
    payloads = _payloads(store)
    for payment in payments:
        if not payment.consent:
            continue
        payload = payloads[payment.invoice_id or payment.intent_id]
        # What only the invoice path knows survives: a renewal is system-generated.
        renewal = payment.billing_reason == "subscription_cycle"
        assert payload["action_source"] == ("system_generated" if renewal else "other")
        assert payload["email"].endswith("@customers.example")
        assert payload["marketing_consent"] is True

    # Stripe redelivers (at least once): everything again, reversed, changes nothing.
    for payment in payments:
        deliveries.send(list(reversed(payment.events)))
    again = capture_webhook_orders(store, WORKSPACE, deliveries.path, now=LATER, hasher=None)
    assert again.queued == 0 and _queued(store) == queued
    assert source_cursor(store, WORKSPACE.id, "stripe") == deliveries.count


def test_a_basil_charge_waits_for_the_invoice_payment_that_may_name_it(
    store, tmp_path: Path
) -> None:
    payments = _payments(BASIL)
    renewal = next(p for p in payments if p.billing_reason == "subscription_cycle" and p.consent)
    one_off = next(p for p in payments if p.invoice_id is None and p.consent)
    deliveries = Deliveries(tmp_path / "webhooks.sqlite")
    charge, link, *invoice_events = renewal.events
    assert (charge["type"], link["type"]) == ("charge.succeeded", "invoice_payment.paid")
    deliveries.send([charge])
    deliveries.send(one_off.events)

    # A minute after the charges arrived nothing of them is queued: an invoice may still claim
    # them, and the capture cursor stays before the first one.
    soon = capture_webhook_orders(
        store, WORKSPACE, deliveries.path, now=RECEIVED + timedelta(minutes=1), hasher=None
    )
    assert (soon.queued, soon.held) == (0, 1)
    assert _queued(store) == {} and source_cursor(store, WORKSPACE.id, "stripe") == 0

    # The invoice's events arrive; once the wait is over the renewal is one system-generated
    # purchase keyed by its invoice, the one-off payment one keyed by its PaymentIntent.
    deliveries.send([link, *invoice_events], received=RECEIVED + timedelta(minutes=2))
    late = capture_webhook_orders(
        store, WORKSPACE, deliveries.path, now=RECEIVED + timedelta(minutes=20), hasher=None
    )
    assert late.held == 0 and late.same_order == 4  # the renewal's charge, per destination
    assert _queued(store)["meta-capi"] == Counter({renewal.invoice_id: 1, one_off.intent_id: 1})
    assert _payloads(store)[renewal.invoice_id]["action_source"] == "system_generated"


def test_a_link_arriving_after_its_charge_was_queued_keeps_the_charge_alone(
    store, tmp_path: Path
) -> None:
    # Stripe retried the invoice_payment.paid delivery for an hour: the charge went to the outbox
    # alone after the wait (as a one-off, as far as anyone knew). The late link then gives the
    # invoice's order to the charge, so the invoice is not a second purchase; it is counted.
    payments = _payments(BASIL)
    first = next(p for p in payments if p.billing_reason == "subscription_create" and p.consent)
    charge, link, *invoice_events = first.events
    deliveries = Deliveries(tmp_path / "webhooks.sqlite")
    deliveries.send([charge])
    capture_webhook_orders(store, WORKSPACE, deliveries.path, now=LATER, hasher=None)
    deliveries.send([*invoice_events, link], received=LATER)
    report = capture_webhook_orders(
        store, WORKSPACE, deliveries.path, now=LATER + timedelta(hours=1), hasher=None
    )
    assert (report.late_links, report.queued, report.same_order) == (1, 0, 8)
    assert _queued(store)["meta-capi"] == Counter({first.intent_id: 1})


def test_signed_basil_deliveries_through_the_ingest_route_are_one_purchase(
    store, tmp_path: Path
) -> None:
    # The real route verifies, stores (invoice_payment.paid included, whatever its type) and
    # acknowledges; a redelivery of the same event is stored once.
    secret = "whsec_acme_outdoor_current"
    settings = IngestSettings(
        lake_dir=tmp_path / "data" / "lake",
        buffer_path=tmp_path / "data" / "buffer.sqlite",
        database_url=f"sqlite:///{tmp_path / 'ingest-ops.sqlite'}",
    )
    environ = {
        "OWNLAY_PII_HASH_KEY": PII_KEY,
        "OWNLAY_STRIPE_WEBHOOK_SECRET__ACME_OUTDOOR": secret,
    }
    renewal = next(
        p for p in _payments(BASIL) if p.billing_reason == "subscription_cycle" and p.consent
    )
    with TestClient(create_app(settings, clock=FakeClock(NOW), environ=environ)) as client:
        for event in [*renewal.events, renewal.events[0]]:
            body = json.dumps(event).encode()
            headers = {
                "Stripe-Signature": stripe_signature(body, [secret], int(NOW.timestamp())),
                "Content-Type": "application/json",
            }
            response = client.post(
                "/api/v1/webhooks/stripe/acme-outdoor", content=body, headers=headers
            )
            assert response.status_code < 300, response.text
    path = settings.webhook_deliveries_path

    soon = capture_webhook_orders(store, WORKSPACE, path, now=NOW, hasher=None)
    later = capture_webhook_orders(
        store, WORKSPACE, path, now=NOW + timedelta(hours=1), hasher=None
    )

    assert (soon.queued, soon.held) == (0, 1)  # the charge waits for its link
    assert (later.deliveries, later.queued) == (4, 4)
    assert _queued(store)["meta-capi"] == Counter({renewal.invoice_id: 1})
    assert _payloads(store)[renewal.invoice_id]["action_source"] == "system_generated"
