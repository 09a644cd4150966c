"""One person's data in the ingest path's SQLite files: pending event batches and webhook bodies.

The event buffer holds acknowledged events not yet flushed, as Arrow batches of the lake schema
(PII already hashed): a batch with the person's rows is replaced by one without them, stored
inline (or deleted when nothing is left), and the segment file that held the old batch is
unlinked (`buffer.replace_pending_batches`). Webhook deliveries keep provider bodies as received, with raw contact
data: a body that mentions the person's e-mail or id loses its body and headers and keeps only
its receipt (ids, topic, SHA-256), as retention does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ownlay_pipelines.ingest.buffer import (
    connect_buffer,
    replace_pending_batches,
    unflushed_batches,
)
from ownlay_pipelines.ingest.webhook_store import connect_webhook_store
from ownlay_pipelines.lifecycle.subject import DataSubject, IdentifierKind


@dataclass(frozen=True)
class BufferMatch:
    """A pending batch (by `seq`) with rows about the person."""

    seq: int
    rows: pa.Table
    kept: pa.RecordBatch


def find_in_buffer(path: Path, subject: DataSubject) -> list[BufferMatch]:
    """Pending batches of the buffer with events of the subject."""
    if not path.exists():
        return []
    connection = connect_buffer(path)
    try:
        stored = list(unflushed_batches(connection, path))
    finally:
        connection.close()
    matches = []
    for seq, batch in stored:
        workspace = pc.equal(batch.column("workspace_id"), subject.workspace_id)
        columns = subject.equality_columns(batch.schema.names)
        person = pc.equal(batch.column(columns[0]), subject.equality_value)
        mask = pc.fill_null(pc.and_kleene(workspace, person), False)
        if pc.any(mask).as_py():
            matches.append(
                BufferMatch(
                    seq, pa.Table.from_batches([batch.filter(mask)]), batch.filter(pc.invert(mask))
                )
            )
    return matches


def delete_from_buffer(path: Path, subject: DataSubject) -> list[BufferMatch]:
    """Remove the subject's events from pending batches; the caller holds the flush lock."""
    matches = find_in_buffer(path, subject)
    if not matches:
        return []
    connection = connect_buffer(path)
    try:
        replace_pending_batches(connection, path, {match.seq: match.kept for match in matches})
        # Freed pages of the old batches go back to the file system, and out of the WAL.
        connection.execute("PRAGMA incremental_vacuum")
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()
    return matches


def find_in_webhooks(path: Path, subject: DataSubject) -> list[dict[str, Any]]:
    """Webhook deliveries of the workspace whose stored body mentions the subject."""
    if not path.exists():
        return []
    connection = connect_webhook_store(path)
    try:
        rows = connection.execute(
            "SELECT seq, provider, delivery_id, topic, received_at_us, raw_body "
            "FROM webhook_deliveries WHERE workspace_id = ? AND raw_body IS NOT NULL ORDER BY seq",
            (subject.workspace_id,),
        ).fetchall()
    finally:
        connection.close()
    found = []
    for seq, provider, delivery_id, topic, received_at_us, body in rows:
        try:
            document = json.loads(bytes(body))
        except ValueError:
            document = bytes(body).decode("utf-8", "replace")
        if _mentions(document, subject):
            found.append(
                {
                    "seq": seq,
                    "provider": provider,
                    "delivery_id": delivery_id,
                    "topic": topic,
                    "received_at_us": received_at_us,
                    "body": document,
                }
            )
    return found


def delete_from_webhooks(path: Path, subject: DataSubject, *, now_us: int) -> list[dict[str, Any]]:
    """Prune the body and headers of every delivery that mentions the subject."""
    found = find_in_webhooks(path, subject)
    if not found:
        return []
    connection = connect_webhook_store(path)
    try:
        connection.executemany(
            "UPDATE webhook_deliveries SET raw_body = NULL, headers = '{}', pruned_at_us = ? "
            "WHERE seq = ?",
            [(now_us, delivery["seq"]) for delivery in found],
        )
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()
    return found


def _mentions(document: Any, subject: DataSubject) -> bool:
    """Whether any string in the JSON document is the subject's e-mail (any case) or id."""
    if isinstance(document, dict):
        return any(_mentions(value, subject) for value in document.values())
    if isinstance(document, list):
        return any(_mentions(value, subject) for value in document)
    if isinstance(document, str):
        if subject.kind is IdentifierKind.EMAIL:
            return document.strip().lower() == subject.value
        return document == subject.value
    return False
