"""PII posted in every event field and in a signed Shopify order never rests anywhere in clear.

The request goes through the real app; then the buffer is flushed, the Shopify delivery applied
by its Dagster job and pruned by retention, and every file under the data directory (lake Parquet
files, the event buffer, the webhook store, the ops store, their WAL files) is scanned, both as
bytes and, for Parquet, decoded.
"""

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from ownlay_pipelines.defs.resources import LakeResource, RegistryResource
from ownlay_pipelines.defs.shopify_webhooks import shopify_webhooks
from ownlay_pipelines.http.clock import FakeClock
from ownlay_pipelines.ingest.app import create_app
from ownlay_pipelines.ingest.config import IngestSettings
from ownlay_pipelines.ingest.flush import flush_buffer
from ownlay_pipelines.ingest.keys import create_api_key, open_key_store
from ownlay_pipelines.ingest.webhook_store import prune_raw_bodies
from ownlay_pipelines.lifecycle.retention_policy import DataType, RetentionPolicy
from ownlay_pipelines_tests.ingest.buffer_contents import buffer_text
from ownlay_pipelines_tests.ingest.payloads import NOW, PII_KEY

WORKSPACE = "acme-outdoor"
SHOPIFY_SECRET = "shpss_acme_outdoor_current"
EMAIL = "jane.doe@example.com"
PHONE = "+1 415 555 0123"
IP = "203.0.113.77"
FORBIDDEN = (EMAIL, "jane.doe%40example.com", "555 0123", "5550123", "555-0123", IP)
"""Raw forms that must not be found anywhere at rest."""


def _everywhere(text: str) -> str:
    return f"{text} {EMAIL} {PHONE} {IP}"


def _event_with_pii_everywhere() -> dict:
    """A seed-000 event with contact and network data in every field that takes text."""
    # Query values are decoded and encoded again when sensitive parameters are removed: the
    # phone's brackets and the mapped address's colons come back as %28/%29 and %3A.
    url = (
        f"https://shop.example.com/u/{EMAIL}/{IP}?ref={EMAIL}&note=%2B14155550123&gclid=Cj0"
        f"&call=(415) 555-0123&via=::ffff:{IP}"
    )
    return {
        "event_id": "7f3c9a52-1b6e-4d0a-8c2f-00000000aaaa",
        "event_type": "purchase",
        "timestamp": "2026-11-21T11:30:00Z",
        "anonymous_id": "anon_1",
        "user_id": "user_1",
        "session_id": "sess_1",
        "device_id": "dev_1",
        "email": EMAIL,
        "source": {
            "platform": "webhook",
            "connector_id": "c1",
            "campaign_id": "120210000000001",
            "ad_group_id": "ag1",
            "ad_id": "ad1",
            "keyword": _everywhere("tents"),
            "placement": _everywhere("feed"),
        },
        "utm": {
            name: _everywhere(name) for name in ("source", "medium", "campaign", "content", "term")
        },
        "properties": {
            "email": EMAIL,
            "customer_phone": PHONE,
            "note": _everywhere("note"),
            "nested": {"deep": [{"contact": _everywhere("deep")}], _everywhere("key"): 1},
        },
        "context": {
            "ip": f"::ffff:{IP}",
            "user_agent": f"Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0.0.0 ({_everywhere('ua')})",
            "locale": "en-US",
            "timezone": "America/Los_Angeles",
            "device": {"type": "desktop", "os": _everywhere("os"), "browser": _everywhere("b")},
            "geo": {
                "country": "US",
                "region": _everywhere("Oregon"),
                "city": _everywhere("Portland"),
                "postal_code": _everywhere("97201"),
            },
            "page": {
                "url": url,
                "path": f"/u/{EMAIL}/{IP}/call/{PHONE}",
                "title": _everywhere("Thanks"),
                "referrer": url,
            },
        },
    }


def _track_event_with_pii_everywhere() -> dict:
    url = f"https://shop.example.com/?who={EMAIL}&ip={IP}"
    return {
        "id": "2b8d4e61-0c7a-4f39-9e15-00000000bbbb",
        "event_type": "page_view",
        "user_id": "anon_9",
        "properties": {"contact": _everywhere("c")},
        "url": url,
        "referrer": url,
        "user_agent": _everywhere("agent"),
        "ip_address": IP,
        "browser": _everywhere("b"),
        "os": _everywhere("o"),
        "created_at": "2026-11-21T11:59:00Z",
    }


def _shopify_order() -> bytes:
    address = {"address1": "1 Main St", "phone": PHONE, "name": "Jane Doe", "zip": "97201"}
    return json.dumps(
        {
            "id": 820982911946154508,
            "name": "#9999",
            "email": EMAIL,
            "contact_email": EMAIL,
            "phone": PHONE,
            "browser_ip": IP,
            "created_at": "2026-11-21T06:00:00-05:00",
            "updated_at": "2026-11-21T06:00:00-05:00",
            "currency": "USD",
            "total_price": "409.94",
            "financial_status": "paid",
            "landing_site": f"/?utm_source=google&ref={EMAIL}",
            "referring_site": f"https://www.google.com/?q={EMAIL}",
            "customer": {"id": 207119551, "email": EMAIL, "phone": PHONE},
            "billing_address": address,
            "shipping_address": address,
            "client_details": {"browser_ip": IP, "user_agent": _everywhere("ua")},
            "line_items": [],
        }
    ).encode()


def _scan(root: Path) -> dict[str, list[str]]:
    hits: dict[str, list[str]] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        texts = [path.read_bytes().decode("latin-1")]
        if path.suffix == ".parquet":
            texts.append(json.dumps(pq.read_table(path).to_pylist(), default=str))
        found = [raw for raw in FORBIDDEN if any(raw in text for text in texts)]
        if found:
            hits[str(path.relative_to(root))] = found
    return hits


@pytest.mark.parametrize("field", ["anonymous_id", "user_id", "session_id", "device_id"])
@pytest.mark.parametrize("value", [EMAIL, PHONE, IP, f"::ffff:{IP}"])
def test_identifiers_holding_contact_or_network_data_are_refused_naming_the_field(
    client: TestClient, acme_key, field: str, value: str
):
    event = _event_with_pii_everywhere()
    event[field] = value

    response = client.post(
        "/api/v1/events", json=event, headers={"X-Ownlay-Api-Key": acme_key.plaintext}
    )

    assert response.status_code == 422
    (refusal,) = response.json()["rejected"]
    assert [e["field"] for e in refusal["errors"]] == [field]
    assert value not in response.text


WRITTEN_FORMS = {
    "utm.campaign": "retarget ip203.0.113.77",
    "source.keyword": "Hotline 030 12345678",
    "source.placement": "tel:4155550123",
    "context.page.title": "Kontakt: jane@müller.de",
    "context.page.path": "/u/jane＠example.com/orders",
    "properties.note": "write to jane.doe&#64;example.com",
}
"""Free-text fields holding contact data in the written forms docs/privacy.md lists."""


def test_contact_data_in_its_written_forms_is_masked_before_the_buffer(
    client: TestClient, acme_key, settings: IngestSettings
):
    event = _event_with_pii_everywhere()
    for path, text in WRITTEN_FORMS.items():
        *parents, name = path.split(".")
        node = event
        for parent in parents:
            node = node[parent]
        node[name] = text

    response = client.post(
        "/api/v1/events", json=event, headers={"X-Ownlay-Api-Key": acme_key.plaintext}
    )

    assert response.status_code == 202
    buffered = buffer_text(settings.buffer_path)
    assert "retarget ip[ip]" in buffered and "Kontakt: [email]" in buffered
    raw = ("203.0.113.77", "030 12345678", "4155550123", "müller", "jane＠", "&#64;")
    assert [fragment for fragment in raw if fragment in buffered] == []


def test_no_raw_email_phone_or_ip_rests_anywhere_after_flush_apply_and_retention(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("OWNLAY_PII_HASH_KEY", PII_KEY)  # the Shopify apply job reads it
    data_dir = tmp_path / "data"
    lake = LakeResource(data_dir=str(data_dir))
    settings = IngestSettings(
        lake_dir=lake.lake_root,
        buffer_path=lake.event_buffer_path,
        database_url=f"sqlite:///{data_dir / 'ops.sqlite'}",
    )
    environ = {
        "OWNLAY_PII_HASH_KEY": PII_KEY,
        "OWNLAY_SHOPIFY_WEBHOOK_SECRET__ACME_OUTDOOR": SHOPIFY_SECRET,
    }
    key = create_api_key(open_key_store(settings.database_url), WORKSPACE).plaintext
    order = _shopify_order()
    signature = base64.b64encode(hmac.new(SHOPIFY_SECRET.encode(), order, hashlib.sha256).digest())
    with TestClient(create_app(settings, clock=FakeClock(NOW), environ=environ)) as client:
        events = client.post(
            "/api/v1/events",
            json=_event_with_pii_everywhere(),
            headers={"X-Ownlay-Api-Key": key},
        )
        agentless = {
            **_track_event_with_pii_everywhere(),
            "id": "2b8d4e61-0c7a-4f39-9e15-00000000cccc",
        }
        del agentless["user_agent"]
        track = client.post(
            "/api/v1/track",
            json=[_track_event_with_pii_everywhere(), agentless],
            headers={"X-Ownlay-Api-Key": key, "User-Agent": _everywhere("Mozilla/5.0 header")},
        )
        delivery = client.post(
            f"/api/v1/webhooks/shopify/{WORKSPACE}",
            content=order,
            headers={
                "X-Shopify-Hmac-Sha256": signature.decode(),
                "X-Shopify-Topic": "orders/create",
                "X-Shopify-Shop-Domain": "acme-outdoor.myshopify.com",
                "X-Shopify-Event-Id": "evt-pii-1",
            },
        )
    assert (events.status_code, events.json()["stored"]) == (202, 1)
    assert (track.status_code, track.json()["stored"]) == (202, 2)
    assert delivery.status_code == 200

    buffered = buffer_text(settings.buffer_path)
    assert "7f3c9a52-1b6e-4d0a-8c2f-00000000aaaa" in buffered  # decoded, so the scan can see
    assert [raw for raw in FORBIDDEN if raw in buffered] == []
    flush_buffer(settings.buffer_path, settings.lake_dir)
    resources = {"lake": lake, "registry": RegistryResource()}
    with dg.instance_for_test() as instance:
        assert shopify_webhooks.execute_in_process(instance=instance, resources=resources).success
    raw_kept_before = _scan(data_dir)
    pruned = prune_raw_bodies(
        settings.webhook_deliveries_path,
        now=datetime.now(UTC) + timedelta(days=8),
        retention_days=RetentionPolicy().days(DataType.WEBHOOK_BODIES),
    )

    assert pruned == 1
    assert list(raw_kept_before) == ["ingest/webhook_deliveries.sqlite"]  # only until retention
    assert _scan(data_dir) == {}
    stored = [pq.read_table(p).to_pylist() for p in data_dir.rglob("*.parquet")]
    rows = [row for table in stored for row in table]
    event_rows = [r for r in rows if r.get("event_id") == "7f3c9a52-1b6e-4d0a-8c2f-00000000aaaa"]
    order_rows = [r for r in rows if r.get("order_id") == "820982911946154508"]
    assert event_rows[0]["email_hash"] and event_rows[0]["ip_hash"]
    assert order_rows[0]["customer_email_hash"] == event_rows[0]["email_hash"]
    assert order_rows[0]["customer_phone_hash"]
