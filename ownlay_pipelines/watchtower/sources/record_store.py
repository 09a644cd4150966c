"""Writing one capture of a source for one client: an `api_snapshots` row and the records in it.

Every sync is a new snapshot (seed 004: "point-in-time captures for comparison"). The rules engine
takes a client's latest completed snapshot of a source as current and the one before as previous,
matching records by `external_id` (sql_ops.py), so a capture always holds the complete set of
records the source returned, never a diff. Records are written set-based in one transaction while
the snapshot is `processing`; writing to the same snapshot again replaces its records, so a retried
write never duplicates rows, and a failed capture is never anyone's current snapshot.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa

from ownlay_pipelines.watchtower.clock import Clock, utc_now
from ownlay_pipelines.watchtower.errors import TransitionError
from ownlay_pipelines.watchtower.snapshots import (
    ApiSnapshotLog,
    SnapshotRun,
    SnapshotStatus,
    SnapshotType,
)
from ownlay_pipelines.watchtower.sources.field_mappings import FieldMapping
from ownlay_pipelines.watchtower.tables import (
    api_record_metrics,
    api_records,
    api_snapshots,
    metric_definitions,
)

Record = Mapping[str, Any]
"""One source record keyed by the source's own field names (those its FieldMapping names)."""

TEXT_LENGTHS = {"external_id": 255, "name": 255, "email": 255, "status": 50, "category": 100}
"""VARCHAR sizes of seed 004's `api_records`; longer values are refused, not cut."""


@dataclass(frozen=True)
class CapturedSnapshot:
    """One completed capture: its snapshot, the records and metric rows it holds."""

    snapshot_id: uuid.UUID
    records: int
    metrics: int
    duplicates_dropped: int


class SnapshotWriter:
    """Writes the records of the snapshot being captured; another `write` replaces them."""

    def __init__(
        self,
        store: sa.Engine,
        run: SnapshotRun,
        mapping: FieldMapping,
        client_id: str,
        clock: Clock,
    ) -> None:
        self._store = store
        self._run = run
        self._mapping = mapping
        self._client_id = client_id
        self._clock = clock

    @property
    def snapshot_id(self) -> uuid.UUID:
        return self._run.snapshot_id

    def write(self, records: Sequence[Record]) -> CapturedSnapshot:
        """Store `records` as the snapshot's complete content and count them as its total."""
        captured = write_records(
            self._store,
            self._run.snapshot_id,
            self._mapping,
            records,
            client_id=self._client_id,
            now=self._clock(),
        )
        self._run.total_records = captured.records
        return captured


@contextmanager
def capture_records(
    store: sa.Engine,
    mapping: FieldMapping,
    *,
    client_id: str,
    snapshot_type: SnapshotType,
    clock: Clock = utc_now,
) -> Iterator[SnapshotWriter]:
    """A new snapshot of `mapping`'s source for `client_id`, open for writing its records.

    The snapshot is `processing` inside the block (fetch there, then `write`), `completed` with
    the written count after it, or `failed` with the error's message if the block raises.
    """
    log = ApiSnapshotLog(store, clock=clock)
    with log.capture(
        mapping.provider, mapping.endpoint, client_id=client_id, snapshot_type=snapshot_type
    ) as run:
        yield SnapshotWriter(store, run, mapping, client_id, clock)


def write_records(
    store: sa.Engine,
    snapshot_id: uuid.UUID,
    mapping: FieldMapping,
    records: Sequence[Record],
    *,
    client_id: str,
    now: datetime,
) -> CapturedSnapshot:
    """Replace the records of a `processing` snapshot with `records` (the last of an id wins)."""
    by_id: dict[str, Record] = {}
    for record in records:
        by_id[_external_id(mapping, record)] = record
    with store.begin() as connection:
        _require_processing(connection, snapshot_id)
        units = _metric_units(connection, mapping)
        rows, metric_rows = [], []
        for record in by_id.values():
            row = _record_row(mapping, record, client_id)
            row.update(id=uuid.uuid4(), snapshot_id=snapshot_id, created_at=now)
            rows.append(row)
            metric_rows += _metric_rows(mapping, record, row["id"], units, now)
        owned = sa.select(api_records.c.id).where(api_records.c.snapshot_id == snapshot_id)
        connection.execute(
            api_record_metrics.delete().where(api_record_metrics.c.record_id.in_(owned))
        )
        connection.execute(api_records.delete().where(api_records.c.snapshot_id == snapshot_id))
        if rows:
            connection.execute(api_records.insert(), rows)
        if metric_rows:
            connection.execute(api_record_metrics.insert(), metric_rows)
    return CapturedSnapshot(snapshot_id, len(rows), len(metric_rows), len(records) - len(rows))


def _require_processing(connection: sa.Connection, snapshot_id: uuid.UUID) -> None:
    status = connection.execute(
        sa.select(api_snapshots.c.status).where(api_snapshots.c.id == snapshot_id)
    ).scalar_one_or_none()
    if status != SnapshotStatus.PROCESSING.value:
        raise TransitionError(
            f"snapshot {snapshot_id} is {status or 'missing'}; records are written only while "
            "it is processing (inside ApiSnapshotLog.capture)"
        )


def _metric_units(connection: sa.Connection, mapping: FieldMapping) -> dict[str, str | None]:
    names = {metric for _, metric in mapping.metrics}
    units = dict(
        connection.execute(
            sa.select(metric_definitions.c.metric_name, metric_definitions.c.metric_unit).where(
                metric_definitions.c.metric_name.in_(names)
            )
        ).all()
    )
    if missing := sorted(names - set(units)):
        raise ValueError(
            f"{mapping.source} maps metrics {missing} that metric_definitions does not define; "
            "rules could never watch them"
        )
    return units


def _external_id(mapping: FieldMapping, record: Record) -> str:
    field = next(field for field, column in mapping.columns if column == "external_id")
    value = _column_value("external_id", field, record.get(field), mapping)
    if value is None:
        raise ValueError(f"{mapping.source}: a record has no {field}, its external id")
    return str(value)


def _record_row(mapping: FieldMapping, record: Record, client_id: str) -> dict[str, Any]:
    if mapping.client_field is not None and record.get(mapping.client_field) != client_id:
        raise ValueError(
            f"{mapping.source}: record {_external_id(mapping, record)} belongs to client "
            f"{record.get(mapping.client_field)!r}, not to {client_id!r} whose snapshot this is"
        )
    row: dict[str, Any] = {"client_id": client_id}
    for field, column in mapping.columns:
        row[column] = _column_value(column, field, record.get(field), mapping)
    row["extra"] = {
        key: _json_safe(value)
        for key, value in sorted(record.items())
        if key not in mapping.mapped_fields and value is not None
    }
    return row


def _metric_rows(
    mapping: FieldMapping,
    record: Record,
    record_id: uuid.UUID,
    units: Mapping[str, str | None],
    now: datetime,
) -> list[dict[str, Any]]:
    rows = []
    for field, metric in mapping.metrics:
        value = record.get(field)
        if value is None:
            # A source that does not report a metric (Omnisend's versioned lists have no counters)
            # stores no row: NULL is not a value and metric_value is NOT NULL.
            continue
        rows.append(
            {
                "id": uuid.uuid4(),
                "record_id": record_id,
                "metric_name": metric,
                "metric_value": _decimal(value, field, mapping),
                "metric_unit": units[metric],
                "created_at": now,
            }
        )
    return rows


def _column_value(column: str, field: str, value: Any, mapping: FieldMapping) -> Any:
    if value is None:
        return None
    if column in TEXT_LENGTHS:
        text = str(value)
        if len(text) > TEXT_LENGTHS[column]:
            raise ValueError(
                f"{mapping.source}: {field} is {len(text)} characters, more than the "
                f"{TEXT_LENGTHS[column]} api_records.{column} holds"
            )
        return text
    if column == "tags":
        if isinstance(value, str) or not isinstance(value, Iterable):
            raise ValueError(f"{mapping.source}: {field} must be a list of tags, not {value!r}")
        return [str(tag) for tag in value]
    if column == "amount":
        return _decimal(value, field, mapping)
    if column == "quantity":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{mapping.source}: {field} must be a whole number, not {value!r}")
        return value
    return _timestamp(value, field, mapping)


def _decimal(value: Any, field: str, mapping: FieldMapping) -> Decimal:
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        number = Decimal("NaN")
    if isinstance(value, bool) or not number.is_finite():
        raise ValueError(f"{mapping.source}: {field} must be a finite number, not {value!r}")
    return number


def _timestamp(value: Any, field: str, mapping: FieldMapping) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(
                f"{mapping.source}: {field} {value!r} is not an ISO 8601 date or timestamp"
            ) from None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"{mapping.source}: {field} {value.isoformat()} has no timezone")
        return value.astimezone(UTC)
    if isinstance(value, date):
        # A date stands for the start of that day; seed 004's record_date is a TIMESTAMPTZ.
        return datetime.combine(value, time(), UTC)
    raise ValueError(f"{mapping.source}: {field} must be a date or timestamp, not {value!r}")


def _json_safe(value: Any) -> Any:
    """`value` as JSON keeps it: exact decimals as text, dates in ISO 8601."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    return value
