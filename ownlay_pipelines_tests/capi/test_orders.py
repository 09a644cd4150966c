"""Store orders as purchase conversions: mapping, consent, dedup ids, and capture from webhooks."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from ownlay_pipelines.capi.capture import capture_events
from ownlay_pipelines.capi.conversions import Conversion
from ownlay_pipelines.capi.order_capture import capture_webhook_orders, source_cursor
from ownlay_pipelines.capi.orders import (
    shopify_marketing_consent,
    shopify_order_conversion,
    stripe_basil,
    stripe_event_conversion,
)
from ownlay_pipelines.capi.stripe_links import invoice_payment_link
from ownlay_pipelines.capi.tables import capi_outbox
from ownlay_pipelines.capi.wire import build_event
from ownlay_pipelines.events.model import EventValidationContext, OwnlayEvent, TimestampPolicy
from ownlay_pipelines.lifecycle.ops_tables import create_lifecycle_tables, gdpr_suppressions
from ownlay_pipelines.lifecycle.subject import IdentifierKind
from ownlay_pipelines.lifecycle.suppression import SUPPRESSIONS
from ownlay_pipelines.privacy.keyed_hash import PiiHasher, PiiKeyMissing
from ownlay_pipelines_tests.capi.destinations import DESTINATIONS
from ownlay_pipelines_tests.capi.store_orders import (
    EMAIL,
    NOW,
    PHONE,
    WORKSPACE,
    deliver,
    shopify_order,
)


def test_a_shopify_order_becomes_a_purchase_keyed_by_its_order_id() -> None:
    conversion = shopify_order_conversion(shopify_order(), WORKSPACE.id)
    assert conversion is not None
    assert (conversion.event_id, conversion.order_id, conversion.event_type) == (
        "820982911946154508",
        "820982911946154508",
        "purchase",
    )
    assert (conversion.value, conversion.currency, conversion.content_ids) == (
        409.94,
        "USD",
        ("808950810",),
    )
    assert conversion.event_time == datetime(2026, 11, 21, 11, 0, 1, tzinfo=UTC)
    assert (conversion.email, conversion.phone, conversion.external_id) == (
        EMAIL,
        PHONE,
        "207119551",
    )
    assert (conversion.city, conversion.state, conversion.zip, conversion.country) == (
        "Portland",
        "OR",
        "97201",
        "US",
    )
    assert conversion.user_agent == "Mozilla/5.0 Firefox/120" and conversion.marketing_consent
    assert conversion.click_ids == {"fbclid": "IwAR7"} and conversion.action_source == "website"


@pytest.mark.parametrize(
    ("changes", "consent"),
    [
        ({}, True),
        ({"buyer_accepts_marketing": False}, False),
        ({"buyer_accepts_marketing": None}, False),
        (
            {"buyer_accepts_marketing": False, "email_marketing_consent": {"state": "subscribed"}},
            True,
        ),
        (
            {
                "buyer_accepts_marketing": None,
                "customer": {"id": 1, "sms_marketing_consent": {"state": "subscribed"}},
            },
            True,
        ),
        (  # a later withdrawal wins over the checkbox
            {"customer": {"id": 1, "email_marketing_consent": {"state": "unsubscribed"}}},
            False,
        ),
        ({"email_marketing_consent": {"state": "redacted"}}, False),
    ],
)
def test_shopify_marketing_consent(changes: dict, consent: bool) -> None:
    assert shopify_marketing_consent(shopify_order(**changes)) is consent


@pytest.mark.parametrize("changes", [{"test": True}, {"cancelled_at": "2026-11-21T07:00:00Z"}])
def test_test_and_cancelled_orders_are_not_conversions(changes: dict) -> None:
    assert shopify_order_conversion(shopify_order(**changes), WORKSPACE.id) is None


def test_an_order_without_a_browser_goes_to_meta_as_other_not_website() -> None:
    conversion = shopify_order_conversion(shopify_order(client_details=None), WORKSPACE.id)
    assert conversion is not None and conversion.action_source == "other"
    meta = next(d for d in DESTINATIONS if d.platform == "meta")
    wire = build_event(conversion, meta, "Purchase", default_region="US", now=NOW)
    assert wire.body["action_source"] == "other"


def _stripe_event(kind: str, obj: dict) -> dict:
    return {"id": "evt_1", "type": kind, "created": 1795000000, "data": {"object": obj}}


def _charge(**changes) -> dict:
    charge = {
        "id": "ch_3Q",
        "object": "charge",
        "amount": 4990,
        "amount_captured": 4990,
        "currency": "eur",
        "created": 1795000000,
        "paid": True,
        "payment_intent": "pi_3Q",
        "invoice": None,
        "customer": "cus_9",
        "receipt_email": EMAIL,
        "billing_details": {
            "email": None,
            "phone": PHONE,
            "address": {"city": "Berlin", "postal_code": "10115", "country": "DE"},
        },
        "metadata": {"marketing_consent": "true"},
    }
    return charge | changes


def test_a_stripe_charge_is_keyed_by_its_payment_intent_in_major_units() -> None:
    conversion = stripe_event_conversion(_stripe_event("charge.succeeded", _charge()), "w")
    assert conversion is not None
    assert (conversion.event_id, conversion.order_id) == ("pi_3Q", "pi_3Q")
    assert (conversion.value, conversion.currency) == (49.9, "EUR")
    assert (conversion.email, conversion.phone, conversion.external_id) == (EMAIL, PHONE, "cus_9")
    assert (conversion.city, conversion.zip, conversion.country) == ("Berlin", "10115", "DE")
    assert conversion.marketing_consent and conversion.action_source == "other"
    assert conversion.event_time == datetime.fromtimestamp(1795000000, UTC)


def test_stripe_amounts_follow_zero_decimal_currencies_and_consent_needs_metadata() -> None:
    jpy = _charge(currency="jpy", amount=4990, amount_captured=4990, metadata={})
    conversion = stripe_event_conversion(_stripe_event("charge.succeeded", jpy), "w")
    assert conversion is not None and conversion.value == 4990.0
    assert conversion.marketing_consent is False
    no_intent = _charge(payment_intent=None)
    assert stripe_event_conversion(_stripe_event("charge.succeeded", no_intent), "w").event_id == (
        "ch_3Q"
    )


def test_an_invoice_payment_is_one_conversion_not_two() -> None:
    invoice = {
        "id": "in_1",
        "object": "invoice",
        "amount_paid": 1200,
        "currency": "usd",
        "created": 1795000000,
        "billing_reason": "subscription_cycle",
        "customer": "cus_9",
        "customer_email": EMAIL,
        "metadata": {"marketing_consent": "yes"},
    }
    paid = stripe_event_conversion(_stripe_event("invoice.paid", invoice), "w")
    assert paid is not None and (paid.event_id, paid.value) == ("in_1", 12.0)
    assert paid.action_source == "system_generated"
    its_charge = _charge(invoice="in_1")
    assert stripe_event_conversion(_stripe_event("charge.succeeded", its_charge), "w") is None
    assert stripe_event_conversion(_stripe_event("charge.refunded", _charge()), "w") is None


def _outbox_rows(store: sa.Engine) -> list[tuple[str, str]]:
    with store.connect() as connection:
        return sorted(
            connection.execute(sa.select(capi_outbox.c.destination_id, capi_outbox.c.event_id))
        )


def test_webhook_orders_are_queued_once_with_consent_only(store, tmp_path: Path) -> None:
    path = tmp_path / "webhook_deliveries.sqlite"
    deliver(path, "shopify", "orders/create", shopify_order(1001), "d1")
    deliver(path, "shopify", "orders/paid", shopify_order(1001), "d2")  # same order again
    deliver(
        path, "shopify", "orders/create", shopify_order(1002, buyer_accepts_marketing=False), "d3"
    )
    deliver(path, "shopify", "customers/create", {"id": 5, "email": EMAIL}, "d4")
    deliver(path, "shopify", "orders/create", {"id": 1003}, "d5")  # no time: refused
    deliver(path, "stripe", "charge.succeeded", _stripe_event("charge.succeeded", _charge()), "s1")

    report = capture_webhook_orders(store, WORKSPACE, path, now=NOW, hasher=None)

    assert (report.deliveries, report.orders, report.no_consent) == (6, 4, 1)
    assert report.queued == 8  # orders 1001 and pi_3Q, four destinations each
    assert dict(report.refused) == {"shopify orders/create: ValueError": 1}
    rows = _outbox_rows(store)
    assert {event_id for _, event_id in rows} == {"1001", "pi_3Q"}
    with store.connect() as connection:
        payload = connection.execute(sa.select(capi_outbox.c.payload).limit(1)).scalar_one()
    assert EMAIL in payload  # raw contact data waits in the outbox, for hashing per platform
    assert (
        source_cursor(store, WORKSPACE.id, "shopify"),
        source_cursor(store, WORKSPACE.id, "stripe"),
    ) == (5, 6)
    again = capture_webhook_orders(store, WORKSPACE, path, now=NOW, hasher=None)
    assert again.deliveries == 0 and _outbox_rows(store) == rows


def _first_party_purchase(order_id: str) -> tuple[OwnlayEvent, dict]:
    raw = {
        "event_id": str(uuid.uuid4()),
        "event_type": "purchase",
        "timestamp": NOW.isoformat(),
        "user_id": "cust-1",
        "email": EMAIL,
        "consent": {"marketing": True},
        "properties": {"value": 409.94, "currency": "USD", "order_id": order_id},
        "context": {"ip": "203.0.113.77", "user_agent": "Mozilla/5.0 Firefox/120"},
    }
    context = EventValidationContext(now=NOW, policy=TimestampPolicy())
    return OwnlayEvent.model_validate(raw, context=context), raw


def test_an_order_and_its_first_party_purchase_are_one_conversion_either_way(
    store, tmp_path: Path
) -> None:
    path = tmp_path / "webhook_deliveries.sqlite"
    # Order 2001: the browser's purchase event arrives first, the webhook after.
    event, raw = _first_party_purchase("2001")
    first = capture_events(store, WORKSPACE.id, WORKSPACE.capi, [(event, raw)], now=NOW)
    assert first.queued == 4
    deliver(path, "shopify", "orders/create", shopify_order(2001), "d1")
    # Order 2002: the webhook first, the browser's purchase event after.
    deliver(path, "shopify", "orders/create", shopify_order(2002), "d2")
    report = capture_webhook_orders(store, WORKSPACE, path, now=NOW, hasher=None)
    assert (report.queued, report.same_order) == (4, 4)
    late, late_raw = _first_party_purchase("2002")
    second = capture_events(store, WORKSPACE.id, WORKSPACE.capi, [(late, late_raw)], now=NOW)
    assert (second.queued, second.same_order) == (0, 4)

    rows = _outbox_rows(store)
    assert len(rows) == 8  # one conversion per order and destination
    assert {e for _, e in rows} == {str(event.event_id), "2002"}


def test_the_conversion_round_trips_its_action_source() -> None:
    conversion = shopify_order_conversion(shopify_order(client_details=None), WORKSPACE.id)
    assert Conversion.from_json(conversion.to_json()) == conversion
    legacy = json.loads(conversion.to_json())
    del legacy["action_source"]  # a payload queued before the field existed
    assert Conversion.from_json(json.dumps(legacy)).action_source == "website"


def test_orders_of_people_erased_under_gdpr_are_never_forwarded(store, tmp_path: Path) -> None:
    hasher = PiiHasher(b"k" * 32)
    create_lifecycle_tables(store)
    with store.begin() as connection:
        connection.execute(
            gdpr_suppressions.insert().values(
                workspace_id=WORKSPACE.id,
                identifier_kind=IdentifierKind.EMAIL.value,
                identifier_hash=hasher.hash_email(EMAIL),
                created_at=NOW,
            )
        )
    SUPPRESSIONS.clear()
    path = tmp_path / "webhook_deliveries.sqlite"
    deliver(path, "shopify", "orders/create", shopify_order(4001), "d1")
    deliver(path, "shopify", "orders/create", shopify_order(4002, email="other@example.com"), "d2")
    try:
        with pytest.raises(PiiKeyMissing, match="has GDPR suppressions; set OWNLAY_PII_HASH_KEY"):
            capture_webhook_orders(store, WORKSPACE, path, now=NOW, hasher=None)
        assert source_cursor(store, WORKSPACE.id, "shopify") == 0  # read again once keyed
        report = capture_webhook_orders(store, WORKSPACE, path, now=NOW, hasher=hasher)
    finally:
        SUPPRESSIONS.clear()
    assert (report.suppressed, report.queued) == (1, 4)
    assert {event_id for _, event_id in _outbox_rows(store)} == {"4002"}


def test_an_invoice_without_its_own_consent_reads_its_subscriptions_snapshot() -> None:
    invoice = {
        "id": "in_2",
        "object": "invoice",
        "amount_paid": 1200,
        "currency": "usd",
        "created": 1795000000,
        "billing_reason": "subscription_create",
        "metadata": {},
    }
    legacy = invoice | {"subscription_details": {"metadata": {"marketing_consent": "granted"}}}
    parent = {"type": "subscription_details", "subscription_details": {"metadata": {}}}
    parent["subscription_details"]["metadata"]["marketing_consent"] = "yes"
    basil = invoice | {"parent": parent}
    for body in (legacy, basil):
        paid = stripe_event_conversion(_stripe_event("invoice.paid", body), "w")
        assert paid is not None and paid.marketing_consent and paid.action_source == "other"
    # The invoice's own metadata wins over the snapshot; without either there is no consent.
    refused = basil | {"metadata": {"marketing_consent": "no"}}
    assert not stripe_event_conversion(
        _stripe_event("invoice.paid", refused), "w"
    ).marketing_consent
    assert not stripe_event_conversion(
        _stripe_event("invoice.paid", invoice), "w"
    ).marketing_consent


def test_an_invoice_payment_links_its_invoice_to_a_payment_intent_or_a_charge() -> None:
    def link(**fields):
        body = {
            "id": "inpay_1",
            "object": "invoice_payment",
            "invoice": "in_1",
            "status": "paid",
            "payment": {"type": "payment_intent", "payment_intent": "pi_1"},
        }
        return invoice_payment_link(_stripe_event("invoice_payment.paid", body | fields))

    assert link() == ("pi_1", "in_1")
    assert link(payment={"type": "charge", "charge": {"id": "ch_1"}}) == ("ch_1", "in_1")
    assert link(invoice={"id": "in_9", "object": "invoice"}) == ("pi_1", "in_9")
    assert link(status="open") is None  # not paid yet
    assert link(payment={"type": "out_of_band_payment"}) is None  # nothing to link
    assert link(payment={"type": "payment_intent", "payment_intent": None}) is None
    assert invoice_payment_link(_stripe_event("invoice.paid", {"id": "in_1"})) is None


def test_the_api_version_decides_whether_a_charge_can_name_its_invoice() -> None:
    assert stripe_basil({"api_version": "2025-03-31.basil"})
    assert stripe_basil({"api_version": "2025-09-30.clover"})
    assert not stripe_basil({"api_version": "2025-02-24.acacia"})
    assert not stripe_basil({"api_version": "2022-11-15", "data": {"object": {"object": "charge"}}})
    # Without a version: a charge lacking the `invoice` key every earlier version sends.
    assert stripe_basil(_stripe_event("charge.succeeded", {"id": "ch_1", "object": "charge"}))
    assert not stripe_basil(_stripe_event("charge.succeeded", _charge() | {"object": "charge"}))
