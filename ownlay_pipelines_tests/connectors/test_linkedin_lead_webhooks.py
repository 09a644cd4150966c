"""Stored LinkedIn lead notifications applied to the leads table: same rows as a sync, idempotent."""

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest

from ownlay_pipelines.connectors import linkedin_ads
from ownlay_pipelines.connectors.linkedin_lead_webhooks import LEADS, apply_lead_notifications
from ownlay_pipelines.connectors.sync import sync_stream
from ownlay_pipelines.lake.writer import read_partition
from ownlay_pipelines.privacy.keyed_hash import PII_HASH_KEY_ENV
from ownlay_pipelines.registry.workspaces import load_registry
from ownlay_pipelines.sandbox import SandboxWorld, sandbox_transport
from ownlay_pipelines.sandbox.linkedin_leads import ground_truth_leads
from ownlay_pipelines.settings import DEFAULT_REGISTRY_FILE
from ownlay_pipelines_tests.connectors.sandbox_sync import opener

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
REGISTRY = load_registry(DEFAULT_REGISTRY_FILE)
WORLD = SandboxWorld(REGISTRY, seed=7, now=NOW)
WORKSPACE = REGISTRY.get("acme-outdoor")
ACCOUNT = "508000001"
DAY = date(2026, 11, 18)
DAY_LEADS = ground_truth_leads(WORLD, ACCOUNT, DAY)


@dataclass(frozen=True)
class StoredDelivery:
    seq: int
    raw_body: bytes


@pytest.fixture(autouse=True)
def pii_key(monkeypatch):
    monkeypatch.setenv(PII_HASH_KEY_ENV, "p" * 32)


def _notification(seq: int, lead_id: str, action: str = "CREATED", account: str = ACCOUNT):
    body = {
        "type": "LEAD_ACTION",
        "leadGenFormResponse": f"urn:li:leadFormResponse:{lead_id}",
        "owner": {"sponsoredAccount": f"urn:li:sponsoredAccount:{account}"},
        "leadType": "SPONSORED",
        "leadAction": action,
        "occurredAt": 1795348800000 + seq,
    }
    return StoredDelivery(seq, json.dumps(body).encode())


def _apply(deliveries, lake):
    return apply_lead_notifications(
        deliveries,
        workspace=WORKSPACE,
        open_client=opener(linkedin_ads.CONNECTOR, sandbox_transport(WORLD)),
        lake_root=lake,
    )


def _rows(lake, day=DAY):
    table = read_partition(lake, LEADS.ref, workspace_id=WORKSPACE.id, report_date=day)
    return table.to_pylist() if table is not None else []


def test_created_notifications_give_the_rows_the_scheduled_sync_writes(tmp_path):
    assert len(DAY_LEADS) >= 2
    deliveries = [_notification(n, lead.lead_id) for n, lead in enumerate(DAY_LEADS, start=1)]

    result = _apply(deliveries, tmp_path / "webhook")
    sync_stream(
        LEADS,
        workspace=WORKSPACE,
        open_client=opener(linkedin_ads.CONNECTOR, sandbox_transport(WORLD)),
        lake_root=tmp_path / "sync",
        days=[DAY],
    )

    assert (result.upserted, result.refused, result.last_seq) == (
        len(DAY_LEADS),
        [],
        len(DAY_LEADS),
    )
    assert _rows(tmp_path / "webhook") == _rows(tmp_path / "sync")


def test_reapplying_and_repeated_deliveries_change_nothing(tmp_path):
    deliveries = [_notification(n, lead.lead_id) for n, lead in enumerate(DAY_LEADS, start=1)]
    _apply(deliveries, tmp_path)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*.parquet")}

    again = _apply([*deliveries, _notification(99, DAY_LEADS[0].lead_id)], tmp_path)

    assert again.partitions_written == 0
    assert {p: p.read_bytes() for p in tmp_path.rglob("*.parquet")} == before


def test_a_deleted_lead_leaves_the_table_and_stays_gone_on_reapply(tmp_path):
    created = [_notification(n, lead.lead_id) for n, lead in enumerate(DAY_LEADS, start=1)]
    _apply(created, tmp_path)
    gone = DAY_LEADS[0].lead_id
    deletion = _notification(len(created) + 1, gone, "DELETED")

    result = _apply([*created, deletion], tmp_path)
    rerun = _apply([*created, deletion], tmp_path)

    assert result.deleted == 1 and rerun.partitions_written == 0
    assert sorted(r["lead_id"] for r in _rows(tmp_path)) == sorted(
        lead.lead_id for lead in DAY_LEADS[1:]
    )


def test_foreign_accounts_and_unknown_leads_are_refused_with_reasons(tmp_path):
    result = _apply(
        [
            _notification(1, DAY_LEADS[0].lead_id, account="999"),
            _notification(2, "00000000-20261118-4000000-0"),
        ],
        tmp_path,
    )
    assert result.upserted == 0 and len(result.refused) == 2
    assert "ad account '999' is not connected" in result.refused[0]
    assert "00000000-20261118-4000000-0" in result.refused[1]
    assert _rows(tmp_path) == []
