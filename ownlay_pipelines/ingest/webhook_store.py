"""Verified webhook deliveries (Shopify, Stripe): kept raw until applied, then only a receipt.

A delivery is stored byte for byte as the provider sent it, durably (`synchronous=FULL`) before the
endpoint answers 200, so the store connectors can upsert it later. Its body holds customer contact
data (e-mail, phone, address, `browser_ip`), so it is kept only until a consumer has applied it
plus `OWNLAY_WEBHOOK_RAW_RETENTION_DAYS` (default 7); a delivery nobody applies loses its body
after `UNAPPLIED_MAX_DAYS`. What remains is a receipt: ids, topic, timestamps and the SHA-256 of
the body (enough to recognise a replay and to prove what was received). `secure_delete` zeroes the
freed pages and the WAL is truncated after each prune, so no copy of a pruned body stays on disk.

The deliveries live in their own SQLite file beside the event buffer, so the buffer's format can
change without touching them.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import anyio

from ownlay_pipelines.events.lake_rows import to_micros
from ownlay_pipelines.ingest.config import WEBHOOK_STORE_FILE

BUSY_TIMEOUT_MS = 30_000
UNAPPLIED_MAX_DAYS = 30
"""A delivery no consumer applies (a provider or topic nothing reads yet) keeps its body this long."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    provider TEXT NOT NULL,
    workspace_id TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    received_at_us INTEGER NOT NULL,
    headers TEXT NOT NULL,
    raw_body BLOB,
    body_sha256 TEXT NOT NULL,
    applied_at_us INTEGER,
    pruned_at_us INTEGER,
    UNIQUE (provider, workspace_id, delivery_id)
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_with_body
    ON webhook_deliveries (received_at_us) WHERE raw_body IS NOT NULL;
"""
# AUTOINCREMENT: `seq` is the connectors' cursor and must never be reused.


@dataclass(frozen=True)
class WebhookDelivery:
    """One verified webhook delivery, byte for byte as the provider sent it."""

    seq: int
    provider: str
    workspace_id: str
    delivery_id: str
    topic: str
    received_at_us: int
    headers: dict[str, str]
    raw_body: bytes


def webhook_store_path(data_dir: Path) -> Path:
    """The deliveries file under `OWNLAY_DATA_DIR` (what `IngestSettings` uses too)."""
    return data_dir / WEBHOOK_STORE_FILE


def connect_webhook_store(path: Path) -> sqlite3.Connection:
    """A connection to the deliveries file (created owner-only), WAL, FULL sync, secure delete."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute("PRAGMA secure_delete=ON")
    connection.executescript(SCHEMA)
    return connection


class WebhookStore:
    """The service's handle on the deliveries file; each append commits in a worker thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._connection = connect_webhook_store(path)
        self._lock = threading.Lock()

    async def append(
        self,
        *,
        provider: str,
        workspace_id: str,
        delivery_id: str,
        topic: str,
        received_at_us: int,
        headers: dict[str, str],
        raw_body: bytes,
    ) -> bool:
        """Store a verified delivery durably; False when it was delivered before."""
        record = (
            provider,
            workspace_id,
            delivery_id,
            topic,
            received_at_us,
            json.dumps(headers, sort_keys=True),
            raw_body,
            hashlib.sha256(raw_body).hexdigest(),
        )
        return await anyio.to_thread.run_sync(self._insert, record)

    def _insert(self, record: tuple[Any, ...]) -> bool:
        with self._lock:
            cursor = self._connection.execute(
                "INSERT OR IGNORE INTO webhook_deliveries (provider, workspace_id, delivery_id, "
                "topic, received_at_us, headers, raw_body, body_sha256) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                record,
            )
            return cursor.rowcount == 1

    def close(self) -> None:
        """Close the connection (pending appends have already committed)."""
        with self._lock:
            self._connection.close()


def read_webhook_deliveries(
    path: Path,
    *,
    provider: str,
    workspace_id: str,
    after_seq: int = 0,
    limit: int = 1000,
    topics: Sequence[str] = (),
) -> list[WebhookDelivery]:
    """Deliveries of one provider and workspace with `seq > after_seq` that still have their
    body (of `topics` only, when given), oldest first. A connector keeps the last `seq` it
    upserted as its cursor."""
    if not path.exists():
        return []
    only = f" AND topic IN ({', '.join('?' * len(topics))})" if topics else ""
    connection = connect_webhook_store(path)
    try:
        rows = connection.execute(
            "SELECT seq, provider, workspace_id, delivery_id, topic, received_at_us, headers, "
            "raw_body FROM webhook_deliveries WHERE provider = ? AND workspace_id = ? AND seq > ? "
            f"AND raw_body IS NOT NULL{only} ORDER BY seq LIMIT ?",
            (provider, workspace_id, after_seq, *topics, limit),
        ).fetchall()
    finally:
        connection.close()
    return [
        WebhookDelivery(seq, prov, ws, delivery, topic, received, json.loads(headers), bytes(body))
        for seq, prov, ws, delivery, topic, received, headers, body in rows
    ]


def mark_applied(
    path: Path, *, provider: str, workspace_id: str, up_to_seq: int, now: datetime
) -> int:
    """Record that a consumer applied every delivery up to `up_to_seq`; returns how many were new.

    Starts their retention window; applying again later does not move it.
    """
    connection = connect_webhook_store(path)
    try:
        return connection.execute(
            "UPDATE webhook_deliveries SET applied_at_us = ? WHERE provider = ? "
            "AND workspace_id = ? AND seq <= ? AND applied_at_us IS NULL",
            (to_micros(now), provider, workspace_id, up_to_seq),
        ).rowcount
    finally:
        connection.close()


def prune_raw_bodies(path: Path, *, now: datetime, retention_days: int) -> int:
    """Drop the body and headers of deliveries applied more than `retention_days` ago, or never
    applied within `UNAPPLIED_MAX_DAYS`; returns how many were pruned. Idempotent."""
    if not path.exists():
        return 0
    applied_before = to_micros(now - timedelta(days=retention_days))
    received_before = to_micros(now - timedelta(days=UNAPPLIED_MAX_DAYS))
    connection = connect_webhook_store(path)
    try:
        pruned = connection.execute(
            "UPDATE webhook_deliveries SET raw_body = NULL, headers = '{}', pruned_at_us = ? "
            "WHERE raw_body IS NOT NULL AND (applied_at_us <= ? OR received_at_us <= ?)",
            (to_micros(now), applied_before, received_before),
        ).rowcount
        # Old page images of the pruned bodies live on in the WAL until it is checkpointed.
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()
    return pruned
