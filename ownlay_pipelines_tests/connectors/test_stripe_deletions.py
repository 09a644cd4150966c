"""Stripe `*.deleted` events mark the row deleted (`is_deleted`, Airbyte's convention) instead of
bringing the object back as live; the newest event still wins, a deletion wins a tie, replays
change nothing, and the next snapshot (which no longer lists the object) drops the row."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from ownlay_pipelines.connectors import stripe, stripe_events
from ownlay_pipelines.connectors.streams import FetchRequest
from ownlay_pipelines.connectors.stripe_webhooks import apply_listed_events, apply_stripe_events
from ownlay_pipelines.lake.writer import read_partition, write_partition
from ownlay_pipelines.registry.workspaces import load_registry
from ownlay_pipelines.settings import DEFAULT_REGISTRY_FILE

REGISTRY = load_registry(DEFAULT_REGISTRY_FILE)
WORKSPACE = REGISTRY.get("acme-outdoor")
CUSTOMERS = next(s for s in stripe.STREAMS if s.table == "customers")
INVOICES = next(s for s in stripe.STREAMS if s.table == "invoices")
CREATED = int(datetime(2026, 11, 1, 17, tzinfo=UTC).timestamp())
UPDATED = CREATED + 3_600
DELETED = CREATED + 7_200


@dataclass(frozen=True)
class Delivery:
    seq: int
    topic: str
    headers: dict
    raw_body: bytes


def _customer(**fields) -> dict:
    return {
        "id": "cus_Gone",
        "object": "customer",
        "created": CREATED,
        "email": None,
        "currency": "usd",
        "delinquent": False,
        "discount": None,
        **fields,
    }


def _event(event_id: str, kind: str, created: int, obj: dict) -> dict:
    return {
        "id": event_id,
        "object": "event",
        "type": kind,
        "created": created,
        "data": {"object": obj},
    }


UPDATE = _event("evt_upd", "customer.updated", UPDATED, _customer(delinquent=True))
DELETE = _event("evt_del", "customer.deleted", DELETED, _customer(delinquent=True))


def _apply(lake: Path, *events: dict, first_seq: int = 1) -> None:
    deliveries = [
        Delivery(first_seq + n, e["type"], {}, json.dumps(e).encode()) for n, e in enumerate(events)
    ]
    result = apply_stripe_events(deliveries, workspace=WORKSPACE, lake_root=lake)
    assert result.refused == []


def _customers(lake: Path) -> list[tuple[str, bool | None, bool, datetime | None]]:
    table = read_partition(lake, CUSTOMERS.ref, workspace_id=WORKSPACE.id, report_date=None)
    return [
        (r["customer_id"], r["is_deleted"], r["delinquent"], r["event_created_at"])
        for r in table.to_pylist()
    ]


def _at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


GONE = [("cus_Gone", True, True, _at(DELETED))]


@pytest.mark.parametrize("order", ["update_then_delete", "delete_then_update", "one_batch"])
def test_a_deleted_customer_stays_deleted_whatever_the_event_order(
    tmp_path: Path, order: str
) -> None:
    if order == "update_then_delete":
        _apply(tmp_path, UPDATE)
        assert _customers(tmp_path) == [("cus_Gone", False, True, _at(UPDATED))]
        _apply(tmp_path, DELETE, first_seq=2)
    elif order == "delete_then_update":
        # The update was delivered late: it is older than the deletion and must not revive it.
        _apply(tmp_path, DELETE)
        _apply(tmp_path, UPDATE, first_seq=2)
    else:
        _apply(tmp_path, DELETE, UPDATE)
    assert _customers(tmp_path) == GONE
    # Stripe redelivers both: nothing changes.
    _apply(tmp_path, UPDATE, DELETE, UPDATE, first_seq=10)
    assert _customers(tmp_path) == GONE


def test_a_deletion_wins_a_tie_with_an_update_of_the_same_second(tmp_path: Path) -> None:
    same_second = {**UPDATE, "created": DELETED}
    _apply(tmp_path, DELETE)
    _apply(tmp_path, same_second, first_seq=2)
    assert _customers(tmp_path) == GONE
    other = tmp_path / "other"
    _apply(other, same_second)
    _apply(other, DELETE, first_seq=2)
    assert _customers(other) == GONE
    batch = tmp_path / "batch"
    _apply(batch, DELETE, same_second)  # the later delivery of one batch does not win it either
    assert _customers(batch) == GONE


def test_the_events_catch_up_merges_a_deletion_over_the_snapshot_alike(tmp_path: Path) -> None:
    # The API snapshot holds the customer (no event yet); a listed deletion marks it deleted, and
    # the older update listed with it (the list is newest first) does not bring it back.
    [connection] = WORKSPACE.connections_for(stripe.Platform.STRIPE)
    row = CUSTOMERS.normalise(_customer(), FetchRequest(WORKSPACE, connection, None))
    assert row["is_deleted"] is False
    snapshot = pa.Table.from_pylist([row], schema=CUSTOMERS.schema)
    write_partition(tmp_path, CUSTOMERS.ref, snapshot, workspace_id=WORKSPACE.id, report_date=None)
    result = apply_listed_events(
        [DELETE, UPDATE], workspace=WORKSPACE, connection=connection, lake_root=tmp_path
    )
    assert result.refused == []
    assert _customers(tmp_path) == GONE
    # The next snapshot no longer lists the customer: the row is gone.
    empty = CUSTOMERS.schema.empty_table()
    write_partition(tmp_path, CUSTOMERS.ref, empty, workspace_id=WORKSPACE.id, report_date=None)
    assert _customers(tmp_path) == []


def test_a_deleted_draft_invoice_is_marked_not_revived(tmp_path: Path) -> None:
    draft = {
        "id": "in_Draft",
        "object": "invoice",
        "created": CREATED,
        "customer": "cus_Gone",
        "currency": "usd",
        "status": "draft",
        "billing_reason": "manual",
        "subtotal": 1000,
        "total": 1000,
        "amount_paid": 0,
        "amount_due": 1000,
    }
    _apply(tmp_path, _event("evt_i1", "invoice.deleted", DELETED, draft))
    _apply(tmp_path, _event("evt_i0", "invoice.updated", UPDATED, draft), first_seq=2)
    table = read_partition(
        tmp_path, INVOICES.ref, workspace_id=WORKSPACE.id, report_date=date(2026, 11, 1)
    )
    assert [(r["invoice_id"], r["is_deleted"]) for r in table.to_pylist()] == [("in_Draft", True)]
    # The events catch-up reads invoice deletions too.
    assert "invoice.deleted" in stripe_events.UPDATE_EVENT_TYPES
