"""Retention: find what is past its window in every store, list it (dry run) or delete it.

Lake data goes by whole partition folder (an event day, a `report_date=` partition of a raw,
quarantine or aggregated table), so nothing is rewritten; ops-store and webhook-store rows go by
their creation time. `plan_retention` only reads; `apply_retention` deletes what the plan lists.
A second run finds nothing left, so rerunning is a no-op.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import sqlalchemy as sa

from ownlay_pipelines.events.layout import day_folders, delete_expired_event_days
from ownlay_pipelines.ingest.webhook_store import (
    UNAPPLIED_MAX_DAYS,
    connect_webhook_store,
    prune_raw_bodies,
)
from ownlay_pipelines.lake.tables import DATE_COLUMN
from ownlay_pipelines.lifecycle.retention_policy import FOREVER, DataType, RetentionPolicy
from ownlay_pipelines.lifecycle.stores import Stores
from ownlay_pipelines.registry.tenant import TENANT_COLUMN
from ownlay_pipelines.watchtower.alerts import AlertState
from ownlay_pipelines.watchtower.tables import (
    api_record_metrics,
    api_records,
    api_snapshots,
    watchtower_alert_states,
    watchtower_alerts,
    watchtower_deliveries,
)

KEPT_RAW_SOURCES = frozenset({"events", "fx"})
"""raw/events has its own window; raw/fx (exchange rates) is reference data, kept forever."""
KEPT_RAW_TABLES = frozenset({("stripe", "subscription_events")})
"""Kept forever: raw/stripe/subscription_events is the only record of past subscription changes
(Stripe keeps events 30 days) and `marts/mrr_daily` is rebuilt from it over two years, so pruning
it would silently rewrite old MRR (an upgrade would look as old as the subscription)."""
AGGREGATED_LAYERS = ("unified", "marts")
CAPI_LOG_TABLES = ("capi_delivery_log", "capi_deliveries")
"""Ops-store tables of the CAPI delivery log; absent ones are skipped (CAPI may not be deployed)."""


@dataclass(frozen=True)
class Expired:
    """One thing past its window: a lake partition folder, or a set of store rows."""

    data_type: DataType
    target: str
    """A lake folder relative to the lake root, or `<store>:<table>` for rows."""
    rows: int
    files: int = 0
    cutoff: str = ""


@dataclass
class RetentionRun:
    """What a run found (dry run) or deleted, per data type."""

    dry_run: bool
    policy: RetentionPolicy
    items: list[Expired] = field(default_factory=list)

    def counts(self) -> dict[str, dict[str, int]]:
        """`{data_type: {"targets": n, "rows": r, "files": f}}` for every data type."""
        out: dict[str, dict[str, int]] = {}
        for data_type in DataType:
            items = [item for item in self.items if item.data_type is data_type]
            out[data_type.value] = {
                "targets": len(items),
                "rows": sum(item.rows for item in items),
                "files": sum(item.files for item in items),
            }
        return out

    def as_json(self) -> dict[str, object]:
        return {
            "dry_run": self.dry_run,
            "windows_days": {
                data_type.value: self.policy.days(data_type) for data_type in DataType
            },
            "counts": self.counts(),
            "items": [
                {
                    "data_type": item.data_type.value,
                    "target": item.target,
                    "rows": item.rows,
                    "files": item.files,
                    "cutoff": item.cutoff,
                }
                for item in self.items
            ],
        }


def run_retention(
    stores: Stores, policy: RetentionPolicy, *, now: datetime, dry_run: bool
) -> RetentionRun:
    """List (dry run) or delete everything past its window; returns what was found or went."""
    run = RetentionRun(dry_run=dry_run, policy=policy)
    today = now.astimezone(UTC).date()
    run.items += _raw_event_days(stores.lake_root, policy, today, dry_run)
    for data_type, folders in _lake_partitions(stores.lake_root).items():
        run.items += _dated_partitions(stores.lake_root, folders, data_type, policy, today, dry_run)
    run.items += _webhook_rows(stores.webhook_store, policy, now, dry_run)
    if stores.ops_store is not None:
        # Alerts first: a snapshot an expired alert points at can then go in the same run.
        run.items += _alerts(stores.ops_store, policy, now, dry_run)
        run.items += _snapshots(stores.ops_store, policy, now, dry_run)
        run.items += _capi_log(stores.ops_store, policy, now, dry_run)
    return run


def _cutoff_day(policy: RetentionPolicy, data_type: DataType, today: date) -> date | None:
    days = policy.days(data_type)
    return None if days == FOREVER else today - timedelta(days=days)


def _cutoff_time(policy: RetentionPolicy, data_type: DataType, now: datetime) -> datetime | None:
    days = policy.days(data_type)
    return None if days == FOREVER else now - timedelta(days=days)


def _file_rows(folder: Path) -> tuple[int, int]:
    """(rows, files) of the Parquet files in a partition folder, from their footers."""
    files = sorted(folder.glob("*.parquet"))
    return sum(pq.ParquetFile(path).metadata.num_rows for path in files), len(files)


def _raw_event_days(
    lake_root: Path, policy: RetentionPolicy, today: date, dry_run: bool
) -> list[Expired]:
    cutoff = _cutoff_day(policy, DataType.RAW_EVENTS, today)
    if cutoff is None:
        return []
    items = []
    for folder in day_folders(lake_root):
        if folder.day < cutoff:
            rows, files = _file_rows(folder.path)
            target = str(folder.path.relative_to(lake_root))
            items.append(Expired(DataType.RAW_EVENTS, target, rows, files, cutoff.isoformat()))
    if items and not dry_run:
        delete_expired_event_days(lake_root, today=today, retention_days=policy.raw_events)
    return items


def _lake_partitions(lake_root: Path) -> dict[DataType, list[Path]]:
    """Every dated partition folder of raw (except events, fx and `KEPT_RAW_TABLES`), quarantine
    and aggregated tables."""
    pattern = f"{TENANT_COLUMN}=*/{DATE_COLUMN}=*"
    found: dict[DataType, list[Path]] = {
        DataType.PLATFORM_RAW: [],
        DataType.QUARANTINE: [],
        DataType.AGGREGATED_METRICS: [],
    }
    raw = lake_root / "raw"
    if raw.is_dir():
        for source in sorted(raw.iterdir()):
            if source.name not in KEPT_RAW_SOURCES:
                found[DataType.PLATFORM_RAW] += [
                    folder
                    for folder in sorted(source.glob(f"*/{pattern}"))
                    if (source.name, folder.parent.parent.name) not in KEPT_RAW_TABLES
                ]
    found[DataType.QUARANTINE] = sorted((lake_root / "quarantine").glob(f"*/*/{pattern}"))
    for layer in AGGREGATED_LAYERS:
        found[DataType.AGGREGATED_METRICS] += sorted((lake_root / layer).glob(f"*/{pattern}"))
    return found


def _dated_partitions(
    lake_root: Path,
    folders: list[Path],
    data_type: DataType,
    policy: RetentionPolicy,
    today: date,
    dry_run: bool,
) -> list[Expired]:
    cutoff = _cutoff_day(policy, data_type, today)
    if cutoff is None:
        return []
    items = []
    for folder in folders:
        try:
            day = date.fromisoformat(folder.name.partition("=")[2])
        except ValueError:
            continue  # not a partition folder written by the lake writer
        if day >= cutoff:
            continue
        rows, files = _file_rows(folder)
        items.append(
            Expired(data_type, str(folder.relative_to(lake_root)), rows, files, cutoff.isoformat())
        )
        if not dry_run:
            shutil.rmtree(folder)
            if not any(folder.parent.iterdir()):
                folder.parent.rmdir()
    return items


def _micros(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def _webhook_rows(
    path: Path, policy: RetentionPolicy, now: datetime, dry_run: bool
) -> list[Expired]:
    """Bodies past their window become receipts; receipts past theirs are deleted."""
    if not path.exists():
        return []
    items = []
    bodies_cutoff = _cutoff_time(policy, DataType.WEBHOOK_BODIES, now)
    receipts_cutoff = _cutoff_time(policy, DataType.WEBHOOK_RECEIPTS, now)
    connection = connect_webhook_store(path)
    try:
        if bodies_cutoff is not None:
            (bodies,) = connection.execute(
                "SELECT count(*) FROM webhook_deliveries WHERE raw_body IS NOT NULL "
                "AND (applied_at_us <= ? OR received_at_us <= ?)",
                (_micros(bodies_cutoff), _micros(now - timedelta(days=UNAPPLIED_MAX_DAYS))),
            ).fetchone()
            if bodies:
                items.append(
                    Expired(
                        DataType.WEBHOOK_BODIES,
                        "webhook_store:webhook_deliveries.raw_body",
                        bodies,
                        cutoff=bodies_cutoff.isoformat(),
                    )
                )
        if receipts_cutoff is not None:
            receipt_filter = "raw_body IS NULL AND received_at_us <= ?"
            (receipts,) = connection.execute(
                f"SELECT count(*) FROM webhook_deliveries WHERE {receipt_filter}",
                (_micros(receipts_cutoff),),
            ).fetchone()
            if receipts:
                items.append(
                    Expired(
                        DataType.WEBHOOK_RECEIPTS,
                        "webhook_store:webhook_deliveries",
                        receipts,
                        cutoff=receipts_cutoff.isoformat(),
                    )
                )
            if receipts and not dry_run:
                connection.execute(
                    f"DELETE FROM webhook_deliveries WHERE {receipt_filter}",
                    (_micros(receipts_cutoff),),
                )
    finally:
        connection.close()
    if (
        bodies_cutoff is not None
        and not dry_run
        and any(item.data_type is DataType.WEBHOOK_BODIES for item in items)
    ):
        prune_raw_bodies(path, now=now, retention_days=policy.webhook_bodies)
    return items


def _alerts(
    engine: sa.Engine, policy: RetentionPolicy, now: datetime, dry_run: bool
) -> list[Expired]:
    """Alerts created before the cutoff whose entity is no longer firing or acknowledged."""
    cutoff = _cutoff_time(policy, DataType.ALERTS, now)
    if cutoff is None:
        return []
    still_open = sa.select(watchtower_alert_states.c.alert_id).where(
        watchtower_alert_states.c.alert_id.is_not(None),
        watchtower_alert_states.c.state != AlertState.RESOLVED.value,
    )
    expired = sa.select(watchtower_alerts.c.id).where(
        watchtower_alerts.c.created_at < cutoff, watchtower_alerts.c.id.not_in(still_open)
    )
    with engine.begin() as connection:
        ids = list(connection.scalars(expired))
        if not ids:
            return []
        if not dry_run:
            for chunk in _chunks(ids):
                connection.execute(
                    watchtower_deliveries.delete().where(
                        watchtower_deliveries.c.alert_id.in_(chunk)
                    )
                )
                connection.execute(
                    watchtower_alert_states.update()
                    .where(watchtower_alert_states.c.alert_id.in_(chunk))
                    .values(alert_id=None)
                )
                connection.execute(
                    watchtower_alerts.delete().where(watchtower_alerts.c.id.in_(chunk))
                )
    return [
        Expired(DataType.ALERTS, "ops_store:watchtower_alerts", len(ids), 0, cutoff.isoformat())
    ]


def _snapshots(
    engine: sa.Engine, policy: RetentionPolicy, now: datetime, dry_run: bool
) -> list[Expired]:
    """Snapshots (with their records and metrics) older than the cutoff no alert points at."""
    cutoff = _cutoff_time(policy, DataType.API_SNAPSHOTS, now)
    if cutoff is None:
        return []
    referenced = sa.select(watchtower_alerts.c.snapshot_id)
    referenced_records = sa.select(watchtower_alerts.c.record_id).where(
        watchtower_alerts.c.record_id.is_not(None)
    )
    with engine.begin() as connection:
        snapshot_ids = list(
            connection.scalars(
                sa.select(api_snapshots.c.id).where(
                    api_snapshots.c.created_at < cutoff, api_snapshots.c.id.not_in(referenced)
                )
            )
        )
        if not snapshot_ids:
            return []
        record_ids = [
            record_id
            for chunk in _chunks(snapshot_ids)
            for record_id in connection.scalars(
                sa.select(api_records.c.id).where(
                    api_records.c.snapshot_id.in_(chunk),
                    api_records.c.id.not_in(referenced_records),
                )
            )
        ]
        if not dry_run:
            for chunk in _chunks(record_ids):
                connection.execute(
                    api_record_metrics.delete().where(api_record_metrics.c.record_id.in_(chunk))
                )
                connection.execute(api_records.delete().where(api_records.c.id.in_(chunk)))
            for chunk in _chunks(snapshot_ids):
                connection.execute(api_snapshots.delete().where(api_snapshots.c.id.in_(chunk)))
    return [
        Expired(
            DataType.API_SNAPSHOTS,
            "ops_store:api_snapshots",
            len(snapshot_ids),
            0,
            cutoff.isoformat(),
        ),
        Expired(
            DataType.API_SNAPSHOTS, "ops_store:api_records", len(record_ids), 0, cutoff.isoformat()
        ),
    ]


def _capi_log(
    engine: sa.Engine, policy: RetentionPolicy, now: datetime, dry_run: bool
) -> list[Expired]:
    """Rows of the CAPI delivery log older than the cutoff, in whichever log tables exist."""
    cutoff = _cutoff_time(policy, DataType.CAPI_DELIVERY_LOG, now)
    if cutoff is None:
        return []
    inspector = sa.inspect(engine)
    items = []
    for name in CAPI_LOG_TABLES:
        if not inspector.has_table(name):
            continue
        table = sa.Table(name, sa.MetaData(), autoload_with=engine)
        if "created_at" not in table.c:
            continue
        # A reflected SQLite column stores naive UTC wall time (as CURRENT_TIMESTAMP does).
        bound = cutoff.replace(tzinfo=None) if engine.dialect.name == "sqlite" else cutoff
        old = table.c.created_at < bound
        with engine.begin() as connection:
            count = connection.scalar(sa.select(sa.func.count()).select_from(table).where(old))
            if count and not dry_run:
                connection.execute(table.delete().where(old))
        if count:
            items.append(
                Expired(
                    DataType.CAPI_DELIVERY_LOG, f"ops_store:{name}", count, 0, cutoff.isoformat()
                )
            )
    return items


def _chunks(values: list[object], size: int = 500) -> list[list[object]]:
    return [values[start : start + size] for start in range(0, len(values), size)]
