"""Shopify connector on canned wire responses: paging, throttling, rows, webhook upserts."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from ownlay_pipelines.connectors.shopify import STREAMS, ShopifyClient
from ownlay_pipelines.connectors.shopify_webhooks import upsert_webhook_deliveries
from ownlay_pipelines.connectors.streams import FetchRequest
from ownlay_pipelines.connectors.sync import sync_stream
from ownlay_pipelines.connectors.wire_values import RowError
from ownlay_pipelines.http.clock import FakeClock
from ownlay_pipelines.http.errors import AuthExpired
from ownlay_pipelines.ingest.webhook_store import WebhookStore, read_webhook_deliveries
from ownlay_pipelines.lake.writer import read_partition
from ownlay_pipelines.privacy.keyed_hash import PiiHasher
from ownlay_pipelines.registry.workspaces import Connection, Workspace
from ownlay_pipelines.schema.date_range import DateRange
from ownlay_pipelines_tests.connectors.wire import Script, json_response

ORDERS = next(s for s in STREAMS if s.table == "orders")
CUSTOMERS = next(s for s in STREAMS if s.table == "customers")
SHOP = "acme-shop"
BASE = f"https://{SHOP}.myshopify.com/admin/api/2025-10"
WORKSPACE = Workspace(
    id="acme",
    name="Acme",
    tier="growth",
    timezone="America/New_York",
    currency="USD",
    connections=(Connection(platform="shopify", account_id=SHOP),),
)
DAY = date(2026, 1, 1)
REQUEST = FetchRequest(WORKSPACE, WORKSPACE.connections[0], DateRange(DAY, DAY))
SHOP_BODY = {"shop": {"iana_timezone": "America/New_York", "currency": "USD"}}


def _order(order_id: int, updated_at: str = "2026-01-01T22:30:00-05:00", **fields) -> dict:
    return {
        "id": order_id,
        "name": f"#{order_id}",
        "created_at": "2026-01-01T22:00:00-05:00",
        "updated_at": updated_at,
        "cancelled_at": None,
        "test": False,
        "currency": "USD",
        "financial_status": "partially_refunded",
        "total_price": "409.94",
        "subtotal_price": "399.99",
        "total_tax": "0.00",
        "total_discounts": "0.00",
        "customer": {"id": 207119551, "email": "bob.norman@example.com"},
        "landing_site": "/sale?utm_source=facebook&utm_medium=paid_social&utm_campaign=spring"
        "&fbclid=IwAR",
        "referring_site": "https://l.facebook.com/",
        "source_name": "web",
        "line_items": [
            {"product_id": 632910392, "variant_id": 808950810, "quantity": 2, "price": "199.99"}
        ],
        "refunds": [
            {
                "id": 1,
                "transactions": [
                    {"kind": "refund", "status": "success", "amount": "41.00"},
                    {"kind": "refund", "status": "failure", "amount": "99.00"},
                ],
            }
        ],
        **fields,
    }


def _client(script: Script, clock: FakeClock | None = None) -> ShopifyClient:
    return ShopifyClient(
        access_token="shpat_secret",
        account_id=SHOP,
        transport=script.transport,
        clock=clock or FakeClock(),
    )


def test_an_order_row_keeps_the_shop_local_day_exact_money_refunds_and_landing_utms():
    row = ORDERS.normalise(_order(450789469), REQUEST)

    # 22:00 in New York on 1 January is 03:00 UTC on the 2nd; the order belongs to the 1st.
    assert row["report_date"] == DAY
    assert row["created_at"] == datetime(2026, 1, 2, 3, 0, tzinfo=UTC)
    assert (row["order_id"], row["customer_id"]) == ("450789469", "207119551")
    assert (row["total_price"], row["total_refunded"]) == (Decimal("409.94"), Decimal("41.00"))
    assert (row["landing_utm_source"], row["landing_utm_campaign"]) == ("facebook", "spring")
    assert row["item_quantity"] == 2
    assert "bob.norman@example.com" not in json.dumps(row, default=str)


def test_customer_contact_data_reaches_the_row_only_as_keyed_hashes(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setenv("OWNLAY_PII_HASH_KEY", "k" * 32)
    order = _order(
        450789469, phone="+1 (415) 555-0123", landing_site="/?ref=bob.norman@example.com"
    )

    row = ORDERS.normalise(order, REQUEST)

    hasher = PiiHasher(b"k" * 32)
    assert row["customer_email_hash"] == hasher.hash_email("bob.norman@example.com")
    assert row["customer_phone_hash"] == hasher.hash_phone("14155550123")
    assert row["landing_site"] == "/?ref=[email]"
    text = json.dumps(row, default=str)
    assert "bob.norman" not in text and "555-0123" not in text


def test_without_a_pii_key_no_contact_data_is_kept_at_all(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("OWNLAY_PII_HASH_KEY", raising=False)

    row = ORDERS.normalise(_order(450789469), REQUEST)

    assert (row["customer_email_hash"], row["customer_phone_hash"]) == (None, None)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"total_price": "12,50"}, "total_price"),
        ({"created_at": "2026-01-01T22:00:00"}, "created_at"),
        ({"updated_at": None}, "updated_at"),
    ],
)
def test_a_malformed_order_names_the_field(change, field):
    with pytest.raises(RowError) as error:
        ORDERS.normalise(_order(1, **change), REQUEST)
    assert error.value.field == field


def test_orders_follow_the_link_header_and_ask_for_every_status_oldest_change_first():
    next_url = f"{BASE}/orders.json?limit=250&page_info=abc"
    script = Script(
        [
            json_response(200, SHOP_BODY),
            json_response(200, {"orders": [_order(1)]}, {"Link": f'<{next_url}>; rel="next"'}),
            json_response(200, {"orders": [_order(2)]}),
        ]
    )
    records = list(ORDERS.fetch(_client(script), REQUEST))

    assert [r["id"] for r in records] == [1, 2]
    first = script.requests[1]
    assert first.headers["x-shopify-access-token"] == "shpat_secret"
    assert dict(first.url.params) == {
        "limit": "250",
        "status": "any",
        "created_at_min": "2026-01-01T00:00:00-05:00",
        "created_at_max": "2026-01-01T23:59:59-05:00",
        "order": "updated_at asc",
    }
    # The next page is the link exactly: Shopify refuses filters beside page_info.
    assert str(script.requests[2].url) == next_url


def test_http_429_waits_for_retry_after_then_retries():
    clock = FakeClock()
    throttled = {"errors": "Exceeded 2 calls per second for api client."}
    script = Script(
        [
            json_response(429, throttled, {"Retry-After": "2.0"}),
            json_response(200, {"customers": []}),
        ]
    )
    client = _client(script, clock)

    assert list(client.listing("customers", {})) == []
    assert clock.sleeps == [2.0]
    assert client.stats.throttled == 1


def test_a_nearly_full_call_bucket_pauses_until_it_is_half_empty():
    clock = FakeClock()
    script = Script(
        [
            json_response(200, SHOP_BODY, {"X-Shopify-Shop-Api-Call-Limit": "38/40"}),
            json_response(200, {"customers": []}, {"X-Shopify-Shop-Api-Call-Limit": "2/40"}),
        ]
    )
    client = _client(script, clock)
    assert client.shop["iana_timezone"] == "America/New_York"
    list(client.listing("customers", {}))

    assert clock.sleeps == [9.0]  # (38 - 20) calls at 2 a second


def test_an_invalid_token_is_auth_expired_and_never_retried():
    script = Script([json_response(401, {"errors": "[API] Invalid API key or access token"})])
    with pytest.raises(AuthExpired):
        list(_client(script).listing("customers", {}))
    assert len(script.requests) == 1


def test_a_bad_order_is_quarantined_and_the_others_kept(tmp_path: Path):
    script = Script(
        [
            json_response(200, SHOP_BODY),
            json_response(200, {"orders": [_order(1), _order(2, total_price="n/a")]}),
        ]
    )
    result = sync_stream(
        ORDERS,
        workspace=WORKSPACE,
        open_client=lambda _: _client(script),
        lake_root=tmp_path,
        days=[DAY],
    )
    assert (result.rows, result.quarantined) == (1, 1)
    assert result.quarantine_reasons == {"total_price: expected a number, got 'n/a'": 1}


@dataclass
class _Delivery:
    seq: int
    topic: str
    raw_body: bytes
    headers: dict[str, str] = field(
        default_factory=lambda: {"x-shopify-shop-domain": f"{SHOP}.myshopify.com"}
    )


def _deliveries(*orders: dict, topic: str = "orders/updated") -> list[_Delivery]:
    return [
        _Delivery(seq, topic, json.dumps(order).encode()) for seq, order in enumerate(orders, 1)
    ]


def _stored(lake: Path) -> dict[str, tuple]:
    table = read_partition(lake, ORDERS.ref, workspace_id="acme", report_date=DAY)
    return {r["order_id"]: (r["updated_at"], r["total_price"]) for r in table.to_pylist()}


def test_webhooks_keep_the_newest_version_whatever_the_delivery_order(tmp_path: Path):
    older = _order(7, "2026-01-01T22:30:00-05:00", total_price="100.00")
    newer = _order(7, "2026-01-02T08:00:00-05:00", total_price="60.00")
    for order in ([newer, older], [older, newer]):
        lake = tmp_path / str(order[0]["total_price"])
        result = upsert_webhook_deliveries(_deliveries(*order), workspace=WORKSPACE, lake_root=lake)
        assert (result.rows, result.partitions_written, result.last_seq) == (2, 1, 2)
        assert _stored(lake) == {"7": (datetime(2026, 1, 2, 13, 0, tzinfo=UTC), Decimal(60))}


def test_a_stale_webhook_never_overwrites_a_newer_synced_order_and_replays_change_nothing(
    tmp_path: Path,
):
    synced = _order(7, "2026-01-05T10:00:00-05:00", total_price="55.00")
    upsert_webhook_deliveries(_deliveries(synced), workspace=WORKSPACE, lake_root=tmp_path)
    path = tmp_path / ORDERS.ref.parts[0]
    files = {p: p.read_bytes() for p in path.rglob("*.parquet")}

    stale = _deliveries(_order(7, "2026-01-02T10:00:00-05:00", total_price="99.00"))
    upsert_webhook_deliveries(stale, workspace=WORKSPACE, lake_root=tmp_path)
    upsert_webhook_deliveries(_deliveries(synced), workspace=WORKSPACE, lake_root=tmp_path)

    assert _stored(tmp_path)["7"][1] == Decimal(55)
    assert {p: p.read_bytes() for p in path.rglob("*.parquet")} == files


def test_webhooks_without_a_whole_object_are_skipped_and_bad_ones_refused(tmp_path: Path):
    deliveries = [
        _Delivery(1, "checkouts/create", b'{"id": 7}'),
        _Delivery(2, "orders/create", b"not json"),
        _Delivery(
            3,
            "orders/create",
            json.dumps(_order(8)).encode(),
            {"x-shopify-shop-domain": "x.myshopify.com"},
        ),
        _Delivery(
            4,
            "customers/update",
            json.dumps({"id": 5, "updated_at": "2026-01-01T10:00:00Z", "orders_count": 3}).encode(),
        ),
    ]
    result = upsert_webhook_deliveries(deliveries, workspace=WORKSPACE, lake_root=tmp_path)

    assert result.skipped_topics == {"checkouts/create": 1}
    assert len(result.refused) == 2 and "x.myshopify.com" in result.refused[1]
    customers = read_partition(tmp_path, CUSTOMERS.ref, workspace_id="acme")
    assert customers.column("orders_count").to_pylist() == [3]


def _refund(refund_id: int, created_at: str, amount: str, order_id: int = 7) -> dict:
    """A `refunds/create` body as Shopify sends it (one Refund object)."""
    return {
        "id": refund_id,
        "order_id": order_id,
        "created_at": created_at,
        "note": "Customer returned the items",
        "transactions": [
            {"id": refund_id + 1, "kind": "refund", "status": "success", "amount": amount},
            {"id": refund_id + 2, "kind": "refund", "status": "failure", "amount": "5.00"},
        ],
    }


def test_a_refund_webhook_lowers_the_stored_orders_net_once_and_replays_change_nothing(
    tmp_path: Path,
):
    # Stored: total 409.94, 41.00 refunded, last changed 2026-01-01 22:30 New York time.
    upsert_webhook_deliveries(_deliveries(_order(7)), workspace=WORKSPACE, lake_root=tmp_path)
    refund = _refund(900, "2026-01-03T09:00:00-05:00", "60.00")
    refunds = [_Delivery(2, "refunds/create", json.dumps(refund).encode())]
    for _ in range(2):  # the second time is a replay
        result = upsert_webhook_deliveries(refunds, workspace=WORKSPACE, lake_root=tmp_path)
        assert result.refused == [] and not result.skipped_topics
    (row,) = read_partition(tmp_path, ORDERS.ref, workspace_id="acme", report_date=DAY).to_pylist()
    assert (row["total_refunded"], row["financial_status"]) == (
        Decimal("101.00"),
        "partially_refunded",
    )
    assert row["updated_at"] == datetime(2026, 1, 3, 14, 0, tzinfo=UTC)
    # A refund older than the stored row is already in it; one for an unknown order waits.
    older = _Delivery(
        3, "refunds/create", json.dumps(_refund(5, "2026-01-01T22:10:00-05:00", "41.00")).encode()
    )
    unknown = _Delivery(
        4, "refunds/create", json.dumps(_refund(6, "2026-01-04T09:00:00Z", "1.00", 99)).encode()
    )
    bad = _Delivery(5, "refunds/create", b'{"order_id": 7}')
    result = upsert_webhook_deliveries(
        [older, unknown, bad], workspace=WORKSPACE, lake_root=tmp_path
    )
    assert result.rows == 0 and len(result.refused) == 1 and "created_at" in result.refused[0]
    (row,) = read_partition(tmp_path, ORDERS.ref, workspace_id="acme", report_date=DAY).to_pylist()
    assert row["total_refunded"] == Decimal("101.00")


def test_the_client_talks_to_the_shops_own_admin_host():
    assert _client(Script([])).base_url == BASE
    assert httpx.URL(BASE).host == f"{SHOP}.myshopify.com"


def test_deliveries_the_ingest_buffer_stored_upsert_like_any_other(tmp_path: Path):
    buffer_path = tmp_path / "buffer.sqlite"
    versions = [
        _order(9, "2026-01-02T08:00:00-05:00", total_price="70.00"),
        _order(9, "2026-01-01T22:30:00-05:00", total_price="90.00"),
    ]

    async def store() -> None:
        buffer = WebhookStore(buffer_path)
        try:
            for number, order in enumerate(versions):
                await buffer.append(
                    provider="shopify",
                    workspace_id="acme",
                    delivery_id=f"event-{number}",
                    topic="orders/updated",
                    received_at_us=number,
                    headers={"x-shopify-shop-domain": f"{SHOP}.myshopify.com"},
                    raw_body=json.dumps(order).encode(),
                )
        finally:
            buffer.close()

    asyncio.run(store())
    deliveries = read_webhook_deliveries(buffer_path, provider="shopify", workspace_id="acme")
    result = upsert_webhook_deliveries(deliveries, workspace=WORKSPACE, lake_root=tmp_path)

    assert result.rows == 2
    assert _stored(tmp_path) == {"9": (datetime(2026, 1, 2, 13, 0, tzinfo=UTC), Decimal(70))}
