"""Stripe webhook events applied to the tables the API sync writes; the newer event wins.

Stripe delivers at least once and in no guaranteed order (reference/connectors.md §1.8). Every
event carries `created` (when Stripe created the event) and `data.object`, the whole object as
it was right after the change. Each event is normalised exactly like an API record and merged
into its partition by primary key, keeping the row written by the newest event:

- a row carries `event_created_at`, the `created` of the event that wrote it (NULL for rows the
  API sync wrote, which any later-applied event replaces);
- an incoming event replaces a stored row only when it is strictly newer, so replaying an event
  changes nothing and an older event arriving after a newer one is ignored; among one batch the
  newest event per object wins (then the later delivery);
- `customer.subscription.*` events also land in `subscription_events` (keyed by event id), the
  history the MRR mart replays;
- `customer.deleted` and `invoice.deleted` (a draft invoice) carry the object as it was before
  the deletion: their row is written with `is_deleted = true` (Airbyte's convention), so a
  deleted customer is not brought back as live, and an older event delivered after it is ignored
  like any older event; a deletion also wins a tie with an event of the same second (nothing
  follows a deletion). The next snapshot of `customers` (or re-pull of the invoices' day), which
  no longer lists the object, removes the row. `customer.subscription.deleted` is a
  cancellation, not a deletion: the subscription keeps its row with status `canceled`.

Events listed from `GET /v1/events` (`stripe_events.py`) are merged by the same code
(`apply_listed_events`), so the API catch-up and the webhooks can never disagree on a row.

Customer e-mails go through the same normaliser as the API sync: only the keyed HMAC pseudonym
(`PiiHasher`) is stored. An event of a type no table holds is counted as skipped; one that does
not normalise is refused with its reason, never half-applied.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa

from ownlay_pipelines.connectors import stripe_rows as rows
from ownlay_pipelines.connectors.shopify_webhooks import Delivery
from ownlay_pipelines.connectors.streams import FetchRequest, Partitioning
from ownlay_pipelines.connectors.stripe import STREAMS
from ownlay_pipelines.connectors.webhook_merge import keep_known, newest_per_key
from ownlay_pipelines.connectors.wire_values import RowError, dig
from ownlay_pipelines.ingest.webhook_store import connect_webhook_store
from ownlay_pipelines.lake.writer import read_partition, write_partition
from ownlay_pipelines.registry.workspaces import Connection, Workspace
from ownlay_pipelines.schema.platforms import Platform

PROVIDER = "stripe"
VERSION_COLUMN = rows.EVENT_CREATED_AT
TABLE_BY_OBJECT = {
    "charge": "charges",
    "refund": "refunds",
    "invoice": "invoices",
    "customer": "customers",
    "subscription": "subscriptions",
}
"""Stripe's `data.object.object` → the table holding that object."""
SPEC_BY_TABLE = {spec.table: spec for spec in STREAMS}
SUBSCRIPTION_EVENT_PREFIX = "customer.subscription."
DELETED_SUFFIX = ".deleted"
KEPT_WHEN_UNSENT = {"charges": ("invoice_id",)}
"""Columns a newer event leaves as stored when it has them NULL: a charge's invoice never
changes, and a Charge rendered in API 2025-03-31 or later no longer names it (the API sync's
pinned version does)."""


@dataclass
class StripeApplyResult:
    """What applying events did: rows offered, rows that changed the lake, skips and refusals."""

    rows: int = 0
    partitions_written: int = 0
    skipped_types: Counter[str] = field(default_factory=Counter)
    refused: list[str] = field(default_factory=list)
    last_seq: int = 0


def last_applied_seq(store_path: Path, workspace_id: str) -> int:
    """The highest `seq` of the workspace's Stripe deliveries already applied (0 if none).

    `mark_applied` marks every delivery up to a seq, so everything after this one is new.
    """
    if not store_path.exists():
        return 0
    connection = connect_webhook_store(store_path)
    try:
        (seq,) = connection.execute(
            "SELECT coalesce(max(seq), 0) FROM webhook_deliveries WHERE provider = ? "
            "AND workspace_id = ? AND applied_at_us IS NOT NULL",
            (PROVIDER, workspace_id),
        ).fetchone()
    finally:
        connection.close()
    return int(seq)


def apply_stripe_events(
    deliveries: Iterable[Delivery], *, workspace: Workspace, lake_root: Path
) -> StripeApplyResult:
    """Merge the events' objects into the workspace's Stripe tables, the newest event winning."""
    result = StripeApplyResult()
    labelled = []
    for delivery in sorted(deliveries, key=lambda d: d.seq):
        result.last_seq = max(result.last_seq, delivery.seq)
        try:
            event = json.loads(delivery.raw_body)
        except ValueError as error:
            result.refused.append(f"delivery {delivery.seq} ({delivery.topic}): {error}")
            continue
        labelled.append((f"delivery {delivery.seq} ({delivery.topic})", delivery.topic, event))
    _merge_events(labelled, workspace=workspace, lake_root=lake_root, result=result)
    return result


def apply_listed_events(
    events: Iterable[Mapping[str, Any]],
    *,
    workspace: Workspace,
    connection: Connection,
    lake_root: Path,
) -> StripeApplyResult:
    """Merge events read from `GET /v1/events` of `connection`'s account into the workspace's
    Stripe tables exactly as verified webhooks are merged (`apply_stripe_events`): the same
    normalisers, the same newest-`created`-wins merge, so a replayed page changes nothing and an
    event older than the stored row is ignored. The listing's own account names the connection
    (its events carry no `account` unless they come from a Connect account)."""
    result = StripeApplyResult()
    labelled = [
        (f"event {event.get('id')} ({event.get('type')})", str(event.get("type")), event)
        for event in events
    ]
    # The list is newest first; oldest first makes a tie between two events go to the later one,
    # as the later delivery wins among webhooks.
    labelled.reverse()
    _merge_events(
        labelled, workspace=workspace, lake_root=lake_root, result=result, connection=connection
    )
    return result


def _merge_events(
    labelled: Iterable[tuple[str, str, object]],
    *,
    workspace: Workspace,
    lake_root: Path,
    result: StripeApplyResult,
    connection: Connection | None = None,
) -> None:
    """Normalise each `(label, type, event)` like an API record and merge the rows into their
    partitions, keeping per primary key the row of the newest event (`newest_per_key`); an event
    of a type no table holds is counted as skipped, one that does not normalise is refused with
    its label and reason and nothing of it is written."""
    pending: dict[tuple[str, date | None], list[dict[str, Any]]] = defaultdict(list)
    for label, topic, event in labelled:
        try:
            if not isinstance(event, Mapping):
                raise RowError("body", "is not a JSON object")
            table = TABLE_BY_OBJECT.get(str(dig(event, "data.object.object")))
            if table is None:
                result.skipped_types[topic] += 1
                continue
            request = FetchRequest(workspace, connection or _connection(workspace, event))
            row = SPEC_BY_TABLE[table].normalise(dig(event, "data.object"), request)
            row[VERSION_COLUMN] = rows.instant(dig(event, "created"), "created")
            if rows.IS_DELETED in row and str(dig(event, "type")).endswith(DELETED_SUFFIX):
                row[rows.IS_DELETED] = True
            extra = []
            if str(dig(event, "type")).startswith(SUBSCRIPTION_EVENT_PREFIX):
                history = rows.normalise_subscription_event(event, request)
                extra.append(("subscription_events", history))
        except (RowError, ValueError) as error:
            result.refused.append(f"{label}: {error}")
            continue
        for name, item in [(table, row), *extra]:
            pending[(name, item.get("report_date"))].append(item)
    for (table, report_date), items in sorted(pending.items(), key=lambda item: str(item[0])):
        spec = SPEC_BY_TABLE[table]
        day = None if spec.partitioning is Partitioning.WORKSPACE else report_date
        stored = read_partition(lake_root, spec.ref, workspace_id=workspace.id, report_date=day)
        incoming = pa.Table.from_pylist(items, schema=spec.schema)
        version = VERSION_COLUMN if VERSION_COLUMN in spec.schema.names else None
        tombstone = rows.IS_DELETED if rows.IS_DELETED in spec.schema.names else None
        merged = newest_per_key(
            spec, stored, incoming, version_column=version, tombstone_column=tombstone
        )
        merged = keep_known(spec, stored, merged, KEPT_WHEN_UNSENT.get(table, ()))
        write_partition(lake_root, spec.ref, merged, workspace_id=workspace.id, report_date=day)
        result.rows += len(items)
        result.partitions_written += 1


def _connection(workspace: Workspace, event: Mapping[str, Any]) -> Connection:
    """The workspace's Stripe account the event belongs to (`account` names it for Connect)."""
    accounts = workspace.connections_for(Platform.STRIPE)
    account = event.get("account")
    for connection in accounts:
        if account == connection.account_id:
            return connection
    if not account and len(accounts) == 1:
        return accounts[0]
    raise ValueError(
        f"Stripe account {account or '(none named in the event)'} is not a stripe connection "
        f"of workspace {workspace.id}"
    )
