"""Capturing store orders into the outbox from the verified webhook deliveries.

Where: the ingest service stores every verified Shopify and Stripe delivery byte for byte in the
webhook store (ingest/webhook_store.py) until its raw-body retention ends. This reads the
deliveries of each workspace with destinations after its cursor (`capi_source_cursor`), turns
paid orders into purchase conversions (capi/orders.py) and queues the consented ones; the raw
contact data goes from the delivery body to the outbox payload and nowhere else (the lake apply
of the same delivery keeps only keyed hashes).

Stripe from API 2025-03-31 on: the `invoice_payment.paid` deliveries after the cursor are claimed
first, and a charge that may pay an invoice waits a few minutes for its link; the cursor stays
before it until then (capi/stripe_links.py).

Not from the REST/API syncs: their pages are normalised (hashed) in memory and never kept raw, so
an order seen only by a sync (a missed webhook) is not forwarded; webhooks are the stores'
real-time path. Re-reading is harmless: the outbox and `capi_order_keys` keep one conversion per
order and destination, so a crash between queueing and saving the cursor re-queues nothing.

People erased under GDPR (the workspace's suppression list, keyed hashes) are never forwarded,
as the ingest path never stores their events: an order whose e-mail's keyed hash is suppressed is
left out. Without the PII key the list cannot be compared, so a workspace that has suppressions
captures nothing until `OWNLAY_PII_HASH_KEY` is set (its cursor does not move).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ownlay_pipelines.capi.conversions import Conversion
from ownlay_pipelines.capi.orders import (
    SHOPIFY_ORDER_TOPICS,
    shopify_order_conversion,
    stripe_event_conversion,
)
from ownlay_pipelines.capi.outbox import enqueue
from ownlay_pipelines.capi.stripe_links import claim_invoice_payment_links, held
from ownlay_pipelines.capi.tables import capi_source_cursor
from ownlay_pipelines.ingest.webhook_store import WebhookDelivery, read_webhook_deliveries
from ownlay_pipelines.lifecycle.suppression import SUPPRESSIONS
from ownlay_pipelines.privacy.keyed_hash import PII_HASH_KEY_ENV, PiiHasher, PiiKeyMissing
from ownlay_pipelines.registry.workspaces import Workspace

PAGE = 500


def _shopify(delivery: WebhookDelivery, workspace_id: str) -> Conversion | None:
    if delivery.topic not in SHOPIFY_ORDER_TOPICS:
        return None
    return shopify_order_conversion(_object(delivery.raw_body), workspace_id)


def _stripe(delivery: WebhookDelivery, workspace_id: str) -> Conversion | None:
    return stripe_event_conversion(_object(delivery.raw_body), workspace_id)


PROVIDERS: dict[str, Callable[[WebhookDelivery, str], Conversion | None]] = {
    "shopify": _shopify,
    "stripe": _stripe,
}
"""Webhook provider → its delivery-to-conversion mapping."""


@dataclass
class OrderCaptureReport:
    """What one capture pass did for a workspace (counts only: no contact data)."""

    deliveries: int = 0
    orders: int = 0
    queued: int = 0
    no_consent: int = 0
    same_order: int = 0
    suppressed: int = 0
    """Orders of people erased under GDPR, left out."""
    refused: Counter[str] = field(default_factory=Counter)
    """`provider topic: error type` of bodies that could not be read as an order."""
    held: int = 0
    """1 when a Stripe charge waits for the invoice payment that may name it (the cursor stops
    before it)."""
    late_links: int = 0
    """Stripe invoice payments read after the charge they name had been queued."""


def capture_webhook_orders(
    engine: sa.Engine,
    workspace: Workspace,
    deliveries_path: Path,
    *,
    now: datetime,
    hasher: PiiHasher | None,
    page: int = PAGE,
) -> OrderCaptureReport:
    """Queue the consented paid orders among the workspace's deliveries after its cursors;
    `hasher` (the PII key) compares buyers with the workspace's GDPR suppression list."""
    report = OrderCaptureReport()
    if not workspace.capi.destinations:
        return report
    suppressed_emails, _ = SUPPRESSIONS.lists(engine, workspace.id)
    if suppressed_emails and hasher is None:
        raise PiiKeyMissing(
            f"workspace {workspace.id} has GDPR suppressions; set {PII_HASH_KEY_ENV} so store "
            "orders can be checked against them before forwarding"
        )
    for provider, convert in PROVIDERS.items():
        cursor = source_cursor(engine, workspace.id, provider)
        if provider == "stripe":
            links = claim_invoice_payment_links(
                engine, workspace, deliveries_path, after_seq=cursor, now=now
            )
            report.late_links += links.late
        while batch := read_webhook_deliveries(
            deliveries_path,
            provider=provider,
            workspace_id=workspace.id,
            after_seq=cursor,
            limit=page,
        ):
            waiting = next(
                (
                    index
                    for index, delivery in enumerate(batch)
                    if provider == "stripe" and held(delivery, workspace.id, now)
                ),
                None,
            )
            if waiting is not None:
                report.held = 1
                batch = batch[:waiting]
                if not batch:
                    break
            conversions = []
            for delivery in batch:
                try:
                    conversion = convert(delivery, workspace.id)
                except (ValueError, TypeError, KeyError) as error:
                    report.refused[f"{provider} {delivery.topic}: {type(error).__name__}"] += 1
                    continue
                if conversion is None:
                    continue
                if _suppressed(conversion, hasher, suppressed_emails):
                    report.suppressed += 1
                    continue
                conversions.append(conversion)
            queued = enqueue(engine, workspace.id, workspace.capi, conversions, now=now)
            report.deliveries += len(batch)
            report.orders += len(conversions)
            report.queued += queued.queued
            report.no_consent += queued.no_consent
            report.same_order += queued.same_order
            cursor = batch[-1].seq
            _save_cursor(engine, workspace.id, provider, cursor, now)
            if waiting is not None:
                break
    return report


def source_cursor(engine: sa.Engine, workspace_id: str, provider: str) -> int:
    """The last delivery `seq` of `provider` already captured for the workspace (0: none)."""
    c = capi_source_cursor
    with engine.connect() as connection:
        seq = connection.execute(
            sa.select(c.c.last_seq).where(
                c.c.workspace_id == workspace_id, c.c.provider == provider
            )
        ).scalar_one_or_none()
    return int(seq or 0)


def _save_cursor(
    engine: sa.Engine, workspace_id: str, provider: str, seq: int, now: datetime
) -> None:
    c = capi_source_cursor
    with engine.begin() as connection:
        insert = {"postgresql": pg_insert, "sqlite": sqlite_insert}[connection.dialect.name]
        statement = insert(c).values(
            workspace_id=workspace_id, provider=provider, last_seq=seq, updated_at=now
        )
        connection.execute(
            statement.on_conflict_do_update(
                index_elements=[c.c.workspace_id, c.c.provider],
                set_={"last_seq": seq, "updated_at": now},
            )
        )


def _suppressed(conversion: Conversion, hasher: PiiHasher | None, emails: frozenset[str]) -> bool:
    """Whether the buyer's e-mail is on the workspace's GDPR suppression list."""
    if not (emails and hasher and conversion.email):
        return False
    return hasher.hash_email(conversion.email) in emails


def _object(body: bytes) -> Mapping[str, Any]:
    document = json.loads(body)
    if not isinstance(document, Mapping):
        raise ValueError("the delivery body is not a JSON object")
    return document
