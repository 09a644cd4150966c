"""A `refunds/create` webhook applied to the stored order it refunds, so net revenue moves at once.

The topic's body is one Refund object (`id`, `order_id`, `created_at`, `transactions[]`), not the
order, so it cannot be normalised like `orders/*`. Instead the order's stored row is found (its
partition is the order's day, which the refund does not carry, so the workspace's order files are
searched by `order_id`) and returned updated: `total_refunded` plus the refund's successful
refund transactions, `financial_status` refunded or partially refunded, `updated_at` the refund's
`created_at`. The usual newest-`updated_at` merge then stores it.

Idempotent by time: a refund created at or before the stored row's `updated_at` is already in that
row (Shopify bumps the order's `updated_at` with every refund, and the REST sync and the
`orders/updated` topic carry the whole `refunds` array), so a replay changes nothing. A refund
for an order not synced yet is skipped; the orders sync brings both later.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb

from ownlay_pipelines.connectors.shopify_rows import ORDER_SCHEMA, refunded_amount, to_timestamp
from ownlay_pipelines.connectors.wire_values import RowError, to_text
from ownlay_pipelines.lake.tables import TableRef, table_dir
from ownlay_pipelines.registry.tenant import TENANT_COLUMN

REFUND_TOPIC = "refunds/create"


def order_row_with_refund(
    refund: Mapping[str, Any], *, orders: TableRef, workspace_id: str, lake_root: Path
) -> dict[str, Any] | None:
    """The stored order row of `refund` with the refund applied; None when the order is not
    stored yet or already includes the refund. RowError names a malformed field."""
    if not isinstance(refund, Mapping):
        raise RowError("body", "is not a JSON object")
    order_id = to_text(refund.get("order_id"), "order_id")
    created_at = to_timestamp(refund.get("created_at"), "created_at")
    amount = refunded_amount([refund])
    folder = table_dir(lake_root, orders) / f"{TENANT_COLUMN}={workspace_id}"
    files = sorted(str(path) for path in folder.glob("*/*.parquet"))
    if not files:
        return None
    with duckdb.connect() as connection:
        found = connection.sql(
            f"SELECT * FROM read_parquet({files!r}, union_by_name = true) WHERE order_id = ? "
            "ORDER BY updated_at DESC LIMIT 1",
            params=[order_id],
        ).to_arrow_table()
    if not found.num_rows:
        return None
    row = found.select(ORDER_SCHEMA.names).cast(ORDER_SCHEMA).to_pylist()[0]
    if created_at <= row["updated_at"]:
        return None
    row["total_refunded"] += amount
    row["financial_status"] = (
        "refunded" if row["total_refunded"] >= row["total_price"] else "partially_refunded"
    )
    row["updated_at"] = created_at
    return row
