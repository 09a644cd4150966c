"""Hand-made lake partitions for mart tests: events, Shopify orders, campaign snapshots."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa

from ownlay_pipelines.connectors.shopify_rows import ORDER_SCHEMA
from ownlay_pipelines.events.lake_rows import EVENT_LAKE_SCHEMA
from ownlay_pipelines.events.layout import part_path
from ownlay_pipelines.lake.tables import TableRef
from ownlay_pipelines.lake.writer import write_parquet_atomically, write_partition
from ownlay_pipelines.registry.workspaces import Workspace, parse_registry

WORKSPACE_ID = "acme"
META_CAMPAIGNS = TableRef.of("raw", "meta_ads", "campaigns")
GOOGLE_CAMPAIGNS = TableRef.of("raw", "google_ads", "campaigns")
CAMPAIGN_SOURCES = [("meta_ads", META_CAMPAIGNS), ("google_ads", GOOGLE_CAMPAIGNS)]
SHOPIFY_ORDERS = TableRef.of("raw", "shopify", "orders")


def workspace(*, shopify: bool = True, timezone: str = "America/New_York") -> Workspace:
    """A workspace with Meta, Google and (unless told otherwise) a Shopify shop."""
    connections = [
        {"platform": "meta_ads", "account_id": "1"},
        {"platform": "google_ads", "account_id": "2"},
    ]
    if shopify:
        connections.append({"platform": "shopify", "account_id": "acme-shop"})
    document = {
        "workspaces": [
            {
                "id": WORKSPACE_ID,
                "name": "Acme",
                "tier": "growth",
                "timezone": timezone,
                "currency": "USD",
                "connections": connections,
            }
        ]
    }
    return parse_registry(document).get(WORKSPACE_ID)


def event(event_id: str, event_type: str, at: datetime, visitor: str, **columns: Any) -> dict:
    """One event-lake row; `properties` may be given as a dict."""
    row: dict[str, Any] = dict.fromkeys(EVENT_LAKE_SCHEMA.names)
    row.update(
        event_id=event_id,
        workspace_id=WORKSPACE_ID,
        event_type=event_type,
        anonymous_id=visitor,
        source_platform="webhook",
        properties="{}",
        created_at=at,
        received_at=at,
        schema_version="1.0",
    )
    if isinstance(columns.get("properties"), dict):
        columns["properties"] = json.dumps(columns["properties"])
    row.update(columns)
    return row


def write_events(lake_root: Path, rows: Iterable[dict]) -> None:
    """Write rows into one part file per UTC day (replacing those files)."""
    by_day: dict[date, list[dict]] = {}
    for row in rows:
        by_day.setdefault(row["created_at"].astimezone(UTC).date(), []).append(row)
    for day, day_rows in by_day.items():
        table = pa.Table.from_pylist(day_rows, schema=EVENT_LAKE_SCHEMA)
        write_parquet_atomically(part_path(lake_root, WORKSPACE_ID, day, flush_id=1), table)


def order(order_id: str, at: datetime, local_day: date, total: str, **columns: Any) -> dict:
    """One Shopify order row placed at `at` on shop-local date `local_day`."""
    row: dict[str, Any] = dict.fromkeys(ORDER_SCHEMA.names)
    row.update(
        workspace_id=WORKSPACE_ID,
        account_id="acme-shop",
        order_id=order_id,
        report_date=local_day,
        created_at=at,
        updated_at=at,
        test=False,
        currency="USD",
        total_price=Decimal(total),
        total_refunded=Decimal(0),
        item_quantity=1,
    )
    row.update(columns)
    return row


def write_orders(lake_root: Path, local_day: date, rows: list[dict]) -> None:
    """Replace the shop-local day's order partition."""
    table = pa.Table.from_pylist(rows, schema=ORDER_SCHEMA)
    write_partition(
        lake_root, SHOPIFY_ORDERS, table, workspace_id=WORKSPACE_ID, report_date=local_day
    )


def write_campaigns(lake_root: Path, ref: TableRef, campaigns: dict[str, str]) -> None:
    """A campaign snapshot of campaign id → name."""
    table = pa.table(
        {
            "workspace_id": [WORKSPACE_ID] * len(campaigns),
            "account_id": ["1"] * len(campaigns),
            "campaign_id": list(campaigns),
            "campaign_name": list(campaigns.values()),
        }
    )
    write_partition(lake_root, ref, table, workspace_id=WORKSPACE_ID)
