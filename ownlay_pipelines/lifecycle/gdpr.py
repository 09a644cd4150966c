"""GDPR access and erasure for one person across every store (seed 000, seed 001).

`export_subject` collects every row about the person from the lake, the event buffer, the webhook
store and the ops store (with the CAPI outbox when deployed) into one JSON document.
`delete_subject` first adds the person to the suppression list (so the ingest service drops their
new events from then on), then, holding the flush and compaction locks so no flush or compaction
moves rows meanwhile, removes them from the buffer, rewrites the lake files that held them,
prunes webhook bodies and deletes ops-store rows. Both record an audit entry: who asked, when,
for whom (keyed hash only), and how many rows each store held. Deleting twice finds nothing the
second time; it is safe to rerun after a failure.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ownlay_pipelines.events.lake_rows import to_micros
from ownlay_pipelines.events.layout import EVENTS_TABLE
from ownlay_pipelines.lake.locks import exclusive_lock
from ownlay_pipelines.lake.tables import table_dir
from ownlay_pipelines.lifecycle.gdpr_lake import delete_from_lake, find_in_lake
from ownlay_pipelines.lifecycle.gdpr_ops import delete_from_ops_store, find_in_ops_store
from ownlay_pipelines.lifecycle.gdpr_stores import (
    delete_from_buffer,
    delete_from_webhooks,
    find_in_buffer,
    find_in_webhooks,
)
from ownlay_pipelines.lifecycle.ops_tables import (
    create_lifecycle_tables,
    gdpr_audit,
    gdpr_suppressions,
)
from ownlay_pipelines.lifecycle.stores import Stores
from ownlay_pipelines.lifecycle.subject import DataSubject
from ownlay_pipelines.lifecycle.suppression import SUPPRESSIONS


@dataclass(frozen=True)
class GdprResult:
    """What a request found (export) or removed (delete), per store, and the full export."""

    action: str
    counts: dict[str, int]
    document: dict[str, Any]


def export_subject(
    stores: Stores, subject: DataSubject, *, requested_by: str, now: datetime
) -> GdprResult:
    """Every row about the subject in every store, as one JSON-ready document (audited)."""
    lake = [
        {
            "table": m.table,
            "file": str(m.path.relative_to(stores.lake_root)),
            "rows": m.rows.to_pylist(),
        }
        for m in find_in_lake(stores.lake_root, subject)
    ]
    buffer = [
        row for m in find_in_buffer(stores.event_buffer, subject) for row in m.rows.to_pylist()
    ]
    webhooks = find_in_webhooks(stores.webhook_store, subject)
    ops = find_in_ops_store(stores.ops_store, subject) if stores.ops_store is not None else {}
    counts = {
        "lake_rows": sum(len(item["rows"]) for item in lake),
        "lake_files": len(lake),
        "event_buffer_rows": len(buffer),
        "webhook_deliveries": len(webhooks),
        "ops_store_rows": sum(len(rows) for rows in ops.values()),
    }
    document = {
        "workspace_id": subject.workspace_id,
        "identifier": {"kind": subject.kind.value, "value": subject.value},
        "generated_at": now.isoformat(),
        "counts": counts,
        "lake": lake,
        "event_buffer": buffer,
        "webhook_deliveries": webhooks,
        "ops_store": ops,
        "suppressed": _is_suppressed(stores, subject),
    }
    _audit(stores, subject, "export", requested_by, now, counts)
    return GdprResult("export", counts, document)


def delete_subject(
    stores: Stores, subject: DataSubject, *, requested_by: str, now: datetime
) -> GdprResult:
    """Erase the subject from every store and suppress their later events (audited)."""
    _suppress(stores, subject, now)
    with ExitStack() as locks:
        locks.enter_context(exclusive_lock(flush_lock_path(stores.event_buffer)))
        locks.enter_context(exclusive_lock(compaction_lock_path(stores.lake_root)))
        buffer = delete_from_buffer(stores.event_buffer, subject)
        lake = delete_from_lake(stores.lake_root, subject)
    webhooks = delete_from_webhooks(stores.webhook_store, subject, now_us=to_micros(now))
    ops = delete_from_ops_store(stores.ops_store, subject) if stores.ops_store is not None else {}
    counts = {
        "lake_rows": sum(m.rows.num_rows for m in lake),
        "lake_files": len(lake),
        "event_buffer_rows": sum(m.rows.num_rows for m in buffer),
        "webhook_deliveries": len(webhooks),
        "ops_store_rows": sum(ops.values()),
    }
    _audit(stores, subject, "delete", requested_by, now, counts)
    tables = sorted({m.table for m in lake})
    return GdprResult("delete", counts, {"lake_tables": tables, "ops_store": ops})


def flush_lock_path(buffer_path: Path) -> Path:
    """The lock `ingest.flush.flush_buffer` holds while it moves batches into the lake."""
    return buffer_path.with_name(buffer_path.name + ".flush.lock")


def compaction_lock_path(lake_root: Path) -> Path:
    """The lock `events.compaction.compact_closed_days` holds while it replaces day files."""
    return table_dir(lake_root, EVENTS_TABLE) / ".compaction.lock"


def write_export(document: Mapping[str, Any], path: Path) -> None:
    """The export as indented JSON, owner-only (it holds personal data)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, default=str, sort_keys=True) + "\n")


def audit_entries(engine: sa.Engine, workspace_id: str) -> list[dict[str, Any]]:
    """The workspace's GDPR audit log, oldest first."""
    create_lifecycle_tables(engine)
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(gdpr_audit)
            .where(gdpr_audit.c.workspace_id == workspace_id)
            .order_by(gdpr_audit.c.id)
        ).mappings()
        return [dict(row) for row in rows]


def _suppress(stores: Stores, subject: DataSubject, now: datetime) -> None:
    if stores.ops_store is None:
        raise ValueError("a GDPR deletion needs the ops store (suppression list and audit log)")
    create_lifecycle_tables(stores.ops_store)
    if _is_suppressed(stores, subject):
        return
    with stores.ops_store.begin() as connection:
        connection.execute(
            gdpr_suppressions.insert().values(
                workspace_id=subject.workspace_id,
                identifier_kind=subject.kind.value,
                identifier_hash=subject.identifier_hash,
                created_at=now,
            )
        )
    SUPPRESSIONS.clear()


def _is_suppressed(stores: Stores, subject: DataSubject) -> bool:
    if stores.ops_store is None:
        return False
    create_lifecycle_tables(stores.ops_store)
    with stores.ops_store.connect() as connection:
        return (
            connection.scalar(
                sa.select(sa.func.count())
                .select_from(gdpr_suppressions)
                .where(
                    gdpr_suppressions.c.workspace_id == subject.workspace_id,
                    gdpr_suppressions.c.identifier_kind == subject.kind.value,
                    gdpr_suppressions.c.identifier_hash == subject.identifier_hash,
                )
            )
            > 0
        )


def _audit(
    stores: Stores,
    subject: DataSubject,
    action: str,
    requested_by: str,
    now: datetime,
    counts: dict[str, int],
) -> None:
    if stores.ops_store is None:
        return
    create_lifecycle_tables(stores.ops_store)
    with stores.ops_store.begin() as connection:
        connection.execute(
            gdpr_audit.insert().values(
                workspace_id=subject.workspace_id,
                action=action,
                identifier_kind=subject.kind.value,
                identifier_hash=subject.identifier_hash,
                requested_by=requested_by,
                at=now,
                counts=counts,
            )
        )
