"""Draining one destination's outbox: claim, build, hash, send, record — batch by batch.

Each batch's outcomes and its EventDeliveryLog rows are committed in one transaction right after
the platform answered, so a killed run leaves at most the batch in flight unrecorded; its rows
are claimed again when their lease lapses and re-sent with the same dedup ids.

The batch size comes from seed 002's BatchOptimizer (capi/batch_optimizer.py), seeded with the
destination's batches of the last hour as the delivery log recorded them; a drain normalises and
hashes each distinct contact value once (`MatchKeyCache`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa

from ownlay_pipelines.capi.batch_optimizer import HISTORY, BatchOptimizer, BatchPerformance
from ownlay_pipelines.capi.destinations import CapiDestination, CapiSettings
from ownlay_pipelines.capi.normalize import MatchKeyCache
from ownlay_pipelines.capi.outbox import (
    CLAIM_LEASE,
    ClaimedRow,
    OutboxStatus,
    Outcome,
    claim,
    finish,
)
from ownlay_pipelines.capi.senders import BatchResult, CapiSender
from ownlay_pipelines.capi.tables import capi_delivery_log
from ownlay_pipelines.capi.wire import LocalRejection, WireEvent, build_event


@dataclass
class DrainReport:
    """What one drain did for one destination (Dagster materialization metadata)."""

    sent: int = 0
    accepted: int = 0
    rejected_by_reason: Counter[str] = field(default_factory=Counter)
    retry_later: int = 0
    batches: int = 0
    match_keys: Counter[str] = field(default_factory=Counter)
    batch_size: int = 0
    """The size the next batch would have (the optimizer's current size)."""
    batch_sizes: list[int] = field(default_factory=list)
    """The size each batch of this drain was cut at."""
    contacts_normalised: int = 0
    contacts_reused: int = 0

    @property
    def rejected(self) -> int:
        return sum(self.rejected_by_reason.values())

    def as_metadata(self) -> dict[str, object]:
        return {
            "sent": self.sent,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "rejected_by_reason": dict(self.rejected_by_reason),
            "retry_later": self.retry_later,
            "batches": self.batches,
            "match_keys_carried": dict(self.match_keys),
            "batch_size": self.batch_size,
            "batch_size_min": min(self.batch_sizes, default=self.batch_size),
            "batch_size_max": max(self.batch_sizes, default=self.batch_size),
            "contacts_normalised": self.contacts_normalised,
            "contacts_reused": self.contacts_reused,
        }


def drain_destination(
    engine: sa.Engine,
    workspace_id: str,
    settings: CapiSettings,
    destination: CapiDestination,
    sender: CapiSender,
    *,
    now: Callable[[], datetime],
    batch_size: int | None = None,
    max_batches: int | None = None,
    lease: timedelta = CLAIM_LEASE,
    optimizer: BatchOptimizer | None = None,
    cache: MatchKeyCache | None = None,
) -> DrainReport:
    """Send every due outbox row of `destination` in batches until none is left (or
    `max_batches`); returns the counts. `now` is read per batch (claims, logs, back-off).

    A fixed `batch_size` (capped at the platform's maximum) turns the optimizer off; otherwise
    `optimizer` (default: one seeded from the delivery log) sizes every batch.
    """
    report = DrainReport()
    if batch_size is not None:
        optimizer = None
    elif optimizer is None:
        optimizer = BatchOptimizer.from_history(
            sender.max_batch, recent_batches(engine, workspace_id, destination.id, now=now())
        )
    fixed = min(batch_size or sender.max_batch, sender.max_batch)
    cache = cache if cache is not None else MatchKeyCache()
    hits, misses = cache.hits, cache.misses
    while max_batches is None or report.batches < max_batches:
        size = min(optimizer.size, sender.max_batch) if optimizer is not None else fixed
        started = now()
        rows = claim(engine, workspace_id, destination.id, limit=size, now=started, lease=lease)
        if not rows:
            break
        report.batches += 1
        report.batch_sizes.append(size)
        outcomes, logs, result = _forward_batch(
            rows, workspace_id, settings, destination, sender, started, cache
        )
        finished = now()
        for log in logs:
            log["timestamp"] = finished
        with engine.begin() as connection:
            finish(connection, outcomes, now=finished)
            if logs:
                connection.execute(capi_delivery_log.insert(), logs)
        _count(report, outcomes)
        if optimizer is not None and result is not None:
            # The batch as cut (events refused locally count as answered: they are final, and
            # a batch short of them is still a full one).
            optimizer.record_batch_performance(
                len(rows),
                any(r.status is not None for r in result.results),
                result.latency_ms,
                sum(o.status is not None for o in outcomes),
            )
    report.batch_size = min(optimizer.size, sender.max_batch) if optimizer is not None else fixed
    report.contacts_normalised = cache.misses - misses
    report.contacts_reused = cache.hits - hits
    return report


def recent_batches(
    engine: sa.Engine, workspace_id: str, destination_id: str, *, now: datetime
) -> list[BatchPerformance]:
    """The destination's last batches of the hour before `now`, oldest first, as the delivery
    log recorded them (one row per event; the rows of a batch share its time and latency)."""
    log = capi_delivery_log
    answered = sa.func.sum(sa.case((log.c.outcome == "retry", 0), else_=1))
    query = (
        sa.select(
            log.c.timestamp,
            sa.func.count().label("size"),
            answered.label("answered"),
            sa.func.max(log.c.latency_ms).label("latency_ms"),
        )
        .where(
            log.c.workspace_id == workspace_id,
            log.c.destination_id == destination_id,
            log.c.timestamp > now - timedelta(hours=1),
            log.c.timestamp <= now,
        )
        .group_by(log.c.timestamp, log.c.latency_ms)
        .order_by(log.c.timestamp.desc(), sa.func.min(log.c.id).desc())
        .limit(HISTORY)
    )
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return [
        BatchPerformance(int(r.size), int(r.answered) > 0, float(r.latency_ms), int(r.answered))
        for r in reversed(rows)
    ]


def _forward_batch(
    rows: list[ClaimedRow],
    workspace_id: str,
    settings: CapiSettings,
    destination: CapiDestination,
    sender: CapiSender,
    now: datetime,
    cache: MatchKeyCache,
) -> tuple[list[Outcome], list[dict[str, object]], BatchResult | None]:
    outcomes: list[Outcome] = []
    to_send: list[tuple[ClaimedRow, WireEvent]] = []
    for row in rows:
        try:
            wire = build_event(
                row.conversion,
                destination,
                row.event_name,
                default_region=settings.default_region,
                now=now,
                cache=cache,
            )
        except LocalRejection as rejection:
            outcomes.append(Outcome(row.id, OutboxStatus.REJECTED, rejection.reason))
            continue
        to_send.append((row, wire))
    logs: list[dict[str, object]] = []
    result = None
    if to_send:
        result = sender.send([wire for _, wire in to_send])
        for (row, wire), answer in zip(to_send, result.results, strict=True):
            outcomes.append(Outcome(row.id, answer.status, answer.reason, wire.match_keys))
            logs.append(
                _log_row(workspace_id, destination, row, answer.status, answer.reason, result)
            )
    return outcomes, logs, result


def _log_row(
    workspace_id: str,
    destination: CapiDestination,
    row: ClaimedRow,
    status: OutboxStatus | None,
    reason: str | None,
    result: BatchResult,
) -> dict[str, object]:
    """Seed 002's EventDeliveryLog for one event of one attempt (no personal data)."""
    return {
        "workspace_id": workspace_id,
        "destination_id": destination.id,
        "platform": destination.platform.value,
        "event_id": row.conversion.event_id,
        "event_name": row.event_name,
        "success": status is OutboxStatus.ACCEPTED,
        "outcome": status.value if status is not None else "retry",
        "latency_ms": result.latency_ms,
        "error_message": None if status is OutboxStatus.ACCEPTED else reason,
        "request_id": result.request_id,
        "retry_count": row.attempts - 1 + result.retries,
    }


def _count(report: DrainReport, outcomes: list[Outcome]) -> None:
    for outcome in outcomes:
        if outcome.status is OutboxStatus.ACCEPTED:
            report.accepted += 1
            report.sent += 1
        elif outcome.status is OutboxStatus.REJECTED:
            report.rejected_by_reason[outcome.reason or "unknown"] += 1
            report.sent += bool(outcome.match_keys)
        else:
            report.retry_later += 1
            report.sent += 1
        report.match_keys.update(outcome.match_keys)
