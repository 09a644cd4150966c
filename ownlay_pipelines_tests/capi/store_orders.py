"""A Shopify order body and a stored webhook delivery, shared by the order tests (no pytest)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import anyio

from ownlay_pipelines.ingest.webhook_store import WebhookStore
from ownlay_pipelines.registry.workspaces import load_registry
from ownlay_pipelines.settings import DEFAULT_REGISTRY_FILE

WORKSPACE = load_registry(DEFAULT_REGISTRY_FILE).get("acme-outdoor")
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
EMAIL = "Jane.Doe@Example.com"
PHONE = "+1 415 555 0123"


def shopify_order(order_id: int = 820982911946154508, **changes) -> dict:
    """A paid online-store order body as Shopify's `orders/*` webhooks send it, with consent."""
    order = {
        "id": order_id,
        "email": EMAIL,
        "phone": PHONE,
        "browser_ip": "203.0.113.77",
        "created_at": "2026-11-21T06:00:00-05:00",
        "processed_at": "2026-11-21T06:00:01-05:00",
        "currency": "USD",
        "total_price": "409.94",
        "financial_status": "paid",
        "buyer_accepts_marketing": True,
        "landing_site": "/products/tent?utm_source=meta&fbclid=IwAR7",
        "customer": {"id": 207119551, "email": EMAIL, "first_name": "Jane", "last_name": "Doe"},
        "billing_address": {
            "first_name": "Jane",
            "last_name": "Doe",
            "city": "Portland",
            "province_code": "OR",
            "zip": "97201",
            "country_code": "US",
        },
        "client_details": {"browser_ip": "203.0.113.77", "user_agent": "Mozilla/5.0 Firefox/120"},
        "line_items": [{"product_id": 632910392, "variant_id": 808950810, "sku": "TENT-2"}],
    }
    return order | changes


def deliver(path: Path, provider: str, topic: str, body: dict, delivery_id: str) -> None:
    """Store `body` as a verified delivery of the workspace, as the ingest webhook route does."""
    store = WebhookStore(path)
    try:
        anyio.run(
            partial(
                store.append,
                provider=provider,
                workspace_id=WORKSPACE.id,
                delivery_id=delivery_id,
                topic=topic,
                received_at_us=int(NOW.timestamp() * 1_000_000),
                headers={"x-shopify-shop-domain": "acme-outdoor.myshopify.com"},
                raw_body=json.dumps(body).encode(),
            )
        )
    finally:
        store.close()
