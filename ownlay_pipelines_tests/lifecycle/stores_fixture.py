"""A deployment's stores under tmp_path, filled with dated rows of every data type."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

from ownlay_pipelines.events.lake_rows import EVENT_LAKE_SCHEMA, to_micros
from ownlay_pipelines.events.layout import part_path
from ownlay_pipelines.ingest.webhook_store import connect_webhook_store
from ownlay_pipelines.lake.tables import TableRef
from ownlay_pipelines.lake.writer import write_parquet_atomically, write_partition
from ownlay_pipelines.lifecycle.stores import Stores, stores_at
from ownlay_pipelines.watchtower.tables import (
    api_record_metrics,
    api_records,
    api_snapshots,
    api_sources,
    watchtower_alert_states,
    watchtower_alerts,
    watchtower_rules,
)

INSIGHTS = TableRef.of("raw", "meta_ads", "insights")
FX = TableRef.of("raw", "fx", "daily_rates")
MART = TableRef.of("marts", "roas_daily")


def make_stores(tmp_path: Path) -> Stores:
    """Empty stores under `tmp_path/data` (SQLite ops store)."""
    return stores_at(tmp_path / "data")


def write_event_day(stores: Stores, day: date, rows: list[dict[str, Any]], flush_id: int) -> Path:
    """One part file of workspace acme's `day` holding `rows` (lake rows)."""
    path = part_path(stores.lake_root, "acme", day, flush_id)
    write_parquet_atomically(path, pa.Table.from_pylist(rows, schema=EVENT_LAKE_SCHEMA))
    return path


def write_dated(stores: Stores, ref: TableRef, day: date, rows: int) -> None:
    """A partition of `ref` for acme and `day` with `rows` rows."""
    table = pa.table({"workspace_id": ["acme"] * rows, "n": list(range(rows))})
    write_partition(stores.lake_root, ref, table, workspace_id="acme", report_date=day)


def add_webhook(
    stores: Stores,
    delivery_id: str,
    *,
    received: datetime,
    body: dict | None,
    applied: datetime | None = None,
) -> None:
    """One Shopify delivery row; `body=None` stores a receipt (body already pruned)."""
    raw = json.dumps(body).encode() if body is not None else None
    connection = connect_webhook_store(stores.webhook_store)
    try:
        connection.execute(
            "INSERT INTO webhook_deliveries (provider, workspace_id, delivery_id, topic, "
            "received_at_us, headers, raw_body, body_sha256, applied_at_us) "
            "VALUES ('shopify', 'acme', ?, 'orders/create', ?, '{}', ?, ?, ?)",
            (
                delivery_id,
                to_micros(received),
                raw,
                hashlib.sha256(raw or b"").hexdigest(),
                to_micros(applied) if applied else None,
            ),
        )
    finally:
        connection.close()


def add_snapshot(
    engine: sa.Engine, created: datetime, *, email: str | None = None
) -> tuple[uuid.UUID, uuid.UUID]:
    """A snapshot with one record (and one metric) created at `created`; returns their ids."""
    with engine.begin() as connection:
        source_id = connection.scalar(sa.select(api_sources.c.id).limit(1))
        snapshot_id, record_id = uuid.uuid4(), uuid.uuid4()
        connection.execute(
            api_snapshots.insert().values(
                id=snapshot_id,
                source_id=source_id,
                client_id="acme",
                created_at=created,
                status="completed",
            )
        )
        connection.execute(
            api_records.insert().values(
                id=record_id,
                snapshot_id=snapshot_id,
                client_id="acme",
                external_id="c-1",
                email=email,
                created_at=created,
            )
        )
        connection.execute(
            api_record_metrics.insert().values(
                record_id=record_id, metric_name="open_rate", metric_value=0.4
            )
        )
    return snapshot_id, record_id


def add_alert(
    engine: sa.Engine, snapshot_id: uuid.UUID, created: datetime, *, state: str
) -> uuid.UUID:
    """An alert on `snapshot_id` whose entity is now in `state`."""
    alert_id = uuid.uuid4()
    with engine.begin() as connection:
        rule_id = connection.scalar(sa.select(watchtower_rules.c.id).limit(1))
        connection.execute(
            watchtower_alerts.insert().values(
                id=alert_id,
                rule_id=rule_id,
                snapshot_id=snapshot_id,
                client_id="acme",
                message="open rate fell",
                severity="warning",
                created_at=created,
            )
        )
        connection.execute(
            watchtower_alert_states.insert().values(
                rule_id=rule_id,
                entity_key=alert_id.hex,
                entity={"id": alert_id.hex},
                client_id="acme",
                state=state,
                alert_id=alert_id,
            )
        )
    return alert_id


def count(engine: sa.Engine, table: sa.Table) -> int:
    with engine.connect() as connection:
        return connection.scalar(sa.select(sa.func.count()).select_from(table))
