"""Signed Stripe deliveries reach raw/stripe tables through the sensor and the apply job: the
newer event wins, a replay changes nothing, an older event arriving late is ignored."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import pytest
from fastapi.testclient import TestClient

from ownlay_pipelines.connectors.stripe import STREAMS
from ownlay_pipelines.defs.resources import LakeResource, RegistryResource
from ownlay_pipelines.defs.stripe_webhooks import stripe_webhook_sensor, stripe_webhooks
from ownlay_pipelines.http.clock import FakeClock
from ownlay_pipelines.ingest.app import create_app
from ownlay_pipelines.ingest.config import IngestSettings
from ownlay_pipelines.lake.writer import read_partition
from ownlay_pipelines.privacy.keyed_hash import PiiHasher
from ownlay_pipelines_tests.ingest.payloads import NOW, PII_KEY, stripe_signature

SECRET = "whsec_acme_outdoor_current"
ACCOUNT = "acct_1AcmeOutdoor"
CHARGES = next(s for s in STREAMS if s.table == "charges").ref
CUSTOMERS = next(s for s in STREAMS if s.table == "customers").ref
CHARGE_CREATED = int(datetime(2026, 11, 20, 15, 0, tzinfo=UTC).timestamp())
"""10:00 in New York on 2026-11-20: the charge's day partition."""


def _charge_event(event_id: str, created: int, amount_refunded: int) -> dict:
    charge = {
        "id": "ch_3Q1acme",
        "object": "charge",
        "amount": 4_900,
        "amount_refunded": amount_refunded,
        "currency": "usd",
        "created": CHARGE_CREATED,
        "customer": "cus_Q1acme",
        "status": "succeeded",
        "paid": True,
        "refunded": amount_refunded == 4_900,
    }
    kind = "charge.refunded" if amount_refunded else "charge.succeeded"
    return {
        "id": event_id,
        "object": "event",
        "type": kind,
        "created": created,
        "data": {"object": charge},
    }


def _deliver(data_dir: Path, lake: LakeResource, event: dict) -> None:
    settings = IngestSettings(
        lake_dir=lake.lake_root,
        buffer_path=lake.event_buffer_path,
        database_url=f"sqlite:///{data_dir / 'ops.sqlite'}",
    )
    environ = {
        "OWNLAY_PII_HASH_KEY": PII_KEY,
        "OWNLAY_STRIPE_WEBHOOK_SECRET__ACME_OUTDOOR": SECRET,
    }
    body = json.dumps(event).encode()
    headers = {
        "Stripe-Signature": stripe_signature(body, [SECRET], int(NOW.timestamp())),
        "Content-Type": "application/json",
    }
    with TestClient(create_app(settings, clock=FakeClock(NOW), environ=environ)) as client:
        response = client.post(
            "/api/v1/webhooks/stripe/acme-outdoor", content=body, headers=headers
        )
    assert response.status_code < 300, response.text


def _charges(lake: LakeResource) -> list[tuple[str, str, str | None]]:
    table = read_partition(
        lake.lake_root, CHARGES, workspace_id="acme-outdoor", report_date=date(2026, 11, 20)
    )
    return [
        (r["charge_id"], str(r["amount_refunded"]), str(r["event_created_at"]))
        for r in table.to_pylist()
    ]


def _apply(instance: dg.DagsterInstance, resources: dict) -> dg.SensorResult:
    tick = stripe_webhook_sensor.evaluate_tick(
        dg.build_sensor_context(instance=instance, resources=resources)
    )
    if tick.run_requests:
        assert stripe_webhooks.execute_in_process(instance=instance, resources=resources).success
    return tick


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("OWNLAY_PII_HASH_KEY", PII_KEY)
    data_dir = tmp_path / "data"
    lake = LakeResource(data_dir=str(data_dir))
    return data_dir, lake, {"lake": lake, "registry": RegistryResource()}


def test_newer_event_wins_replay_and_older_event_change_nothing(setup):
    data_dir, lake, resources = setup
    paid = _charge_event("evt_1", CHARGE_CREATED, 0)
    refunded = _charge_event("evt_2", CHARGE_CREATED + 3_600, 4_900)
    with dg.instance_for_test() as instance:
        _deliver(data_dir, lake, paid)
        (request,) = _apply(instance, resources).run_requests
        assert request.run_key == "stripe-webhooks-1"
        assert _charges(lake) == [("ch_3Q1acme", "0.000000", "2026-11-20 15:00:00+00:00")]

        _deliver(data_dir, lake, refunded)
        _apply(instance, resources)
        after_refund = _charges(lake)
        assert after_refund == [("ch_3Q1acme", "49.000000", "2026-11-20 16:00:00+00:00")]

        # Stripe retries the same event: the store keeps it once, nothing changes.
        _deliver(data_dir, lake, refunded)
        assert _apply(instance, resources).skip_message == "no unapplied Stripe deliveries"
        assert _charges(lake) == after_refund

        # The older event, delivered again under a new id after the newer one was applied.
        _deliver(data_dir, lake, {**paid, "id": "evt_1_late"})
        (request,) = _apply(instance, resources).run_requests
        assert request.run_key == "stripe-webhooks-4"
        assert _charges(lake) == after_refund
        assert _apply(instance, resources).skip_message == "no unapplied Stripe deliveries"


def test_customer_event_keeps_only_the_email_pseudonym(setup):
    data_dir, lake, resources = setup
    customer = {
        "id": "cus_Q1acme",
        "object": "customer",
        "created": CHARGE_CREATED,
        "email": "Jane.Doe@Example.com",
        "currency": "usd",
        "delinquent": False,
    }
    event = {
        "id": "evt_c1",
        "object": "event",
        "type": "customer.created",
        "created": CHARGE_CREATED,
        "data": {"object": customer},
    }
    with dg.instance_for_test() as instance:
        _deliver(data_dir, lake, event)
        _apply(instance, resources)
    (row,) = read_partition(lake.lake_root, CUSTOMERS, workspace_id="acme-outdoor").to_pylist()
    assert row["email_hash"] == PiiHasher.from_env({"OWNLAY_PII_HASH_KEY": PII_KEY}).hash_email(
        "jane.doe@example.com"
    )
    assert "Jane" not in json.dumps(row, default=str)
    assert row["account_id"] == ACCOUNT
