"""Stripe objects as other API versions than the pinned 2022-11-15 send them.

The API sync pins `Stripe-Version`, but a webhook endpoint renders its events in the endpoint's
own version, so the normalisers meet both older objects (subscription items with the legacy
`plan` only) and newer ones (invoices from 2025-03-31 on name their subscription under
`parent.subscription_details`). Each body here is the wire shape of that version.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from ownlay_pipelines.connectors import stripe
from ownlay_pipelines.connectors.streams import FetchRequest
from ownlay_pipelines.connectors.stripe_rows import normalise_invoice, normalise_subscription
from ownlay_pipelines.connectors.wire_values import RowError
from ownlay_pipelines.registry.workspaces import load_registry
from ownlay_pipelines.settings import DEFAULT_REGISTRY_FILE

CREATED = 1767286800  # 2026-01-01 17:00 UTC


@pytest.fixture(scope="module")
def request_():
    workspace = load_registry(DEFAULT_REGISTRY_FILE).get("acme-outdoor")
    [connection] = workspace.connections_for(stripe.Platform.STRIPE)
    return FetchRequest(workspace, connection, None)


def invoice(**fields):
    return {
        "id": "in_1",
        "object": "invoice",
        "created": CREATED,
        "customer": "cus_A",
        "currency": "usd",
        "status": "paid",
        "billing_reason": "subscription_cycle",
        "subtotal": 5000,
        "total": 5000,
        "amount_paid": 5000,
        "amount_due": 5000,
        "period_start": CREATED,
        "period_end": CREATED + 31 * 86400,
        **fields,
    }


def test_an_invoice_names_its_subscription_in_either_api_version(request_):
    # 2022-11-15: a top-level `subscription`.
    assert normalise_invoice(invoice(subscription="sub_1"), request_)["subscription_id"] == "sub_1"
    # 2025-03-31 (basil) on: no `subscription`, the id sits under `parent`.
    parent = {"type": "subscription_details", "subscription_details": {"subscription": "sub_1"}}
    basil = invoice(parent=parent)
    assert normalise_invoice(basil, request_)["subscription_id"] == "sub_1"
    # A one-off invoice has no parent (or a parent of another type): no subscription.
    assert normalise_invoice(invoice(parent=None), request_)["subscription_id"] is None
    quote = {"type": "quote_details", "quote_details": {"quote": "qt_1"}}
    assert normalise_invoice(invoice(parent=quote), request_)["subscription_id"] is None


def legacy_subscription(plan: dict, quantity: int = 2) -> dict:
    return {
        "id": "sub_1",
        "object": "subscription",
        "created": CREATED,
        "start_date": CREATED,
        "customer": "cus_A",
        "currency": "usd",
        "status": "active",
        "discount": None,
        "items": {"data": [{"id": "si_1", "quantity": quantity, "plan": plan}]},
    }


def plan(**fields):
    return {
        "id": "plan_1",
        "object": "plan",
        "amount": 1500,
        "currency": "usd",
        "interval": "month",
        "interval_count": 1,
        "usage_type": "licensed",
        "billing_scheme": "per_unit",
        **fields,
    }


def test_a_subscription_item_with_only_the_legacy_plan_is_read_from_it(request_):
    # 2 × 15.00 a month = 30.00.
    assert normalise_subscription(legacy_subscription(plan()), request_)["mrr"] == Decimal(30)
    # 3 × 90.00 every 3 months = 90.00; `amount_decimal` (sub-cent plans) when `amount` is null.
    quarterly = plan(amount=None, amount_decimal="9000", interval_count=3)
    assert normalise_subscription(legacy_subscription(quarterly, 3), request_)["mrr"] == 90
    # Package pricing on a plan is `transform_usage`: 12 seats in packs of 5, rounded up = 3.
    packs = plan(amount=1000, transform_usage={"divide_by": 5, "round": "up"})
    assert normalise_subscription(legacy_subscription(packs, 12), request_)["mrr"] == 30
    # Metered plans are left out like metered prices.
    metered = legacy_subscription(plan(usage_type="metered"))
    assert normalise_subscription(metered, request_)["mrr"] == 0
    # An item with neither is still refused, naming the price.
    neither = legacy_subscription(plan())
    neither["items"]["data"][0]["plan"] = None
    with pytest.raises(RowError, match=r"items.data\[0\].price.recurring"):
        normalise_subscription(neither, request_)


def test_an_item_list_cut_short_is_refused_not_summed(request_):
    # The embedded `items` is a Stripe list: with `has_more` the items after it are missing,
    # and summing the ones sent would understate MRR without a trace.
    cut = legacy_subscription(plan())
    cut["items"]["has_more"] = True
    with pytest.raises(RowError, match=r"items.has_more"):
        normalise_subscription(cut, request_)
    cut["items"]["has_more"] = False
    assert normalise_subscription(cut, request_)["mrr"] == 30


def test_a_basil_charge_event_keeps_the_invoice_the_sync_stored(request_, tmp_path):
    # The API sync (2022-11-15) stored the charge with its invoice; a charge.refunded rendered in
    # 2025-03-31 has no `invoice`. The refund is applied, the invoice is not lost.
    import json
    from dataclasses import dataclass

    import pyarrow as pa

    from ownlay_pipelines.connectors.stripe_webhooks import apply_stripe_events
    from ownlay_pipelines.lake.writer import read_partition, write_partition

    @dataclass(frozen=True)
    class Delivery:
        seq: int
        topic: str
        headers: dict
        raw_body: bytes

    charges = next(s for s in stripe.STREAMS if s.table == "charges")
    charge = {
        "id": "ch_1",
        "object": "charge",
        "amount": 5000,
        "amount_refunded": 0,
        "currency": "usd",
        "created": CREATED,
        "customer": "cus_A",
        "invoice": "in_1",
        "payment_intent": "pi_1",
        "status": "succeeded",
        "paid": True,
        "refunded": False,
    }
    row = charges.normalise(charge, request_)
    day = row["report_date"]
    synced = pa.Table.from_pylist([row], schema=charges.schema)
    write_partition(tmp_path, charges.ref, synced, workspace_id="acme-outdoor", report_date=day)
    basil = {k: v for k, v in charge.items() if k != "invoice"} | {"amount_refunded": 2000}
    event = {
        "id": "evt_1",
        "object": "event",
        "api_version": "2025-03-31.basil",
        "type": "charge.refunded",
        "created": CREATED + 3600,
        "data": {"object": basil},
    }
    result = apply_stripe_events(
        [Delivery(1, event["type"], {}, json.dumps(event).encode())],
        workspace=request_.workspace,
        lake_root=tmp_path,
    )
    assert result.refused == []
    [stored] = read_partition(
        tmp_path, charges.ref, workspace_id="acme-outdoor", report_date=day
    ).to_pylist()
    assert (stored["invoice_id"], stored["amount_refunded"]) == ("in_1", Decimal(20))
