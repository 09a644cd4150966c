"""CAPI forwarding throughput: the whole path next to a bare httpx loop sending the same batches.

Whole path = `drain_destination`: claim from the SQLite outbox (ops store), decode the raw
conversion, map the event name, normalise + SHA-256 every match key (phone via phonenumbers),
build the platform's wire format, batch, POST through the client core (token buckets, breaker,
retries) to the in-process CAPI sandbox, read the per-event answer, commit outcomes and one
EventDeliveryLog row per event. Platform rate limits are lifted (they cap real traffic, not this
code). The anchor posts the very request bodies the whole path sent, recorded on the way, with a
plain `httpx.Client` to a fresh sandbox: the cost of the sandbox and of HTTP alone.

    .venv/bin/python bench/capi/run_capi_bench.py            # 20,000 events per platform
    .venv/bin/python bench/capi/run_capi_bench.py --events 5000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from ownlay_pipelines.capi.destinations import CapiDestination, CapiSettings
from ownlay_pipelines.capi.forward import drain_destination
from ownlay_pipelines.capi.outbox import enqueue, status_counts
from ownlay_pipelines.capi.senders import sender_for
from ownlay_pipelines.capi.tables import create_capi_schema
from ownlay_pipelines.http.rate_limit import RateLimit
from ownlay_pipelines.sandbox.capi import CapiSandbox
from ownlay_pipelines.sandbox.capi_conversions import sandbox_conversions, sandbox_visitors
from ownlay_pipelines.watchtower.store import create_store_engine

WORKSPACE = "bench"
ENV = {"TOKEN": "bench-token", "DEV": "bench-dev"}
DESTINATIONS = (
    CapiDestination(id="meta", platform="meta", pixel_id="1", credentials={"access_token": "TOKEN"}),
    CapiDestination(
        id="google", platform="google", customer_id="2", conversion_action_id="3",
        credentials={"access_token": "TOKEN", "developer_token": "DEV"},
    ),
    CapiDestination(id="tiktok", platform="tiktok", pixel_code="C4", credentials={"access_token": "TOKEN"}),
    CapiDestination(id="snapchat", platform="snapchat", pixel_id="5", credentials={"access_token": "TOKEN"}),
)  # fmt: skip


class Recorder(httpx.BaseTransport):
    """Passes requests to the sandbox and keeps (url, headers, body) for the bare loop."""

    def __init__(self, sandbox: CapiSandbox) -> None:
        self.sandbox = sandbox
        self.sent: list[tuple[str, dict[str, str], bytes]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append((str(request.url), dict(request.headers), request.read()))
        return self.sandbox.handle(request)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000, help="conversions per platform")
    args = parser.parse_args()
    now = datetime.now(UTC)
    visitors = sandbox_visitors(500, "FR")
    # Purchases only, so Google (which takes conversions only) gets as many events as the others.
    conversions = [
        c for c in sandbox_conversions(
            WORKSPACE, visitors, args.events * 3, start=now - timedelta(days=2),
            currency="EUR", consent_share=1.0,
        ) if c.event_type == "purchase"
    ][: args.events]  # fmt: skip
    people = [v.person for v in visitors]
    print(
        f"{len(conversions):,} purchase conversions per platform, batches at each platform's max\n"
    )
    print(
        "| platform | batch | whole path events/s | bare httpx events/s | ratio "
        "| whole path events per CPU-s | match rate |"
    )
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_store_engine(f"sqlite:///{Path(tmp) / 'ops.sqlite'}")
        create_capi_schema(engine)
        for destination in DESTINATIONS:
            settings = CapiSettings(default_region="FR", destinations=(destination,))
            started = time.perf_counter()
            enqueue(engine, WORKSPACE, settings, conversions, now=now)
            enqueue_rate = len(conversions) / (time.perf_counter() - started)
            sandbox = CapiSandbox(people)
            recorder = Recorder(sandbox)
            sender = sender_for(
                destination, transport=recorder, environ=ENV, event_limit=RateLimit(10**12, 1.0)
            )
            started, cpu_started = time.perf_counter(), time.process_time()
            report = drain_destination(
                engine, WORKSPACE, settings, destination, sender, now=lambda: datetime.now(UTC)
            )
            whole = time.perf_counter() - started
            whole_cpu = time.process_time() - cpu_started
            assert status_counts(engine, WORKSPACE, destination.id) == {
                "accepted": len(conversions)
            }
            assert report.accepted == len(conversions)

            bare_sandbox = CapiSandbox(people)
            with httpx.Client(transport=httpx.MockTransport(bare_sandbox.handle)) as client:
                started = time.perf_counter()
                for url, headers, body in recorder.sent:
                    client.post(url, headers=headers, content=body).raise_for_status()
                bare = time.perf_counter() - started
            [(_, tally)] = sandbox.tallies.items()
            print(
                f"| {destination.platform} | {sender.max_batch:,} | {len(conversions) / whole:,.0f} "
                f"| {len(conversions) / bare:,.0f} | {bare / whole:.2f} "
                f"| {len(conversions) / whole_cpu:,.0f} | {tally.match_rate:.1%} |"
                f"  (enqueue {enqueue_rate:,.0f}/s)"
            )


if __name__ == "__main__":
    main()
