"""Later changes to Stripe charges, refunds and invoices, read from `GET /v1/events`.

The dated tables are re-pulled by `created` window for `RESTATEMENT_DAYS` only, so a charge
refunded 45 days after it was created or an invoice voided or paid late would reach the lake
only through webhooks. This catch-up lists the update events of
those objects (`UPDATE_EVENT_TYPES`, `types[]` filter, `created[gte]`, newest first, paged with
`starting_after`; reference/connectors.md §1.8) and applies them through the verified webhooks'
own merge (`stripe_webhooks.apply_listed_events`): the event's `data.object` normalised like an
API record, the row keeping the event's `created`, only a strictly newer event replacing it.

Cursor: per workspace and account, the newest `created` applied (`EventCursors`, a JSON file in
the data directory). A run reads from `CURSOR_OVERLAP_SECONDS` before it (events created in the
same second as the last one, or listed a little late) and never from before
`EVENT_RESTATEMENT_DAYS` ago — a window Stripe still keeps whole. Replaying the overlap changes
nothing. A workspace whose runs stop for longer than that loses the events in between, as Stripe
no longer has them; the dated re-pull still corrects what was created in its last 30 days.

Customer events are not read: `customers` (like `subscriptions`) is a snapshot the API sync
replaces on every run, so it already holds each customer's latest state and drops deleted ones;
an event applied over it could only be older (a `customer.updated` from before a
`customer.discount.deleted`, which carries a discount, not the customer, would bring the coupon
back). A `customer.deleted` that does reach the merge (a webhook) marks the row `is_deleted`
until the next snapshot drops it (`stripe_webhooks.py`). `customer.subscription.*` are the `subscription_events`
stream's (`stripe.py`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ownlay_pipelines.connectors.stripe import EVENT_RESTATEMENT_DAYS, StripeClient
from ownlay_pipelines.connectors.stripe_webhooks import StripeApplyResult, apply_listed_events
from ownlay_pipelines.registry.workspaces import Connection, Workspace

UPDATE_EVENT_TYPES = (
    "charge.captured",
    "charge.expired",
    "charge.failed",
    "charge.pending",
    "charge.refunded",
    "charge.succeeded",
    "charge.updated",
    "charge.refund.updated",
    "refund.created",
    "refund.updated",
    "invoice.deleted",
    "invoice.finalized",
    "invoice.marked_uncollectible",
    "invoice.paid",
    "invoice.payment_failed",
    "invoice.payment_succeeded",
    "invoice.updated",
    "invoice.voided",
)
"""Stripe event types whose `data.object` is a charge, refund or invoice as it was right after
the change (`charge.refund.updated` carries the refund, not the charge). Every type that changes
a stored column is listed, not only refunds: a row the API sync wrote yields to any event, so
leaving out, say, `charge.succeeded` would let an older `charge.updated` of a pending charge
overwrite the succeeded state the sync had stored. `invoice.deleted` (a draft deleted) marks its
row `is_deleted`. Stripe takes at most 20 `types[]`."""
CURSOR_OVERLAP_SECONDS = 3600
CURSOR_FILE = "stripe_event_cursors.json"


def update_events(client: StripeClient, since: int) -> Iterator[Mapping[str, Any]]:
    """The account's update events created at or after `since` (Unix seconds), newest first."""
    params = {"created[gte]": since, "types[]": list(UPDATE_EVENT_TYPES)}
    yield from client.listing("events", params)


def window_start(cursor: int | None, now: datetime) -> int:
    """`created[gte]` of the next run: the cursor less the overlap, never before the oldest
    instant Stripe is sure to keep (`EVENT_RESTATEMENT_DAYS` before `now`)."""
    oldest = int((now - timedelta(days=EVENT_RESTATEMENT_DAYS)).timestamp())
    return oldest if cursor is None else max(oldest, cursor - CURSOR_OVERLAP_SECONDS)


@dataclass
class EventsSyncResult:
    """One account's catch-up: events listed, what applying them did, the new cursor."""

    events: int
    applied: StripeApplyResult
    cursor: int | None


def sync_update_events(
    client: StripeClient,
    *,
    workspace: Workspace,
    connection: Connection,
    lake_root: Path,
    cursor: int | None,
    now: datetime,
) -> EventsSyncResult:
    """List the update events since the cursor's window and merge them into the lake; the
    cursor becomes the newest event's `created` (unchanged when there was none)."""
    events = list(update_events(client, window_start(cursor, now)))
    applied = apply_listed_events(
        events, workspace=workspace, connection=connection, lake_root=lake_root
    )
    newest = max(
        (int(e["created"]) for e in events if isinstance(e.get("created"), int)), default=None
    )
    return EventsSyncResult(
        events=len(events),
        applied=applied,
        cursor=cursor if newest is None else max(newest, cursor or 0),
    )


class EventCursors:
    """The newest applied event `created` per workspace and account, kept in `path` (JSON
    `{"<workspace>/<account>": seconds}`), replaced atomically on each save."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            loaded = json.loads(path.read_text()) if path.exists() else {}
        except ValueError as error:
            raise ValueError(f"{path}: not a JSON cursor file ({error})") from error
        self._cursors: dict[str, int] = {str(k): int(v) for k, v in loaded.items()}

    def get(self, workspace_id: str, account_id: str) -> int | None:
        return self._cursors.get(f"{workspace_id}/{account_id}")

    def set(self, workspace_id: str, account_id: str, created: int | None) -> None:
        if created is not None:
            self._cursors[f"{workspace_id}/{account_id}"] = created

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self._cursors, sort_keys=True))
        os.replace(temporary, self.path)
