"""The Shopify simulator: paging, filters, call-limit header, throttling, and the shop's truth."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from ownlay_pipelines.connectors import shopify
from ownlay_pipelines.connectors.sync import sync_stream
from ownlay_pipelines.http.clock import FakeClock
from ownlay_pipelines.registry.workspaces import Registry
from ownlay_pipelines.sandbox import FaultPlan, PlatformFaults, sandbox_transport
from ownlay_pipelines.sandbox.credentials import sandbox_credential
from ownlay_pipelines.sandbox.world import SandboxWorld

SHOP = "acme-outdoor"
BASE = f"https://{SHOP}.myshopify.com/admin/api/2025-10"
AUTH = {"X-Shopify-Access-Token": sandbox_credential("access_token", SHOP)}
START, END = date(2026, 3, 10), date(2026, 3, 12)
WINDOW = {
    "status": "any",
    "created_at_min": "2026-03-10T00:00:00-04:00",
    "created_at_max": "2026-03-12T23:59:59-04:00",
}


def _pages(client: httpx.Client, url: str, params: dict | None) -> list[httpx.Response]:
    responses = [client.get(url, params=params, headers=AUTH)]
    while "next" in responses[-1].links:
        responses.append(client.get(responses[-1].links["next"]["url"], headers=AUTH))
    return responses


def test_orders_page_by_link_header_to_exactly_the_shops_orders(
    client: httpx.Client, world: SandboxWorld
):
    pages = _pages(client, f"{BASE}/orders.json", {**WINDOW, "order": "updated_at asc", "limit": 7})
    orders = [order for page in pages for order in page.json()["orders"]]

    expected = world.shop(SHOP).orders(START, END)
    assert len(pages) == -(-len(expected) // 7) > 1
    assert sorted(o["id"] for o in orders) == sorted(o.order_id for o in expected)
    updated = [o["updated_at"] for o in orders]
    assert updated == sorted(updated)
    assert all(p.headers["X-Shopify-Shop-Api-Call-Limit"] == "1/40" for p in pages)
    by_id = {o.order_id: o for o in expected}
    assert all(Decimal(o["total_price"]) == by_id[o["id"]].total for o in orders)
    assert all(o["created_at"].endswith("-04:00") for o in orders)  # New York, after DST began


def test_the_previous_link_returns_the_page_before(client: httpx.Client):
    first = client.get(f"{BASE}/orders.json", params={**WINDOW, "limit": 3}, headers=AUTH)
    second = client.get(first.links["next"]["url"], headers=AUTH)
    back = client.get(second.links["previous"]["url"], headers=AUTH)
    assert "previous" not in first.links
    assert back.json() == first.json()


def test_page_info_beside_filters_is_refused(client: httpx.Client):
    first = client.get(f"{BASE}/orders.json", params={**WINDOW, "limit": 3}, headers=AUTH)
    refused = client.get(first.links["next"]["url"] + "&status=any", headers=AUTH)
    assert refused.status_code == 400
    assert "page_info" in refused.json()["errors"]


def test_orders_default_to_open_cancelled_ones_apart_and_none_are_closed(client: httpx.Client):
    window = {k: v for k, v in WINDOW.items() if k != "status"}
    default = client.get(f"{BASE}/orders.json", params={**window, "limit": 250}, headers=AUTH)
    cancelled = client.get(
        f"{BASE}/orders.json", params={**window, "status": "cancelled", "limit": 250}, headers=AUTH
    )
    closed = client.get(f"{BASE}/orders.json", params={**WINDOW, "status": "closed"}, headers=AUTH)
    every = client.get(f"{BASE}/orders.json", params={**WINDOW, "limit": 250}, headers=AUTH)
    assert closed.json() == {"orders": []}
    open_ids = {o["id"] for o in default.json()["orders"]}
    cancelled_orders = cancelled.json()["orders"]
    assert cancelled_orders and all(o["cancelled_at"] for o in cancelled_orders)
    assert all(o["financial_status"] == "refunded" for o in cancelled_orders)
    assert not any(o["cancelled_at"] for o in default.json()["orders"])
    assert open_ids | {o["id"] for o in cancelled_orders} == {
        o["id"] for o in every.json()["orders"]
    }


def test_a_wrong_token_is_refused_and_an_unknown_shop_is_not_found(client: httpx.Client):
    wrong = client.get(f"{BASE}/shop.json", headers={"X-Shopify-Access-Token": "shpat_x"})
    unknown = client.get("https://nope.myshopify.com/admin/api/2025-10/shop.json", headers=AUTH)
    assert (wrong.status_code, unknown.status_code) == (401, 404)
    assert "Invalid API key or access token" in wrong.json()["errors"]


def test_a_full_bucket_answers_429_with_retry_after_and_then_drains(world: SandboxWorld):
    transport = sandbox_transport(world, FaultPlan({"shopify": PlatformFaults(throttle_rate=1.0)}))
    with httpx.Client(transport=transport) as http:
        throttled = http.get(f"{BASE}/products.json", headers=AUTH)
        transport.set_faults(FaultPlan())
        after = [http.get(f"{BASE}/products.json", headers=AUTH) for _ in range(3)]
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "2.0"
    assert throttled.headers["X-Shopify-Shop-Api-Call-Limit"] == "40/40"
    assert "Exceeded 2 calls per second" in throttled.json()["errors"]
    assert [r.headers["X-Shopify-Shop-Api-Call-Limit"] for r in after] == [
        "38/40",
        "36/40",
        "34/40",
    ]


def test_customers_add_up_to_their_orders(client: httpx.Client, world: SandboxWorld):
    pages = _pages(client, f"{BASE}/customers.json", {"limit": 250})
    customers = [c for page in pages for c in page.json()["customers"]]
    shop = world.shop(SHOP)
    history = shop.history()
    refunded = sum(r.amount for o in history for r in o.refunds_as_of(world.now))
    assert sum(c["orders_count"] for c in customers) == len(history)
    assert sum(Decimal(c["total_spent"]) for c in customers) == (
        sum(o.total for o in history) - refunded
    )
    assert len({c["id"] for c in customers}) == len(customers)


def test_refunds_and_abandoned_checkouts_are_served(client: httpx.Client, world: SandboxWorld):
    shop = world.shop(SHOP)
    refunded = next(o for o in shop.history() if o.refunds_as_of(world.now))
    refunds = client.get(f"{BASE}/orders/{refunded.order_id}/refunds.json", headers=AUTH).json()
    amounts = [Decimal(t["amount"]) for r in refunds["refunds"] for t in r["transactions"]]
    assert amounts == [r.amount for r in refunded.refunds_as_of(world.now)]

    checkouts = client.get(f"{BASE}/checkouts.json", params={**WINDOW, "limit": 250}, headers=AUTH)
    listed = checkouts.json()["checkouts"]
    expected = shop.abandoned_checkouts(START, END)
    assert sorted(c["id"] for c in listed) == sorted(c.checkout_id for c in expected)
    assert all(c["completed_at"] is None and c["abandoned_checkout_url"] for c in listed)


@pytest.mark.parametrize("table", ["orders", "customers", "products"])
def test_the_connector_reproduces_the_shop(
    table: str, tmp_path: Path, world: SandboxWorld, registry: Registry
):
    spec = next(s for s in shopify.STREAMS if s.table == table)
    transport = sandbox_transport(world)

    def open_client(connection):
        return shopify.build_client(
            credentials={"access_token": sandbox_credential("access_token", connection.account_id)},
            account_id=connection.account_id,
            transport=transport,
            clock=FakeClock(),
        )

    days = [START, date(2026, 3, 11), END]
    result = sync_stream(
        spec, workspace=registry.get(SHOP), open_client=open_client, lake_root=tmp_path, days=days
    )
    shop = world.shop(SHOP)
    expected = {
        "orders": len(shop.orders(START, END)),
        "customers": len(shop.customers()),
        "products": len(shop.visitors.products),
    }
    assert (result.rows, result.quarantined, result.duplicates_dropped) == (expected[table], 0, 0)
