"""Stored LinkedIn lead notifications applied to `raw/linkedin_ads/leads`, idempotently.

A notification (`ingest/linkedin_lead_webhook.py`) names a lead and an action but not the
answers, so a CREATED lead is fetched (`GET /rest/leadFormResponses/<id>`), protected and
normalised exactly like the scheduled sync's rows (`connectors/linkedin_leads.py`) and merged
into the partition of its UTC submission day; a DELETED lead is removed from whichever partition
holds it. Per lead only its latest action counts, so applying the same deliveries again, or in
another order of arrival, writes the same files. A notification for an ad account the workspace
does not connect, or whose lead cannot be read, is refused with its reason and never
half-applied.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

from ownlay_pipelines.connectors.linkedin_leads import (
    LEAD_SCHEMA,
    STREAMS,
    form_questions,
    normalise_lead,
    protect_lead,
)
from ownlay_pipelines.connectors.streams import FetchRequest
from ownlay_pipelines.connectors.wire_values import RowError
from ownlay_pipelines.http.client import ApiClient
from ownlay_pipelines.http.errors import ApiError
from ownlay_pipelines.lake.tables import partition_dir
from ownlay_pipelines.lake.writer import read_partition, write_partition
from ownlay_pipelines.privacy.keyed_hash import optional_hasher
from ownlay_pipelines.registry.workspaces import Connection, Workspace
from ownlay_pipelines.schema.platforms import Platform

LEADS = next(spec for spec in STREAMS if spec.table == "leads")
LEAD_URN_PREFIX = "urn:li:leadFormResponse:"
ACCOUNT_URN_PREFIX = "urn:li:sponsoredAccount:"


class Delivery(Protocol):
    """A stored webhook delivery (`ingest.webhook_store.WebhookDelivery` has this shape)."""

    seq: int
    raw_body: bytes


@dataclass
class LeadApplyResult:
    """What applying notifications did."""

    upserted: int = 0
    deleted: int = 0
    refused: list[str] = field(default_factory=list)
    partitions_written: int = 0
    last_seq: int = 0


def latest_actions(deliveries: Iterable[Delivery]) -> tuple[dict[str, tuple[str, str]], int]:
    """Lead id → (ad account id, latest action) over the deliveries in arrival order, and the
    highest `seq` seen."""
    latest: dict[str, tuple[str, str]] = {}
    last_seq = 0
    for delivery in sorted(deliveries, key=lambda d: d.seq):
        last_seq = max(last_seq, delivery.seq)
        body = json.loads(delivery.raw_body)
        lead_id = str(body["leadGenFormResponse"]).removeprefix(LEAD_URN_PREFIX)
        account = str((body.get("owner") or {}).get("sponsoredAccount") or "")
        latest[lead_id] = (account.removeprefix(ACCOUNT_URN_PREFIX), body["leadAction"])
    return latest, last_seq


def apply_lead_notifications(
    deliveries: Iterable[Delivery],
    *,
    workspace: Workspace,
    open_client: Callable[[Connection], ApiClient],
    lake_root: Path,
) -> LeadApplyResult:
    """Bring the workspace's leads table in line with the notifications' latest actions."""
    latest, last_seq = latest_actions(deliveries)
    result = LeadApplyResult(last_seq=last_seq)
    connections = {c.account_id: c for c in workspace.connections_for(Platform.LINKEDIN_ADS)}
    created: dict[date, dict[str, dict[str, Any]]] = defaultdict(dict)
    deleted: set[str] = set()
    by_account: dict[str, list[str]] = defaultdict(list)
    for lead_id, (account_id, action) in sorted(latest.items()):
        if account_id not in connections:
            result.refused.append(f"lead {lead_id}: ad account {account_id!r} is not connected")
        elif action == "DELETED":
            deleted.add(lead_id)
        else:
            by_account[account_id].append(lead_id)
    for account_id, lead_ids in by_account.items():
        connection = connections[account_id]
        request = FetchRequest(workspace, connection)
        with open_client(connection) as client:
            questions = form_questions(client)
            hasher = optional_hasher()
            for lead_id in lead_ids:
                try:
                    element = client.request_json("GET", f"leadFormResponses/{lead_id}")
                    row = normalise_lead(protect_lead(element, questions, hasher), request)
                except (ApiError, RowError) as error:
                    result.refused.append(f"lead {lead_id}: {error}")
                    continue
                created[row["report_date"]][row["lead_id"]] = row
    days = set(created) | (_stored_days(lake_root, workspace.id) if deleted else set())
    for day in sorted(days):
        stored = read_partition(lake_root, LEADS.ref, workspace_id=workspace.id, report_date=day)
        rows = {r["lead_id"]: r for r in (stored.to_pylist() if stored is not None else [])}
        before = dict(rows)
        rows.update(created.get(day, {}))
        removed = [lead_id for lead_id in deleted if lead_id in rows]
        for lead_id in removed:
            del rows[lead_id]
        if rows == before:
            continue
        ordered = [rows[k] for k in sorted(rows, key=lambda k: (rows[k]["account_id"], k))]
        write_partition(
            lake_root,
            LEADS.ref,
            pa.Table.from_pylist(ordered, schema=LEAD_SCHEMA),
            workspace_id=workspace.id,
            report_date=day,
        )
        result.partitions_written += 1
        result.deleted += len(removed)
    result.upserted = sum(len(rows) for rows in created.values())
    return result


def _stored_days(lake_root: Path, workspace_id: str) -> set[date]:
    """The submission days the workspace's leads table has partitions for."""
    table_dir = partition_dir(lake_root, LEADS.ref, workspace_id, None)
    days = set()
    for folder in table_dir.glob("report_date=*"):
        try:
            days.add(date.fromisoformat(folder.name.removeprefix("report_date=")))
        except ValueError:
            continue
    return days
