"""Capture at ingest: raw contact data of consented conversions reaches the outbox, nothing else."""

from __future__ import annotations

import json
import uuid

import sqlalchemy as sa

from ownlay_pipelines.capi.capture import capture_events
from ownlay_pipelines.capi.conversions import Conversion
from ownlay_pipelines.capi.tables import capi_outbox
from ownlay_pipelines.events.model import EventValidationContext, OwnlayEvent, TimestampPolicy
from ownlay_pipelines_tests.capi.destinations import NOW

CONTEXT = EventValidationContext(now=NOW, policy=TimestampPolicy())


def _event(event_type: str, marketing: bool | None) -> tuple[OwnlayEvent, dict]:
    raw = {
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "timestamp": NOW.isoformat(),
        "user_id": "cust-1",
        "email": " Anna@Example.com ",
        "properties": {
            "value": 42.5, "currency": "EUR", "order_id": "o-1", "content_ids": ["sku-1"],
            "customer": {"phone": "06 12 34 56 78", "first_name": "Anna", "zip": "75001"},
        },
        "context": {
            "ip": "203.0.113.9",
            "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0",
            "page": {"url": "https://shop.example/thanks?gclid=Cj0abc&fbclid=IwAR1"},
        },
    }  # fmt: skip
    if marketing is not None:
        raw["consent"] = {"marketing": marketing}
    return OwnlayEvent.model_validate(raw, context=CONTEXT), raw


def test_consented_conversion_keeps_raw_contact_data_only_in_the_outbox(store, settings) -> None:
    accepted = [_event("purchase", True), _event("signup", False), _event("lead", None)]
    report = capture_events(store, "rive-gauche", settings, accepted, now=NOW)
    assert report.queued == 4  # one consented purchase x four destinations
    with store.connect() as connection:
        payloads = connection.execute(sa.select(capi_outbox.c.payload)).scalars().all()
    conversion = Conversion.from_json(payloads[0])
    assert (conversion.email, conversion.phone, conversion.zip) == (
        " Anna@Example.com ", "06 12 34 56 78", "75001"
    )  # fmt: skip
    assert conversion.user_agent == "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"
    assert conversion.click_ids == {"gclid": "Cj0abc", "fbclid": "IwAR1"}
    assert (conversion.value, conversion.order_id, conversion.external_id) == (
        42.5,
        "o-1",
        "cust-1",
    )
    # The lake's copy of the same event has no phone in its properties (privacy classes).
    lake_properties = json.dumps(accepted[0][0].properties)
    assert "phone" not in lake_properties and "06 12" not in lake_properties
