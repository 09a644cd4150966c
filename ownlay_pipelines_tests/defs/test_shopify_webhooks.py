"""A signed Shopify delivery reaches raw/shopify/orders through the sensor and the apply job."""

import base64
import hashlib
import hmac
import json
from datetime import date
from pathlib import Path

import dagster as dg
from fastapi.testclient import TestClient

from ownlay_pipelines.connectors.shopify import STREAMS
from ownlay_pipelines.defs.resources import LakeResource, RegistryResource
from ownlay_pipelines.defs.shopify_webhooks import shopify_webhook_sensor, shopify_webhooks
from ownlay_pipelines.http.clock import FakeClock
from ownlay_pipelines.ingest.app import create_app
from ownlay_pipelines.ingest.config import IngestSettings
from ownlay_pipelines.lake.writer import read_partition
from ownlay_pipelines_tests.connectors.test_shopify import _order
from ownlay_pipelines_tests.ingest.payloads import NOW, PII_KEY

SECRET = "shpss_acme_outdoor_current"
ORDERS = next(s for s in STREAMS if s.table == "orders")


def _deliver(lake: LakeResource, data_dir: Path, order: dict, event_id: str) -> None:
    settings = IngestSettings(
        lake_dir=lake.lake_root,
        buffer_path=lake.event_buffer_path,
        database_url=f"sqlite:///{data_dir / 'ops.sqlite'}",
    )
    environ = {
        "OWNLAY_PII_HASH_KEY": PII_KEY,
        "OWNLAY_SHOPIFY_WEBHOOK_SECRET__ACME_OUTDOOR": SECRET,
    }
    body = json.dumps(order).encode()
    signature = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest())
    headers = {
        "X-Shopify-Hmac-Sha256": signature.decode(),
        "X-Shopify-Topic": "orders/updated",
        "X-Shopify-Shop-Domain": "acme-outdoor.myshopify.com",
        "X-Shopify-Event-Id": event_id,
        "Content-Type": "application/json",
    }
    with TestClient(create_app(settings, clock=FakeClock(NOW), environ=environ)) as client:
        response = client.post(
            "/api/v1/webhooks/shopify/acme-outdoor", content=body, headers=headers
        )
    assert response.status_code < 300, response.text


def test_sensor_and_job_upsert_deliveries_newest_updated_at_winning(tmp_path: Path):
    data_dir = tmp_path / "data"
    lake = LakeResource(data_dir=str(data_dir))
    resources = {"lake": lake, "registry": RegistryResource()}
    newer = _order(7, "2026-01-02T08:00:00-05:00", total_price="60.00")
    older = _order(7, "2026-01-01T22:30:00-05:00", total_price="100.00")
    _deliver(lake, data_dir, newer, "evt-2")
    _deliver(lake, data_dir, older, "evt-1")
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, resources=resources)
        (request,) = shopify_webhook_sensor.evaluate_tick(context).run_requests
        assert request.run_key == "shopify-webhooks-2"
        assert shopify_webhooks.execute_in_process(instance=instance, resources=resources).success
        assert shopify_webhooks.execute_in_process(instance=instance, resources=resources).success
        skipped = shopify_webhook_sensor.evaluate_tick(
            dg.build_sensor_context(instance=instance, resources=resources, cursor="2")
        )

    table = read_partition(
        lake.lake_root, ORDERS.ref, workspace_id="acme-outdoor", report_date=date(2026, 1, 1)
    )
    assert [(r["order_id"], str(r["total_price"])) for r in table.to_pylist()] == [
        ("7", "60.000000")
    ]
    assert skipped.skip_message == "no new Shopify deliveries"
