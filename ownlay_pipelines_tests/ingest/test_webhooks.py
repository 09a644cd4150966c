import asyncio
import base64
import hashlib
import hmac
import json
import socket
import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from ownlay_pipelines.ingest import webhook_routes
from ownlay_pipelines.ingest.config import IngestSettings
from ownlay_pipelines.ingest.server import serve_in_background
from ownlay_pipelines.ingest.signatures import (
    SignatureRejected,
    WebhookProvider,
    verify_stripe,
    webhook_secrets,
)
from ownlay_pipelines.ingest.webhook_store import (
    WebhookStore,
    connect_webhook_store,
    mark_applied,
    prune_raw_bodies,
    read_webhook_deliveries,
)
from ownlay_pipelines_tests.ingest.payloads import (
    ENVIRON,
    NOW,
    SHOPIFY_OLD_SECRET,
    SHOPIFY_SECRET,
    STRIPE_OLD_SECRET,
    STRIPE_SECRET,
    read_answer,
    shopify_delivery,
    stripe_body,
    stripe_signature,
)

SHOPIFY = "/api/v1/webhooks/shopify/acme"
STRIPE = "/api/v1/webhooks/stripe/acme"
NOW_UNIX = int(NOW.timestamp())


def test_shopify_delivery_with_valid_signature_is_stored_byte_for_byte(
    client: TestClient, settings: IngestSettings
):
    body, headers = shopify_delivery(SHOPIFY_SECRET)

    response = client.post(SHOPIFY, content=body, headers=headers)

    assert (response.status_code, response.json()) == (200, {"status": "stored"})
    (stored,) = read_webhook_deliveries(
        settings.webhook_deliveries_path, provider="shopify", workspace_id="acme"
    )
    assert stored.raw_body == body
    assert (stored.delivery_id, stored.topic) == ("evt-450789469", "orders/create")
    assert stored.headers["x-shopify-triggered-at"] == "2026-11-21T11:00:00.000Z"
    assert "x-shopify-hmac-sha256" not in stored.headers


def test_shopify_tampered_body_is_401_and_not_stored(client: TestClient, settings: IngestSettings):
    body, headers = shopify_delivery(SHOPIFY_SECRET)
    tampered = body.replace(b"409.94", b"0.01")

    response = client.post(SHOPIFY, content=tampered, headers=headers)

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_signature"
    assert (
        read_webhook_deliveries(
            settings.webhook_deliveries_path, provider="shopify", workspace_id="acme"
        )
        == []
    )


def test_shopify_signature_from_the_previous_secret_is_accepted_during_rotation(client: TestClient):
    body, headers = shopify_delivery(SHOPIFY_OLD_SECRET, order_id=7)

    assert client.post(SHOPIFY, content=body, headers=headers).json() == {"status": "stored"}


def test_shopify_signature_from_an_unknown_secret_is_401(client: TestClient):
    body, headers = shopify_delivery("shpss_someone_else", order_id=8)

    assert client.post(SHOPIFY, content=body, headers=headers).status_code == 401


def test_shopify_replayed_delivery_is_acknowledged_but_stored_once(
    client: TestClient, settings: IngestSettings
):
    body, headers = shopify_delivery(SHOPIFY_SECRET)

    first = client.post(SHOPIFY, content=body, headers=headers)
    replay = client.post(SHOPIFY, content=body, headers=headers)

    assert first.json() == {"status": "stored"}
    assert (replay.status_code, replay.json()) == (200, {"status": "duplicate"})
    assert (
        len(
            read_webhook_deliveries(
                settings.webhook_deliveries_path, provider="shopify", workspace_id="acme"
            )
        )
        == 1
    )


def test_shopify_without_signature_or_for_a_workspace_without_secret_is_401(client: TestClient):
    body, headers = shopify_delivery(SHOPIFY_SECRET)
    unsigned = {k: v for k, v in headers.items() if k != "X-Shopify-Hmac-Sha256"}

    assert client.post(SHOPIFY, content=body, headers=unsigned).status_code == 401
    assert (
        client.post("/api/v1/webhooks/shopify/globex", content=body, headers=headers).status_code
        == 401
    )
    assert (
        client.post("/api/v1/webhooks/shopify/..%2Fx", content=body, headers=headers).status_code
        == 404
    )


@pytest.mark.parametrize(
    ("body", "header", "error", "message"),
    [
        (b"not json", None, "malformed_json", "the request body is not JSON: expected ident"),
        (b"[" * 300 + b"]" * 300, None, "malformed_json", "nesting deeper than 200 levels"),
        (b"[1, 2]", None, "malformed_event", "a Shopify delivery must be a JSON object"),
        (b"{}", ("X-Shopify-Event-Id", "e" * 256), "bad_header", "hold at most 255 characters"),
        (b"{}", ("X-Shopify-Topic", "t" * 256), "bad_header", "hold at most 255 characters"),
    ],
    ids=["not-json", "too-deep", "array", "long-event-id", "long-topic"],
)
def test_a_signed_shopify_delivery_the_connector_could_not_read_is_400_and_not_stored(
    client: TestClient,
    settings: IngestSettings,
    body: bytes,
    header: tuple[str, str] | None,
    error: str,
    message: str,
):
    _, headers = shopify_delivery(SHOPIFY_SECRET)
    digest = hmac.new(SHOPIFY_SECRET.encode(), body, hashlib.sha256).digest()
    headers["X-Shopify-Hmac-Sha256"] = base64.b64encode(digest).decode()
    if header is not None:
        headers[header[0]] = header[1]

    response = client.post(SHOPIFY, content=body, headers=headers)

    assert response.status_code == 400 and response.json()["error"] == error
    assert message in response.json()["message"]
    with closing(connect_webhook_store(settings.webhook_deliveries_path)) as store:
        assert store.execute("SELECT count(*) FROM webhook_deliveries").fetchone() == (0,)


@pytest.mark.parametrize("provider", ["shopify", "stripe", "linkedin"])
def test_a_long_workspace_in_the_path_is_404_quoting_only_an_excerpt(
    client: TestClient, provider: str
):
    body, headers = shopify_delivery(SHOPIFY_SECRET)

    response = client.post(
        f"/api/v1/webhooks/{provider}/{'a' * 5000}", content=body, headers=headers
    )

    assert response.status_code == 404 and len(response.content) < 200
    assert response.json() == {
        "error": "unknown_workspace",
        "message": f"workspace_id {'a' * 20!r}… is longer than 63 characters",
    }


def test_stripe_event_with_valid_signature_is_stored(client: TestClient, settings: IngestSettings):
    body = stripe_body()
    header = stripe_signature(body, [STRIPE_SECRET], NOW_UNIX - 10)

    response = client.post(STRIPE, content=body, headers={"Stripe-Signature": header})

    assert (response.status_code, response.json()) == (200, {"status": "stored"})
    (stored,) = read_webhook_deliveries(
        settings.webhook_deliveries_path, provider="stripe", workspace_id="acme"
    )
    assert (stored.delivery_id, stored.topic, stored.raw_body) == (
        "evt_1OzQ3b2eZvKYlo2C",
        "charge.succeeded",
        body,
    )


def test_stripe_tampered_body_is_401(client: TestClient):
    body = stripe_body()
    header = stripe_signature(body, [STRIPE_SECRET], NOW_UNIX)
    tampered = body.replace(b"2000", b"1")

    assert (
        client.post(STRIPE, content=tampered, headers={"Stripe-Signature": header}).status_code
        == 401
    )


def test_stripe_signature_older_than_300_seconds_is_400(client: TestClient):
    body = stripe_body()
    header = stripe_signature(body, [STRIPE_SECRET], NOW_UNIX - 301)

    response = client.post(STRIPE, content=body, headers={"Stripe-Signature": header})

    assert response.status_code == 400
    assert response.json()["message"] == (
        "Stripe-Signature timestamp is more than 300 s from the server clock"
    )


def test_stripe_signature_exactly_300_seconds_old_is_accepted():
    body = stripe_body()
    header = stripe_signature(body, [STRIPE_SECRET], NOW_UNIX - 300)

    verify_stripe(body, header, [STRIPE_SECRET], now=NOW)


@pytest.mark.parametrize(
    "signing_secrets",
    [[STRIPE_OLD_SECRET], ["whsec_unrelated", STRIPE_SECRET], [STRIPE_OLD_SECRET, "whsec_other"]],
)
def test_stripe_rotation_accepts_any_v1_under_the_old_or_new_secret(
    client: TestClient, signing_secrets: list[str]
):
    body = stripe_body(event_id=f"evt_{len(signing_secrets)}_{signing_secrets[0][-4:]}")
    header = stripe_signature(body, signing_secrets, NOW_UNIX)

    assert (
        client.post(STRIPE, content=body, headers={"Stripe-Signature": header}).status_code == 200
    )


def test_stripe_replayed_event_is_acknowledged_but_stored_once(client: TestClient):
    body = stripe_body()
    first = stripe_signature(body, [STRIPE_SECRET], NOW_UNIX - 60)
    # Stripe re-signs each retry with a fresh timestamp; the event id is what repeats.
    retry = stripe_signature(body, [STRIPE_SECRET], NOW_UNIX)

    assert client.post(STRIPE, content=body, headers={"Stripe-Signature": first}).json() == {
        "status": "stored"
    }
    assert client.post(STRIPE, content=body, headers={"Stripe-Signature": retry}).json() == {
        "status": "duplicate"
    }


@pytest.mark.parametrize("header", ["v1=abc", "t=123", "t=abc,v1=00", ""])
def test_stripe_malformed_header_is_refused(header: str):
    with pytest.raises(SignatureRejected) as caught:
        verify_stripe(b"{}", header, [STRIPE_SECRET], now=NOW)

    assert caught.value.status in (400, 401)


def test_stripe_future_timestamp_beyond_tolerance_is_refused():
    body = stripe_body()
    header = stripe_signature(body, [STRIPE_SECRET], int((NOW + timedelta(minutes=6)).timestamp()))

    with pytest.raises(SignatureRejected, match="more than 300 s"):
        verify_stripe(body, header, [STRIPE_SECRET], now=NOW)


def test_stripe_body_without_id_is_400_after_verification(client: TestClient):
    body = json.dumps({"object": "event", "type": "charge.succeeded"}).encode()
    header = stripe_signature(body, [STRIPE_SECRET], NOW_UNIX)

    response = client.post(STRIPE, content=body, headers={"Stripe-Signature": header})

    assert (response.status_code, response.json()["error"]) == (400, "malformed_event")


def test_secrets_are_read_per_workspace_from_current_and_previous_variables():
    environ = {
        "OWNLAY_SHOPIFY_WEBHOOK_SECRET__ACME_OUTDOOR": "new",
        "OWNLAY_SHOPIFY_WEBHOOK_SECRET_PREVIOUS__ACME_OUTDOOR": "old",
    }

    assert webhook_secrets(WebhookProvider.SHOPIFY, "acme-outdoor", environ) == ("new", "old")
    assert webhook_secrets(WebhookProvider.STRIPE, "acme-outdoor", environ) == ()


def test_webhook_whose_commit_failed_gets_503_so_the_provider_redelivers(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
):
    def failing_insert(self: WebhookStore, record: tuple) -> bool:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(WebhookStore, "_insert", failing_insert)
    body, headers = shopify_delivery(SHOPIFY_SECRET)

    response = client.post(SHOPIFY, content=body, headers=headers)

    assert (response.status_code, response.json()["error"]) == (503, "store_unavailable")


def test_raw_bodies_are_pruned_to_receipts_after_the_window_applied_or_not(tmp_path):
    path = tmp_path / "deliveries.sqlite"
    received = datetime(2026, 11, 1, tzinfo=UTC)

    async def store() -> None:
        deliveries = WebhookStore(path)
        for number in (1, 2, 3):
            await deliveries.append(
                provider="shopify" if number < 3 else "stripe",
                workspace_id="acme",
                delivery_id=f"evt-{number}",
                topic="orders/create",
                received_at_us=int(received.timestamp() * 1e6),
                headers={"x-shopify-shop-domain": "acme.myshopify.com"},
                raw_body=f'{{"email": "jane{number}@example.com"}}'.encode(),
            )
        deliveries.close()

    asyncio.run(store())
    mark_applied(path, provider="shopify", workspace_id="acme", up_to_seq=1, now=received)

    assert prune_raw_bodies(path, now=received + timedelta(days=6), retention_days=7) == 0
    assert prune_raw_bodies(path, now=received + timedelta(days=7), retention_days=7) == 1
    assert prune_raw_bodies(path, now=received + timedelta(days=29), retention_days=7) == 0
    assert prune_raw_bodies(path, now=received + timedelta(days=30), retention_days=7) == 2
    rows = (
        connect_webhook_store(path)
        .execute(
            "SELECT delivery_id, raw_body, headers, body_sha256, applied_at_us IS NOT NULL "
            "FROM webhook_deliveries ORDER BY seq"
        )
        .fetchall()
    )
    assert [(row[0], row[1], row[2], row[4]) for row in rows] == [
        ("evt-1", None, "{}", True),
        ("evt-2", None, "{}", False),
        ("evt-3", None, "{}", False),
    ]
    assert rows[0][3] == hashlib.sha256(b'{"email": "jane1@example.com"}').hexdigest()
    assert read_webhook_deliveries(path, provider="shopify", workspace_id="acme") == []
    assert b"jane" not in path.read_bytes()


def test_a_workspace_without_secret_is_refused_before_its_body_arrives(
    settings: IngestSettings, monkeypatch: pytest.MonkeyPatch
):
    """No body can pass without a secret, so the 401 — the one a read body gets — is sent
    before a large body is read (here: before it is even sent)."""
    for name, value in ENVIRON.items():
        monkeypatch.setenv(name, value)
    body, headers = shopify_delivery(SHOPIFY_SECRET)
    head = "POST /api/v1/webhooks/shopify/initech HTTP/1.1\r\nHost: test\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in headers.items()
    )
    tuned = settings.model_copy(update={"max_body_bytes": 1 << 20})
    with serve_in_background(tuned) as url:
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=5) as connection:
            connection.sendall(f"{head}Content-Length: {1 << 20}\r\n\r\n".encode())
            early = read_answer(connection)  # a socket timeout here fails the test
        with socket.create_connection((host, int(port)), timeout=5) as connection:
            connection.sendall(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
            read = read_answer(connection)

    assert early.startswith(b"HTTP/1.1 401 ")
    assert early.partition(b"\r\n\r\n")[2] == read.partition(b"\r\n\r\n")[2]


def test_a_workspace_without_secret_is_warned_of_once_not_per_delivery(
    client: TestClient, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(webhook_routes, "_warned_at", {})  # what other tests warned of
    body, headers = shopify_delivery(SHOPIFY_SECRET)
    with caplog.at_level("WARNING", logger="ownlay_pipelines.ingest.webhook_routes"):
        answers = [
            client.post(f"/api/v1/webhooks/{provider}/initech", content=body, headers=headers)
            for provider in ("shopify", "shopify", "stripe", "shopify", "stripe")
        ]

    assert all(answer.status_code in (400, 401) for answer in answers)
    warned = [r.getMessage().split(" webhook")[0] for r in caplog.records]
    assert warned == ["no shopify", "no stripe"]
