"""Shopify webhook deliveries upserted into the tables the REST sync writes, newest version winning.

Shopify delivers at least once, retries for hours and does not keep order (reference/connectors.md
§1.7, point 5), so a delivery may repeat or be older than what the lake already holds. Each
delivery body is normalised exactly like a REST record and merged into its partition keeping, per
object id, the row with the latest `updated_at` (on a tie the row already stored stays, so
replaying deliveries changes nothing). Applying the same deliveries again, in any order, gives
the same files; a REST sync that rewrites a partition with an older copy is corrected the next
time the stored deliveries are applied.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

from ownlay_pipelines.connectors.shopify import STREAMS
from ownlay_pipelines.connectors.shopify_refunds import REFUND_TOPIC, order_row_with_refund
from ownlay_pipelines.connectors.streams import FetchRequest, Partitioning
from ownlay_pipelines.connectors.webhook_merge import newest_per_key
from ownlay_pipelines.connectors.wire_values import RowError
from ownlay_pipelines.lake.writer import read_partition, write_partition
from ownlay_pipelines.registry.workspaces import Connection, Workspace
from ownlay_pipelines.schema.platforms import Platform

SHOP_DOMAIN_HEADER = "x-shopify-shop-domain"
TABLE_BY_TOPIC = {
    **{
        f"orders/{event}": "orders"
        for event in ("create", "updated", "paid", "cancelled", "fulfilled", "partially_fulfilled")
    },
    "customers/create": "customers",
    "customers/update": "customers",
    "products/create": "products",
    "products/update": "products",
}
"""Topics whose body is the whole object, as the REST API lists it."""
SPEC_BY_TABLE = {spec.table: spec for spec in STREAMS}


class Delivery(Protocol):
    """A stored webhook delivery (`ingest.buffer.WebhookDelivery` has this shape)."""

    seq: int
    topic: str
    headers: dict[str, str]
    raw_body: bytes


@dataclass
class WebhookUpsertResult:
    """What applying deliveries did: rows merged, deliveries skipped or refused, files written."""

    rows: int = 0
    partitions_written: int = 0
    skipped_topics: Counter[str] = field(default_factory=Counter)
    refused: list[str] = field(default_factory=list)
    last_seq: int = 0


def upsert_webhook_deliveries(
    deliveries: Iterable[Delivery], *, workspace: Workspace, lake_root: Path
) -> WebhookUpsertResult:
    """Merge the deliveries' objects into the workspace's Shopify tables, newest `updated_at` wins.

    `refunds/create` updates the stored order it refunds (`shopify_refunds.py`); other topics
    without a whole object in the body (checkouts/…) are counted as skipped; a body that does
    not normalise is refused with its reason (never half-applied).
    """
    result = WebhookUpsertResult()
    pending: dict[tuple[str, date | None], list[dict[str, Any]]] = defaultdict(list)
    for delivery in sorted(deliveries, key=lambda d: d.seq):
        result.last_seq = max(result.last_seq, delivery.seq)
        if delivery.topic == REFUND_TOPIC:
            try:
                _connection(workspace, delivery.headers)
                row = order_row_with_refund(
                    json.loads(delivery.raw_body),
                    orders=SPEC_BY_TABLE["orders"].ref,
                    workspace_id=workspace.id,
                    lake_root=lake_root,
                )
            except (RowError, ValueError) as error:
                result.refused.append(f"delivery {delivery.seq} ({delivery.topic}): {error}")
                continue
            if row is not None:
                pending[("orders", row["report_date"])].append(row)
            continue
        table = TABLE_BY_TOPIC.get(delivery.topic)
        if table is None:
            result.skipped_topics[delivery.topic] += 1
            continue
        try:
            connection = _connection(workspace, delivery.headers)
            record = json.loads(delivery.raw_body)
            if not isinstance(record, Mapping):
                raise RowError("body", "is not a JSON object")
            row = SPEC_BY_TABLE[table].normalise(record, FetchRequest(workspace, connection))
        except (RowError, ValueError) as error:
            result.refused.append(f"delivery {delivery.seq} ({delivery.topic}): {error}")
            continue
        pending[(table, row.get("report_date"))].append(row)
    for (table, report_date), rows in sorted(pending.items(), key=lambda item: str(item[0])):
        spec = SPEC_BY_TABLE[table]
        if spec.partitioning is Partitioning.WORKSPACE:
            report_date = None
        stored = read_partition(
            lake_root, spec.ref, workspace_id=workspace.id, report_date=report_date
        )
        merged = newest_per_key(
            spec,
            None if stored is None else stored.cast(spec.schema),
            pa.Table.from_pylist(rows, schema=spec.schema),
            version_column="updated_at",
        )
        write_partition(
            lake_root, spec.ref, merged, workspace_id=workspace.id, report_date=report_date
        )
        result.rows += len(rows)
        result.partitions_written += 1
    return result


def _connection(workspace: Workspace, headers: Mapping[str, str]) -> Connection:
    """The workspace's shop the delivery came from, by its `X-Shopify-Shop-Domain`."""
    shops = workspace.connections_for(Platform.SHOPIFY)
    domain = headers.get(SHOP_DOMAIN_HEADER, "")
    for connection in shops:
        if domain == f"{connection.account_id}.myshopify.com":
            return connection
    if not domain and len(shops) == 1:
        return shops[0]
    raise ValueError(
        f"shop {domain or '(no X-Shopify-Shop-Domain header)'} is not a shopify connection of "
        f"workspace {workspace.id}"
    )
