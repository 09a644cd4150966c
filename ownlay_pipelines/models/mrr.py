"""`marts/mrr_daily`: MRR and its movements per workspace, currency and day, from Stripe.

Subscription history is rebuilt from the `raw/stripe/subscriptions` snapshot and the
`raw/stripe/subscription_events` rows (`customer.subscription.*` events, kept by Stripe for 30
days): each event gives the subscription's state from its day on. Before a subscription's first
retained event, its state is the one the event's `previous_attributes` describe (Stripe sends
the old values of changed fields), else the event's own; a subscription without retained events
is trialing until its `trial_end`, then in its snapshot state — or active until it ended, then
canceled (`_snapshot_history`). A state without a subscription-level discount takes its
customer's own coupon from the `raw/stripe/customers` snapshot, as Stripe bills it. Days are the
workspace's. Movement definitions: `billing/mrr.py`.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa

from ownlay_pipelines.billing.mrr import Discount, MrrDay, SubscriptionState, mrr_days
from ownlay_pipelines.connectors.stripe_rows import (
    customer_discount_from_row,
    state_from_row,
    trial_end_of,
)
from ownlay_pipelines.lake.tables import TableRef
from ownlay_pipelines.schema.campaign_metrics import MONEY

MRR_DAILY = TableRef.of("marts", "mrr_daily")
STRIPE_SUBSCRIPTIONS = TableRef.of("raw", "stripe", "subscriptions")
STRIPE_SUBSCRIPTION_EVENTS = TableRef.of("raw", "stripe", "subscription_events")
STRIPE_CUSTOMERS = TableRef.of("raw", "stripe", "customers")
CREATED = "customer.subscription.created"

MRR_SCHEMA = pa.schema(
    [
        pa.field("workspace_id", pa.string(), nullable=False),
        pa.field("report_date", pa.date32(), nullable=False),
        pa.field("currency", pa.string(), nullable=False),
        *(
            pa.field(name, MONEY, nullable=False)
            for name in (
                "mrr",
                "new_mrr",
                "expansion_mrr",
                "contraction_mrr",
                "churned_mrr",
                "reactivation_mrr",
            )
        ),
        pa.field("paying_customers", pa.int64(), nullable=False),
    ]
)


def _day(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()


def subscription_states(
    subscriptions: Sequence[Mapping[str, Any]],
    events: Sequence[Mapping[str, Any]],
    *,
    zone: ZoneInfo,
    customers: Sequence[Mapping[str, Any]] = (),
) -> list[SubscriptionState]:
    """Every subscription's states over time, from snapshot rows and event rows (see module
    doc), each state without a discount of its own taking its customer's (`customers` rows; a
    row a `customer.deleted` event marked `is_deleted` has no coupon to give)."""
    states = _states(subscriptions, events, zone)
    by_customer = {
        row["customer_id"]: found
        for row in customers
        if not row.get("is_deleted") and (found := customer_discount_from_row(row)) is not None
    }
    return [_with_customer_discount(state, by_customer) for state in states]


def _with_customer_discount(
    state: SubscriptionState, by_customer: Mapping[str, tuple[Discount, str | None]]
) -> SubscriptionState:
    """`state` with its customer's discount when it has none of its own: Stripe applies a
    customer's coupon to each subscription whose own discounts are empty."""
    found = by_customer.get(state.customer_id)
    if state.discounts or found is None:
        return state
    discount, currency = found
    if discount.amount_off is not None and currency != state.currency:
        raise ValueError(
            f"customer {state.customer_id}: its coupon takes {currency} off, but subscription "
            f"{state.subscription_id} bills in {state.currency}"
        )
    return replace(state, discounts=(discount,))


def _states(
    subscriptions: Sequence[Mapping[str, Any]],
    events: Sequence[Mapping[str, Any]],
    zone: ZoneInfo,
) -> list[SubscriptionState]:
    """Each subscription's own states over time (see module doc)."""
    by_subscription: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for event in events:
        by_subscription[event["subscription_id"]].append(event)
    states: list[SubscriptionState] = []
    for row in subscriptions:
        start = _day(row["start_date"], zone)
        history = sorted(
            by_subscription.get(row["subscription_id"], []), key=lambda e: e["created_at"]
        )
        if not history:
            states.extend(_snapshot_history(row, start, zone))
            continue
        first = history[0]
        if first["type"] != CREATED:
            before = (
                {**first, "state_json": first["previous_state_json"]}
                if first.get("previous_state_json")
                else first
            )
            states.append(replace(state_from_row(before, start), status=_status_before(first)))
        for event in history:
            states.append(state_from_row(event, _day(event["created_at"], zone)))
    return states


def _snapshot_history(
    row: Mapping[str, Any], start: date, zone: ZoneInfo
) -> list[SubscriptionState]:
    """A subscription without retained events: trialing from its start until its trial ended,
    then as the snapshot says — or, when it has ended since, active until the day it ended and
    canceled from then (a subscription that ended during its trial never counts)."""
    current = state_from_row(row, start)
    states: list[SubscriptionState] = []
    paying_from = start
    trial_end = trial_end_of(row)
    if trial_end is not None and trial_end > start:
        states.append(replace(current, status="trialing"))
        paying_from = trial_end
    if not row["ended_at"]:
        return [*states, replace(current, valid_from=paying_from)]
    ended = _day(row["ended_at"], zone)
    if paying_from < ended:
        states.append(replace(current, status="active", valid_from=paying_from))
    return [*states, replace(current, valid_from=ended)]


def _status_before(event: Mapping[str, Any]) -> str:
    """The status before a subscription's first retained event: the one its
    `previous_attributes` give (a trial converting: `trialing`); else active before a deletion,
    and the event's own status otherwise."""
    if event.get("previous_state_json"):
        status = json.loads(event["previous_state_json"]).get("status")
        if status:
            return str(status)
    return "active" if event["type"] == "customer.subscription.deleted" else event["status"]


def mrr_table(workspace_id: str, rows: Sequence[MrrDay]) -> pa.Table:
    """The mart rows of one workspace, ordered by day and currency."""
    return pa.Table.from_pylist(
        [
            {
                "workspace_id": workspace_id,
                "report_date": r.day,
                "currency": r.currency,
                "mrr": r.mrr,
                "new_mrr": r.new,
                "expansion_mrr": r.expansion,
                "contraction_mrr": r.contraction,
                "churned_mrr": r.churned,
                "reactivation_mrr": r.reactivation,
                "paying_customers": r.paying_customers,
            }
            for r in sorted(rows, key=lambda r: (r.day, r.currency))
        ],
        schema=MRR_SCHEMA,
    )


def compute_mrr_daily(
    lake_root: Path, workspace_id: str, zone: ZoneInfo, days: Sequence[date]
) -> pa.Table:
    """The workspace's MRR rows for `days` from its Stripe tables in the lake."""
    import duckdb

    from ownlay_pipelines.lake.tables import DATA_FILE, partition_dir, table_dir
    from ownlay_pipelines.registry.tenant import TENANT_COLUMN

    snapshot = partition_dir(lake_root, STRIPE_SUBSCRIPTIONS, workspace_id, None) / DATA_FILE
    if not snapshot.exists():
        return MRR_SCHEMA.empty_table()
    subscriptions = duckdb.read_parquet(str(snapshot)).to_arrow_table().to_pylist()
    event_files = sorted(
        (table_dir(lake_root, STRIPE_SUBSCRIPTION_EVENTS) / f"{TENANT_COLUMN}={workspace_id}").glob(
            f"*/{DATA_FILE}"
        )
    )
    events: list[dict[str, Any]] = []
    if event_files:
        events = duckdb.read_parquet([str(f) for f in event_files]).to_arrow_table().to_pylist()
    customers_file = partition_dir(lake_root, STRIPE_CUSTOMERS, workspace_id, None) / DATA_FILE
    customers: list[dict[str, Any]] = []
    if customers_file.exists():
        customers = duckdb.read_parquet(str(customers_file)).to_arrow_table().to_pylist()
    states = subscription_states(subscriptions, events, zone=zone, customers=customers)
    return mrr_table(workspace_id, mrr_days(states, days))
