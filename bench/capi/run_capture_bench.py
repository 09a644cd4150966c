"""What live CAPI capture costs an ingest request: the same purchases with and without consent.

Both runs go through the real app in-process (FastAPI TestClient, SQLite buffer and ops store in a
temporary directory) for a sandbox-registry workspace with four destinations. Without marketing
consent nothing leaves the event loop (the anchor); with it, every request also writes its
conversions to `capi_outbox` (four rows per purchase) in a worker thread before answering. The
rounds alternate, so both see the same machine load.

    .venv/bin/python bench/capi/run_capture_bench.py                 # 3 rounds x 100 requests
    .venv/bin/python bench/capi/run_capture_bench.py --requests 50 --batch 20
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa
from fastapi.testclient import TestClient

from ownlay_pipelines.http.clock import SystemClock
from ownlay_pipelines.ingest.app import create_app
from ownlay_pipelines.ingest.config import IngestSettings
from ownlay_pipelines.ingest.keys import create_api_key, open_key_store

WORKSPACE = "acme-outdoor"
"""Has Meta, Google, TikTok and Snapchat destinations in the sandbox registry."""


def _purchase(consent: bool, now: str) -> dict:
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": "purchase",
        "timestamp": now,
        "user_id": f"user_{uuid.uuid4().hex[:8]}",
        "email": f"buyer.{uuid.uuid4().hex[:8]}@example.com",
        "consent": {"marketing": consent},
        "properties": {
            "value": 59.9,
            "currency": "USD",
            "order_id": uuid.uuid4().hex,
            "customer": {"phone": "+1 415 555 0123", "first_name": "Jane", "zip": "97201"},
        },
        "context": {
            "ip": "203.0.113.77",
            "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0",
            "page": {"url": "https://shop.example.com/thanks?fbclid=IwAR1"},
        },
    }


def _round(client: TestClient, key: str, consent: bool, requests: int, batch: int) -> float:
    now = SystemClock().now().isoformat()
    bodies = [[_purchase(consent, now) for _ in range(batch)] for _ in range(requests)]
    started = time.perf_counter()
    for body in bodies:
        response = client.post("/api/v1/events", json=body, headers={"X-Ownlay-Api-Key": key})
        assert response.status_code == 202, response.text
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--batch", type=int, default=50, help="purchases per request")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = IngestSettings(
            lake_dir=Path(tmp) / "lake",
            buffer_path=Path(tmp) / "ingest" / "event_buffer.sqlite",
            database_url=f"sqlite:///{Path(tmp) / 'ops.sqlite'}",
            max_body_bytes=4 * 1024 * 1024,
            rate_limit_events_per_second=0,
        )
        key = create_api_key(open_key_store(settings.database_url), WORKSPACE).plaintext
        environ = {"OWNLAY_PII_HASH_KEY": "b" * 64}
        print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
        print(f"{'round':<7}{'consent':<9}{'ms/request':>12}{'events/s':>11}")
        with TestClient(create_app(settings, environ=environ)) as client:
            totals = {False: 0.0, True: 0.0}
            for number in range(1, args.rounds + 1):
                for consent in (False, True):
                    seconds = _round(client, key, consent, args.requests, args.batch)
                    totals[consent] += seconds
                    print(
                        f"{number:<7}{str(consent).lower():<9}"
                        f"{seconds / args.requests * 1000:>12.2f}"
                        f"{args.requests * args.batch / seconds:>11,.0f}"
                    )
            capture = client.app.state.capi_capture
            engine = sa.create_engine(settings.database_url)
            with engine.connect() as connection:
                rows = connection.execute(sa.text("SELECT count(*) FROM capi_outbox")).scalar_one()
            engine.dispose()
        print(
            f"capture costs {totals[True] / totals[False]:.2f}x the request time; outbox rows "
            f"{rows} (queued {capture.queued}, failures {capture.failures}); "
            f"load average {os.getloadavg()[0]:.1f}"
        )


if __name__ == "__main__":
    main()
