"""The forwarding outbox: durable state per (workspace, destination, event), exactly once.

States: `pending` (waiting, or failed and waiting to be retried) → `sent` (claimed: in flight
under a lease) → `accepted` | `rejected` (with a reason) | `expired` (undeliverable before the
workspace's retention, default 7 days). The raw payload is wiped as soon as a row is accepted,
and at the end of the retention for every row (a rejected row keeps it until then, so a backfill
after a fix can re-forward it). An `accepted` row is final: enqueueing the same event again (a rerun, a
backfill, a replayed ingest) never touches it, and a claim only takes `pending` rows and `sent`
rows whose lease ran out (their run was killed). The one window left — killed after the platform
answered but before the answer was committed — re-sends the same `event_id` (Google: `orderId`),
which each platform deduplicates within 48 h.

The shape is the watchtower's notification outbox (watchtower/outbox.py): state per item,
claim under a lease, back-off on failure; here the claim is one UPDATE per status per batch.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ownlay_pipelines.capi.conversions import Conversion, platform_event_name
from ownlay_pipelines.capi.destinations import CapiDestination, CapiSettings
from ownlay_pipelines.capi.tables import capi_order_keys, capi_outbox

CLAIM_LEASE = timedelta(minutes=5)
"""A claimed batch is invisible to other drains this long (far longer than one send)."""
FIRST_RETRY = timedelta(seconds=30)
MAX_RETRY = timedelta(hours=1)
_IDS_PER_STATEMENT = 500
"""Ids per `IN (…)` list (SQLite's default limit on bound parameters is 999)."""


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    EXPIRED = "expired"


FINAL = (OutboxStatus.ACCEPTED, OutboxStatus.REJECTED, OutboxStatus.EXPIRED)


@dataclass
class EnqueueReport:
    """What enqueueing did: rows queued, re-opened (backfill), and conversions left out."""

    queued: int = 0
    reopened: int = 0
    already_queued: int = 0
    no_consent: int = 0
    not_forwarded: int = 0
    same_order: int = 0
    """Purchases left out because another event already forwards their order (capi_order_keys)."""


@dataclass(frozen=True)
class ClaimedRow:
    """One claimed outbox row: its id, attempt number and the raw conversion."""

    id: int
    event_name: str
    attempts: int
    conversion: Conversion


@dataclass(frozen=True)
class Outcome:
    """What became of one claimed row: accepted, rejected (reason) or retry (reason)."""

    row_id: int
    status: OutboxStatus | None
    """ACCEPTED or REJECTED; None means retry later."""
    reason: str | None = None
    match_keys: tuple[str, ...] = field(default=())


def enqueue(
    engine: sa.Engine,
    workspace_id: str,
    settings: CapiSettings,
    conversions: Iterable[Conversion],
    *,
    now: datetime,
    reopen: bool = False,
) -> EnqueueReport:
    """Queue each consented conversion once per destination whose platform receives its type.

    A purchase naming an order is queued for a destination only by the first event that claimed
    that order there (`capi_order_keys`): the same order arriving as a first-party purchase and
    as a store order is one conversion. With `reopen` (a backfill), rows that were rejected or
    expired are queued again with the fresh payload; accepted, pending and in-flight rows are
    never touched.
    """
    report = EnqueueReport()
    expires_at = now + timedelta(days=settings.retention_days)
    rows: list[dict[str, object]] = []
    for conversion in conversions:
        if not conversion.marketing_consent:
            report.no_consent += 1
            continue
        payload = conversion.to_json()
        for destination in settings.destinations:
            name = platform_event_name(
                conversion.event_type, destination.platform, settings.event_overrides
            )
            if name is None:
                report.not_forwarded += 1
                continue
            rows.append(_new_row(workspace_id, destination, conversion, name, payload, now))
    if not rows:
        return report
    for row in rows:
        row["expires_at"] = expires_at
    with engine.begin() as connection:
        kept = _claim_orders(connection, workspace_id, rows, now)
        report.same_order = len(rows) - len(kept)
        rows = kept
        existing = _existing_states(connection, workspace_id, rows)
        fresh: dict[tuple[object, object], dict[str, object]] = {}
        for row in rows:
            key = (row["destination_id"], row["event_id"])
            if key in existing:
                continue
            if key in fresh:  # the same event twice in one call (an order's create and paid)
                report.already_queued += 1
                continue
            fresh[key] = row
        if fresh:
            connection.execute(capi_outbox.insert(), list(fresh.values()))
        report.queued = len(fresh)
        for row in rows:
            state = existing.get((row["destination_id"], row["event_id"]))
            if state is None:
                continue
            if reopen and state in (OutboxStatus.REJECTED, OutboxStatus.EXPIRED):
                _reopen(connection, workspace_id, row)
                report.reopened += 1
            else:
                report.already_queued += 1
    return report


def claim(
    engine: sa.Engine,
    workspace_id: str,
    destination_id: str,
    *,
    limit: int,
    now: datetime,
    lease: timedelta = CLAIM_LEASE,
) -> list[ClaimedRow]:
    """Take up to `limit` due rows — pending ones oldest first, then sent ones whose lease
    lapsed — in one transaction; they stay invisible to other claims for `lease`.

    One UPDATE per status, each reading `ix_capi_outbox_claim` in id order and stopping after
    `limit` due rows (stepping over rows that wait out a back-off), so a claim does not sort the
    destination's whole backlog as it did when both statuses were read in one `ORDER BY id`.
    """
    o = capi_outbox
    token = str(uuid.uuid4())
    claimed = 0
    with engine.begin() as connection:
        for status in (OutboxStatus.PENDING, OutboxStatus.SENT):
            if claimed >= limit:
                break
            due = (
                sa.select(o.c.id)
                .where(
                    o.c.workspace_id == workspace_id,
                    o.c.destination_id == destination_id,
                    o.c.status == status.value,
                    sa.or_(o.c.next_attempt_at.is_(None), o.c.next_attempt_at <= now),
                    o.c.expires_at > now,
                )
                .order_by(o.c.id)
                .limit(limit - claimed)
            )
            claimed += connection.execute(
                o.update()
                .where(o.c.id.in_(due.scalar_subquery()))
                .values(
                    status=OutboxStatus.SENT.value,
                    claim_token=token,
                    next_attempt_at=now + lease,
                    attempts=o.c.attempts + 1,
                    sent_at=now,
                )
            ).rowcount
        if not claimed:
            return []
        rows = connection.execute(
            sa.select(o.c.id, o.c.event_name, o.c.attempts, o.c.payload)
            .where(
                # The destination's in-flight rows (an index range), then this claim's among them.
                o.c.workspace_id == workspace_id,
                o.c.destination_id == destination_id,
                o.c.status == OutboxStatus.SENT.value,
                o.c.claim_token == token,
            )
            .order_by(o.c.id)
        ).all()
    return [
        ClaimedRow(row.id, row.event_name, row.attempts, Conversion.from_json(row.payload))
        for row in rows
    ]


def finish(connection: sa.Connection, outcomes: Sequence[Outcome], *, now: datetime) -> None:
    """Record each outcome: accepted wipes the payload, retries wait with back-off.

    Final outcomes are written one UPDATE … WHERE id IN (…) per (status, reason, match keys) —
    a handful per batch, since most events of a batch carry the same keys."""
    o = capi_outbox
    groups: dict[tuple[OutboxStatus, str | None, str], list[int]] = {}
    for x in outcomes:
        if x.status is not None:
            groups.setdefault((x.status, x.reason, ",".join(x.match_keys)), []).append(x.row_id)
    for (status, reason, keys), row_ids in groups.items():
        # An accepted event's raw data has served its purpose; a rejected one's waits (until
        # it expires) so a fix can re-forward it (`reopen_range`).
        wipe = {"payload": None} if status is OutboxStatus.ACCEPTED else {}
        for start in range(0, len(row_ids), _IDS_PER_STATEMENT):
            connection.execute(
                o.update()
                .where(o.c.id.in_(row_ids[start : start + _IDS_PER_STATEMENT]))
                .values(
                    status=status.value,
                    reason=reason,
                    match_keys=keys,
                    claim_token=None,
                    next_attempt_at=None,
                    finished_at=now,
                    **wipe,
                )
            )
    retries = [x for x in outcomes if x.status is None]
    if retries:
        attempts = dict(
            connection.execute(
                sa.select(o.c.id, o.c.attempts).where(o.c.id.in_([x.row_id for x in retries]))
            ).all()
        )
        connection.execute(
            o.update()
            .where(o.c.id == sa.bindparam("row_id"))
            .values(
                status=OutboxStatus.PENDING.value,
                reason=sa.bindparam("new_reason"),
                claim_token=None,
                next_attempt_at=sa.bindparam("due"),
            ),
            [
                {
                    "row_id": x.row_id,
                    "new_reason": x.reason,
                    "due": now + retry_delay(attempts.get(x.row_id, 1)),
                }
                for x in retries
            ],
        )


def retry_delay(attempts: int) -> timedelta:
    """Back-off after `attempts` failed sends: 30 s, 1 min, 2 min, … capped at 1 h."""
    return min(MAX_RETRY, FIRST_RETRY * 2 ** max(attempts - 1, 0))


def expire(engine: sa.Engine, *, now: datetime) -> int:
    """Rows past their retention lose their raw payload; undelivered ones become `expired`.
    Returns how many rows expired."""
    o = capi_outbox
    with engine.begin() as connection:
        expired = connection.execute(
            o.update()
            .where(
                o.c.status.in_([OutboxStatus.PENDING.value, OutboxStatus.SENT.value]),
                o.c.expires_at <= now,
            )
            .values(
                status=OutboxStatus.EXPIRED.value,
                reason="retention",
                payload=None,
                claim_token=None,
                next_attempt_at=None,
                finished_at=now,
            )
        ).rowcount
        connection.execute(
            o.update().where(o.c.payload.is_not(None), o.c.expires_at <= now).values(payload=None)
        )
    return expired


def reopen_range(
    engine: sa.Engine, workspace_id: str, *, start: datetime, end: datetime, now: datetime
) -> int:
    """Backfill: rejected rows with `start <= event_time < end` whose raw data is still held go
    back to pending. Accepted rows are never touched. Returns how many were reopened."""
    o = capi_outbox
    with engine.begin() as connection:
        return connection.execute(
            o.update()
            .where(
                o.c.workspace_id == workspace_id,
                o.c.status == OutboxStatus.REJECTED.value,
                o.c.payload.is_not(None),
                o.c.expires_at > now,
                o.c.event_time >= start,
                o.c.event_time < end,
            )
            .values(
                status=OutboxStatus.PENDING.value,
                reason=None,
                next_attempt_at=None,
                finished_at=None,
            )
        ).rowcount


def backlog(engine: sa.Engine, workspace_id: str, *, now: datetime) -> dict[str, int]:
    """Rows still to deliver (pending or in flight, not expired) per destination id."""
    o = capi_outbox
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(o.c.destination_id, sa.func.count())
            .where(
                o.c.workspace_id == workspace_id,
                o.c.status.in_([OutboxStatus.PENDING.value, OutboxStatus.SENT.value]),
                o.c.expires_at > now,
            )
            .group_by(o.c.destination_id)
        ).all()
    return {destination_id: count for destination_id, count in rows}


def status_counts(engine: sa.Engine, workspace_id: str, destination_id: str) -> dict[str, int]:
    """Rows per status for one destination."""
    o = capi_outbox
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(o.c.status, sa.func.count())
            .where(o.c.workspace_id == workspace_id, o.c.destination_id == destination_id)
            .group_by(o.c.status)
        ).all()
    return {status: count for status, count in rows}


def _new_row(
    workspace_id: str,
    destination: CapiDestination,
    conversion: Conversion,
    event_name: str,
    payload: str,
    now: datetime,
) -> dict[str, object]:
    return {
        "workspace_id": workspace_id,
        "destination_id": destination.id,
        "platform": destination.platform.value,
        "event_id": conversion.event_id,
        "event_type": conversion.event_type,
        "event_name": event_name,
        "event_time": conversion.event_time,
        "status": OutboxStatus.PENDING.value,
        "attempts": 0,
        "payload": payload,
        "created_at": now,
        "order_id": conversion.order_id if conversion.event_type == "purchase" else None,
    }


def claim_orders(
    engine: sa.Engine,
    workspace_id: str,
    settings: CapiSettings,
    owners: Mapping[str, str],
    *,
    now: datetime,
) -> dict[str, str]:
    """Give each order of `owners` (order id → event id) to that event at every destination,
    unless an event already owns it there; returns the orders another event owns (at some
    destination) with that event (empty when every claim took or was already held).

    This is how a purchase known under two ids is one conversion: a Stripe invoice that an
    InvoicePayment links to a PaymentIntent claims the PaymentIntent's order, so the charge (and
    a first-party purchase naming the PaymentIntent) is left out (capi/stripe_links.py).
    """
    if not owners or not settings.destinations:
        return {}
    claims = {
        (destination.id, order_id): event_id
        for destination in settings.destinations
        for order_id, event_id in owners.items()
    }
    with engine.begin() as connection:
        held = _insert_claims(connection, workspace_id, claims, now)
    taken: dict[str, str] = {}
    for (destination_id, order_id), event_id in claims.items():
        owner = held.get((destination_id, order_id))
        if owner is not None and owner != event_id:
            taken.setdefault(order_id, owner)
    return taken


def _claim_orders(
    connection: sa.Connection, workspace_id: str, rows: list[dict[str, object]], now: datetime
) -> list[dict[str, object]]:
    """`rows` without the purchases whose (destination, order) another event claimed first.

    Each row's `order_id` (set for purchases naming one) is popped and claimed
    (`_insert_claims`), so exactly one event owns each order per destination.
    """
    orders = [row.pop("order_id", None) for row in rows]
    claims: dict[tuple[str, str], str] = {}
    for row, order in zip(rows, orders, strict=True):
        if order:
            claims.setdefault((str(row["destination_id"]), str(order)), str(row["event_id"]))
    if not claims:
        return rows
    owners = _insert_claims(connection, workspace_id, claims, now)
    return [
        row
        for row, order in zip(rows, orders, strict=True)
        if not order or owners.get((str(row["destination_id"]), str(order))) == row["event_id"]
    ]


def _insert_claims(
    connection: sa.Connection,
    workspace_id: str,
    claims: Mapping[tuple[str, str], str],
    now: datetime,
) -> dict[tuple[str, str], str]:
    """Insert each (destination, order) → event claim, skipping existing ones (a concurrent
    claimer waits on PostgreSQL, then is skipped), and read back who owns each order."""
    k = capi_order_keys
    insert = {"postgresql": pg_insert, "sqlite": sqlite_insert}[connection.dialect.name]
    connection.execute(
        insert(k).on_conflict_do_nothing(),
        [
            {
                "workspace_id": workspace_id,
                "destination_id": destination_id,
                "order_id": order_id,
                "event_id": event_id,
                "created_at": now,
            }
            for (destination_id, order_id), event_id in claims.items()
        ],
    )
    order_ids = sorted({order_id for _, order_id in claims})
    destinations = sorted({destination_id for destination_id, _ in claims})
    owners: dict[tuple[str, str], str] = {}
    for start in range(0, len(order_ids), 500):
        for destination_id, order_id, event_id in connection.execute(
            sa.select(k.c.destination_id, k.c.order_id, k.c.event_id).where(
                k.c.workspace_id == workspace_id,
                k.c.destination_id.in_(destinations),
                k.c.order_id.in_(order_ids[start : start + 500]),
            )
        ):
            owners[(destination_id, order_id)] = event_id
    return owners


def _existing_states(
    connection: sa.Connection, workspace_id: str, rows: list[dict[str, object]]
) -> dict[tuple[object, object], OutboxStatus]:
    o = capi_outbox
    found: dict[tuple[object, object], OutboxStatus] = {}
    event_ids = sorted({str(r["event_id"]) for r in rows})
    # Naming the destinations lets the lookup use the (workspace, destination, event) unique
    # index instead of scanning every row of the workspace.
    destinations = sorted({str(r["destination_id"]) for r in rows})
    for start in range(0, len(event_ids), 500):
        chunk = event_ids[start : start + 500]
        for destination_id, event_id, status in connection.execute(
            sa.select(o.c.destination_id, o.c.event_id, o.c.status).where(
                o.c.workspace_id == workspace_id,
                o.c.destination_id.in_(destinations),
                o.c.event_id.in_(chunk),
            )
        ):
            found[(destination_id, event_id)] = OutboxStatus(status)
    return found


def _reopen(connection: sa.Connection, workspace_id: str, row: dict[str, object]) -> None:
    o = capi_outbox
    connection.execute(
        o.update()
        .where(
            o.c.workspace_id == workspace_id,
            o.c.destination_id == row["destination_id"],
            o.c.event_id == row["event_id"],
            o.c.status.in_([OutboxStatus.REJECTED.value, OutboxStatus.EXPIRED.value]),
        )
        .values(
            status=OutboxStatus.PENDING.value,
            reason=None,
            payload=row["payload"],
            expires_at=row["expires_at"],
            next_attempt_at=None,
            finished_at=None,
        )
    )
