"""Mailchimp campaign reports into the generic store, like Omnisend's campaigns.

One record per regular campaign sent in the last `WINDOW_DAYS` (reports keep changing for weeks):
the campaign id, title, type as category, e-mails sent as quantity, the send time as record date,
and open_rate / click_rate metrics in percent of sent (the metric definitions Omnisend's
campaigns use, so the same rules can watch both).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import timedelta

import sqlalchemy as sa

from ownlay_pipelines.connectors import mailchimp
from ownlay_pipelines.connectors.mailchimp_rows import report_for_watchtower
from ownlay_pipelines.connectors.streams import FetchRequest
from ownlay_pipelines.connectors.wire_values import RowError
from ownlay_pipelines.http.client import ApiClient
from ownlay_pipelines.registry.workspaces import Connection, Workspace
from ownlay_pipelines.schema.date_range import DateRange
from ownlay_pipelines.schema.platforms import Platform
from ownlay_pipelines.watchtower.clock import Clock, utc_now
from ownlay_pipelines.watchtower.snapshots import SnapshotType
from ownlay_pipelines.watchtower.sources.capture import SourceRun
from ownlay_pipelines.watchtower.sources.field_mappings import FieldMapping
from ownlay_pipelines.watchtower.sources.record_store import capture_records

WINDOW_DAYS = 30
MAILCHIMP_REPORTS = FieldMapping(
    provider="mailchimp",
    endpoint="reports",
    columns=(
        ("campaign_id", "external_id"),
        ("campaign_title", "name"),
        ("type", "category"),
        ("emails_sent", "quantity"),
        ("send_day", "record_date"),
    ),
    metrics=(("open_rate", "open_rate"), ("click_rate", "click_rate")),
)
REPORTS = next(spec for spec in mailchimp.STREAMS if spec.table == "reports")


def capture_mailchimp_reports(
    store: sa.Engine,
    *,
    workspace: Workspace,
    open_client: Callable[[Connection], ApiClient],
    snapshot_type: SnapshotType,
    clock: Clock = utc_now,
) -> SourceRun:
    """Snapshot the reports of the workspace's Mailchimp accounts sent in the last 30 days."""
    connections = workspace.connections_for(Platform.MAILCHIMP)
    if not connections:
        return SourceRun()
    today = clock().astimezone(workspace.zone).date()
    window = DateRange(today - timedelta(days=WINDOW_DAYS), today)
    records, refused, http = [], Counter(), Counter()
    with capture_records(
        store, MAILCHIMP_REPORTS, client_id=workspace.id, snapshot_type=snapshot_type, clock=clock
    ) as writer:
        for connection in connections:
            with open_client(connection) as client:
                request = FetchRequest(workspace, connection, window)
                for wire in REPORTS.fetch(client, request):
                    try:
                        row = REPORTS.normalise(wire, request)
                    except RowError as error:
                        refused[f"{error.field}: {error.reason}"] += 1
                        continue
                    records.append({**report_for_watchtower(row), "send_day": row["report_date"]})
                http.update(client.stats.as_metadata())
        captured = writer.write(records)
    return SourceRun(snapshot=captured, refused=refused, http=http)
