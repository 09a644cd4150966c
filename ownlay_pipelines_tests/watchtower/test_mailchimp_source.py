"""Mailchimp campaign reports reach the generic store the way Omnisend's campaigns do."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import sqlalchemy as sa

from ownlay_pipelines.connectors.mailchimp import MailchimpClient
from ownlay_pipelines.http.clock import FakeClock as HttpFakeClock
from ownlay_pipelines.registry.workspaces import load_registry
from ownlay_pipelines.sandbox.credentials import sandbox_credential
from ownlay_pipelines.sandbox.mailchimp import MailchimpSimulator
from ownlay_pipelines.sandbox.world import SandboxWorld
from ownlay_pipelines.settings import DEFAULT_REGISTRY_FILE
from ownlay_pipelines.watchtower.snapshots import SnapshotType
from ownlay_pipelines.watchtower.sources.mailchimp_reports import capture_mailchimp_reports
from ownlay_pipelines.watchtower.tables import api_record_metrics, api_records

REGISTRY = load_registry(DEFAULT_REGISTRY_FILE)


def test_reports_of_the_last_30_days_become_records_with_rate_metrics(sqlite_store, clock):
    world = SandboxWorld(REGISTRY, seed=7, now=datetime(2026, 11, 21, 8, tzinfo=UTC))
    simulator = MailchimpSimulator(world)

    def open_client(connection):
        return MailchimpClient(
            api_key=sandbox_credential("api_key", connection.account_id),
            account_id=connection.account_id,
            transport=httpx.MockTransport(simulator.handle),
            clock=HttpFakeClock(world.now),
        )

    run = capture_mailchimp_reports(
        sqlite_store,
        workspace=REGISTRY.get("blumen-haus"),
        open_client=open_client,
        snapshot_type=SnapshotType.SCHEDULED,
        clock=clock,
    )
    assert run.snapshot is not None and not run.refused
    account = simulator.account("b7e2c9d4f1-us21")
    recent = [c for c in account.campaigns if (world.now - c.send_time).days <= 30]
    with sqlite_store.connect() as connection:
        records = connection.execute(
            sa.select(api_records.c.id, api_records.c.external_id, api_records.c.quantity)
        ).all()
        metrics = dict(
            connection.execute(
                sa.select(api_record_metrics.c.metric_name, sa.func.count()).group_by(
                    api_record_metrics.c.metric_name
                )
            ).all()
        )
    assert sorted(r.external_id for r in records) == sorted(c.id for c in recent)
    assert {r.quantity for r in records} == {c.emails_sent for c in recent}
    assert metrics == {"open_rate": len(recent), "click_rate": len(recent)}
    assert (
        capture_mailchimp_reports(
            sqlite_store,
            workspace=REGISTRY.get("acme-outdoor"),
            open_client=open_client,
            snapshot_type=SnapshotType.SCHEDULED,
            clock=clock,
        ).snapshot
        is None
    )
