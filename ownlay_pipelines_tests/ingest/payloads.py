"""Real-shaped request bodies: seed 000 and 001 events, Shopify and Stripe deliveries."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
from datetime import UTC, datetime
from typing import Any

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
"""The injected server clock of every ingest test."""

IPHONE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
RAW_IP = "203.0.113.77"
RAW_EMAIL = "jane.doe@example.com"
PII_KEY = "a3f1" * 16
SHOPIFY_SECRET = "shpss_current_3b9c7d"
SHOPIFY_OLD_SECRET = "shpss_previous_8e2a41"
STRIPE_SECRET = "whsec_current_5Jd9"
STRIPE_OLD_SECRET = "whsec_previous_Q2x7"
ENVIRON = {
    "OWNLAY_PII_HASH_KEY": PII_KEY,
    "OWNLAY_SHOPIFY_WEBHOOK_SECRET__ACME": SHOPIFY_SECRET,
    "OWNLAY_SHOPIFY_WEBHOOK_SECRET_PREVIOUS__ACME": SHOPIFY_OLD_SECRET,
    "OWNLAY_STRIPE_WEBHOOK_SECRET__ACME": STRIPE_SECRET,
    "OWNLAY_STRIPE_WEBHOOK_SECRET_PREVIOUS__ACME": STRIPE_OLD_SECRET,
}


def ownlay_event(number: int = 1, **overrides: Any) -> dict[str, Any]:
    """A seed 000 purchase event (webhook payload plus context), with a unique event id."""
    event = {
        "event_id": f"7f3c9a52-1b6e-4d0a-8c2f-{number:012d}",
        "event_type": "purchase",
        "timestamp": "2026-11-21T11:30:00Z",
        "user_id": f"user_{number}",
        "session_id": "sess_9f2a",
        "email": RAW_EMAIL,
        "source": {"platform": "webhook", "campaign_id": "120210000000001"},
        "properties": {"revenue": 99.99, "currency": "USD", "order_id": f"#10{number:02d}"},
        "context": {
            "ip": RAW_IP,
            "user_agent": IPHONE_UA,
            "locale": "en-US",
            "device": {"type": "mobile"},
            "geo": {"country": "US", "city": "Portland"},
            "page": {
                "url": "https://shop.example.com/checkout/thanks?gclid=Cj0KCQ&utm_source=google",
                "title": "Thank you",
            },
        },
    }
    event.update(overrides)
    return event


def track_event(number: int = 1, **overrides: Any) -> dict[str, Any]:
    """A seed 001 tracking-SDK page view."""
    event = {
        "id": f"2b8d4e61-0c7a-4f39-9e15-{number:012d}",
        "event_type": "page_view",
        "user_id": f"anon_{number}",
        "session_id": "s_1",
        "properties": {"section": "tents"},
        "url": "https://shop.example.com/tents?fbclid=IwAR0x&utm_campaign=spring",
        "referrer": "https://www.google.com/",
        "created_at": "2026-11-21T11:59:00Z",
    }
    event.update(overrides)
    return event


def shopify_delivery(secret: str, order_id: int = 450789469) -> tuple[bytes, dict[str, str]]:
    """An `orders/create` body and headers, signed as Shopify signs (connectors.md §1.7)."""
    body = json.dumps(
        {
            "id": order_id,
            "name": "#1001",
            "created_at": "2026-11-21T06:00:00-05:00",
            "currency": "USD",
            "total_price": "409.94",
            "financial_status": "paid",
            "customer": {"id": 207119551, "email": RAW_EMAIL},
        }
    ).encode()
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    headers = {
        "X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode(),
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Shop-Domain": "acme-outdoor.myshopify.com",
        "X-Shopify-Event-Id": f"evt-{order_id}",
        "X-Shopify-Webhook-Id": f"wh-{order_id}",
        "X-Shopify-Triggered-At": "2026-11-21T11:00:00.000Z",
        "Content-Type": "application/json",
    }
    return body, headers


def stripe_body(event_id: str = "evt_1OzQ3b2eZvKYlo2C") -> bytes:
    """A Stripe `charge.succeeded` event as delivered (connectors.md §1.8)."""
    charge = {"id": "ch_3N", "object": "charge", "amount": 2000, "currency": "usd"}
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": "charge.succeeded",
            "created": int(NOW.timestamp()),
            "data": {"object": charge},
        }
    ).encode()


def stripe_signature(body: bytes, secrets: list[str], timestamp: int) -> str:
    """A `Stripe-Signature` header with one v1 per secret over "t.body"."""
    signed = str(timestamp).encode() + b"." + body
    v1s = [hmac.new(s.encode(), signed, hashlib.sha256).hexdigest() for s in secrets]
    return ",".join([f"t={timestamp}", *(f"v1={v}" for v in v1s)])


def auth_header(plaintext_key: str) -> dict[str, str]:
    """The header carrying an ingest API key."""
    return {"X-Ownlay-Api-Key": plaintext_key}


def events_scope(plaintext_key: str, content_length: int) -> dict[str, Any]:
    """The ASGI scope of a JSON `POST /api/v1/events` with the key and a Content-Length, for the
    tests that call the app's raw handler directly with a `receive` of their own."""
    return {
        "type": "http",
        "method": "POST",
        "path": "/api/v1/events",
        "headers": [
            (b"x-ownlay-api-key", plaintext_key.encode()),
            (b"content-type", b"application/json"),
            (b"content-length", str(content_length).encode()),
        ],
    }


def raw_events_head(plaintext_key: str, content_length: int) -> bytes:
    """The head of an HTTP/1.1 `POST /api/v1/events` with the key and a Content-Length, for the
    tests that talk to the served app through a raw socket (stalling, pipelining, early answers)."""
    return (
        f"POST /api/v1/events HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        f"X-Ownlay-Api-Key: {plaintext_key}\r\nContent-Length: {content_length}\r\n\r\n"
    ).encode()


def read_answer(connection: socket.socket) -> bytes:
    """One HTTP answer with a Content-Length body, read off a raw-socket `connection`."""
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += connection.recv(65536)
    head, _, body = answer.partition(b"\r\n\r\n")
    length = int(
        next(
            line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
        ).split(b":")[1]
    )
    while len(body) < length:
        body += connection.recv(65536)
    return head + b"\r\n\r\n" + body
