"""Live capture through the real ingest app: consented conversions reach the outbox, raw contact
data reaches nothing else, and an outbox failure never costs the event."""

from __future__ import annotations

import logging
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from ownlay_pipelines.capi.conversions import Conversion
from ownlay_pipelines.capi.tables import capi_outbox
from ownlay_pipelines.http.clock import FakeClock
from ownlay_pipelines.ingest.app import create_app
from ownlay_pipelines.ingest.config import IngestSettings
from ownlay_pipelines.ingest.flush import flush_buffer
from ownlay_pipelines.ingest.keys import create_api_key, open_key_store
from ownlay_pipelines_tests.ingest.buffer_contents import buffer_text
from ownlay_pipelines_tests.ingest.payloads import ENVIRON, NOW

WORKSPACE = "acme-outdoor"
"""A sandbox-registry workspace with the four destinations."""
EMAIL = "Jane.Doe@Example.com"
PHONE = "+1 415 555 0123"
IP = "203.0.113.77"


def _purchase(event_id: str, consent: dict | None) -> dict:
    event = {
        "event_id": event_id,
        "event_type": "purchase",
        "timestamp": "2026-11-21T11:30:00Z",
        "user_id": "user_1",
        "email": EMAIL,
        "properties": {
            "value": 89.5,
            "currency": "USD",
            "order_id": "1001",
            "content_ids": ["sku-1"],
            "customer": {"phone": PHONE, "first_name": "Jane"},
        },
        "context": {
            "ip": IP,
            "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0",
            "page": {"url": "https://shop.example.com/thanks?fbclid=IwAR9"},
        },
    }
    if consent is not None:
        event["consent"] = consent
    return event


@pytest.fixture
def ingest(tmp_path: Path):
    settings = IngestSettings(
        lake_dir=tmp_path / "lake",
        buffer_path=tmp_path / "ingest" / "event_buffer.sqlite",
        database_url=f"sqlite:///{tmp_path / 'ops.sqlite'}",
    )
    store = open_key_store(settings.database_url)
    keys = {w: create_api_key(store, w).plaintext for w in (WORKSPACE, "acme")}
    app = create_app(settings, clock=FakeClock(NOW), environ=ENVIRON)
    with TestClient(app) as client:
        yield client, keys, store, settings


def _outbox(store: sa.Engine) -> list[sa.Row]:
    if not sa.inspect(store).has_table("capi_outbox"):
        return []
    with store.connect() as connection:
        return connection.execute(
            sa.select(capi_outbox.c.destination_id, capi_outbox.c.event_id, capi_outbox.c.payload)
        ).all()


def test_consented_purchase_is_queued_with_raw_contact_data_and_the_lake_has_none(ingest) -> None:
    client, keys, store, settings = ingest
    consented = "0b6f1c52-1b6e-4d0a-8c2f-000000000001"
    events = [
        _purchase(consented, {"marketing": True}),
        _purchase("0b6f1c52-1b6e-4d0a-8c2f-000000000002", {"marketing": False}),
        _purchase("0b6f1c52-1b6e-4d0a-8c2f-000000000003", None),  # never asked = no
    ]
    response = client.post(
        "/api/v1/events", json=events, headers={"X-Ownlay-Api-Key": keys[WORKSPACE]}
    )
    assert (response.status_code, response.json()["stored"]) == (202, 3)

    rows = _outbox(store)
    assert sorted(r.destination_id for r in rows) == [
        "google-ec",
        "meta-capi",
        "snap-capi",
        "tiktok-events",
    ]
    assert {r.event_id for r in rows} == {consented}
    conversion = Conversion.from_json(rows[0].payload)
    assert (conversion.email, conversion.phone, conversion.ip) == (EMAIL, PHONE, IP)
    assert (conversion.value, conversion.currency, conversion.order_id) == (89.5, "USD", "1001")
    assert conversion.click_ids == {"fbclid": "IwAR9"}
    assert client.app.state.capi_capture.queued == 4

    # The buffer and, after a flush, the lake hold no raw e-mail, phone or IP.
    stored_text = buffer_text(settings.buffer_path)
    assert "acme" in stored_text  # the decoded batches are there to be scanned
    for raw in (EMAIL, "555 0123", IP):
        assert raw not in stored_text
    flush_buffer(settings.buffer_path, settings.lake_dir)
    lake = [
        row for p in settings.lake_dir.rglob("*.parquet") for row in pq.read_table(p).to_pylist()
    ]
    assert len(lake) == 3
    text = repr(lake)
    assert EMAIL not in text and EMAIL.lower() not in text and "555 0123" not in text
    assert IP not in text


def test_tracking_sdk_event_with_consent_is_queued_with_its_ip(ingest) -> None:
    client, keys, store, _ = ingest
    event = {
        "id": "2b8d4e61-0c7a-4f39-9e15-00000000dddd",
        "event_type": "purchase",
        "user_id": "user_9",
        "properties": {"value": 10, "currency": "USD", "email": EMAIL},
        "ip_address": IP,
        "created_at": "2026-11-21T11:59:00Z",
        "consent": {"marketing": True},
    }
    response = client.post(
        "/api/v1/track",
        json=event,
        headers={"X-Ownlay-Api-Key": keys[WORKSPACE], "User-Agent": "Mozilla/5.0 test"},
    )
    assert response.status_code == 202
    rows = _outbox(store)
    assert len(rows) == 4
    conversion = Conversion.from_json(rows[0].payload)
    assert (conversion.email, conversion.ip, conversion.value) == (EMAIL, IP, 10.0)


def test_workspace_without_destinations_queues_nothing(ingest) -> None:
    client, keys, store, _ = ingest
    event = _purchase("0b6f1c52-1b6e-4d0a-8c2f-000000000009", {"marketing": True})
    event["workspace_id"] = "acme"
    response = client.post("/api/v1/events", json=event, headers={"X-Ownlay-Api-Key": keys["acme"]})
    assert response.status_code == 202
    assert _outbox(store) == []


def test_an_outbox_failure_keeps_the_event_logs_no_pii_and_is_counted(ingest, caplog) -> None:
    client, keys, store, settings = ingest
    with store.begin() as connection:  # a table in the way: every outbox insert fails
        connection.execute(sa.text("CREATE TABLE capi_outbox (id INTEGER PRIMARY KEY)"))
    caplog.set_level(logging.ERROR, logger="ownlay_pipelines.capi.live_capture")
    event = _purchase("0b6f1c52-1b6e-4d0a-8c2f-000000000005", {"marketing": True})

    response = client.post(
        "/api/v1/events", json=event, headers={"X-Ownlay-Api-Key": keys[WORKSPACE]}
    )

    assert (response.status_code, response.json()["stored"]) == (202, 1)
    assert client.app.state.capi_capture.failures == 1
    (record,) = caplog.records
    assert record.getMessage() == (
        "capi capture failed for workspace acme-outdoor: 1 conversions not queued (OperationalError)"
    )
    assert flush_buffer(settings.buffer_path, settings.lake_dir).events_flushed == 1
