"""The ops-store tables of Conversions-API forwarding: the outbox and the delivery log.

`capi_outbox` holds one row per (workspace, destination, event): its state and, until the event
is delivered or expires, the raw conversion (`payload`) — the only place raw contact and network
data may wait (ARCHITECTURE.md §8). `capi_delivery_log` is seed 002's EventDeliveryLog: one row
per event per attempt, without any personal data. `capi_order_keys` makes a purchase one
conversion per (order, destination) whichever source queued it first (a first-party event or a
store order); `capi_source_cursor` is how far order capture read the webhook deliveries.
"""

from __future__ import annotations

import sqlalchemy as sa

capi_metadata = sa.MetaData()

capi_outbox = sa.Table(
    "capi_outbox",
    capi_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("workspace_id", sa.String(64), nullable=False),
    sa.Column("destination_id", sa.String(64), nullable=False),
    sa.Column("platform", sa.String(16), nullable=False),
    sa.Column("event_id", sa.String(128), nullable=False),
    sa.Column("event_type", sa.String(64), nullable=False),
    sa.Column("event_name", sa.String(128), nullable=False),
    sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(200)),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("payload", sa.Text, comment="Raw conversion; NULL once delivered or expired."),
    sa.Column("match_keys", sa.String(200)),
    sa.Column("claim_token", sa.String(36)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True)),
    sa.Column("sent_at", sa.DateTime(timezone=True)),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.UniqueConstraint("workspace_id", "destination_id", "event_id", name="uq_capi_outbox_event"),
    sa.Index("ix_capi_outbox_due", "workspace_id", "destination_id", "status", "next_attempt_at"),
    sa.Index("ix_capi_outbox_claim", "workspace_id", "destination_id", "status", "id"),
    sa.Index("ix_capi_outbox_event_time", "workspace_id", "event_time"),
)

capi_delivery_log = sa.Table(
    "capi_delivery_log",
    capi_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("workspace_id", sa.String(64), nullable=False),
    sa.Column("destination_id", sa.String(64), nullable=False),
    sa.Column("platform", sa.String(16), nullable=False),
    sa.Column("event_id", sa.String(128), nullable=False),
    sa.Column("event_name", sa.String(128), nullable=False),
    sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
    sa.Column("success", sa.Boolean, nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Column("error_message", sa.String(500)),
    sa.Column("request_id", sa.String(128)),
    sa.Column("retry_count", sa.Integer, nullable=False),
    sa.Index("ix_capi_delivery_log_dest_time", "workspace_id", "destination_id", "timestamp"),
)


capi_order_keys = sa.Table(
    "capi_order_keys",
    capi_metadata,
    sa.Column("workspace_id", sa.String(64), primary_key=True),
    sa.Column("destination_id", sa.String(64), primary_key=True),
    sa.Column("order_id", sa.String(128), primary_key=True),
    sa.Column("event_id", sa.String(128), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    comment="Which event forwards an order's purchase to a destination: the first one queued.",
)

capi_source_cursor = sa.Table(
    "capi_source_cursor",
    capi_metadata,
    sa.Column("workspace_id", sa.String(64), primary_key=True),
    sa.Column("provider", sa.String(16), primary_key=True),
    sa.Column("last_seq", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    comment="The last webhook delivery seq whose orders were captured, per workspace/provider.",
)


def create_capi_schema(engine: sa.Engine) -> None:
    """Create the outbox and delivery-log tables, and any index an older store lacks
    (idempotent)."""
    capi_metadata.create_all(engine)
    for table in capi_metadata.sorted_tables:
        for index in table.indexes:
            index.create(engine, checkfirst=True)
