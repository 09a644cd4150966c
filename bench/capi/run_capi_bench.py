"""CAPI forwarding throughput: the whole path next to a bare httpx loop sending the same batches.

Whole path = `drain_destination`: claim from the SQLite outbox (ops store), decode the raw
conversion, map the event name, normalise + SHA-256 every match key (phone via phonenumbers;
each distinct value once per run, `MatchKeyCache`), build the platform's wire format, batch at
the BatchOptimizer's size (it starts at the platform's maximum and stays there while batches are
fast), POST through the client core (breaker, retries) on the run's pooled client
(`PlatformClients`) to the in-process CAPI sandbox, read the per-event answer, commit outcomes and
one EventDeliveryLog row per event. Rate limits: the client's per-platform *event* token buckets
(seed 002: Meta 1,000/min, …) are lifted to 10^12/s here — they cap real traffic, not this code
— and the sandbox enforces none (it throttles only when a test injects it). The anchor posts the
very request bodies the whole path sent, recorded on the way, with a plain `httpx.Client` to a
fresh sandbox: the cost of the sandbox and of HTTP alone. `--cold` turns the per-run cache off
(every value normalised afresh, as if no customer ever came back).

    .venv/bin/python bench/capi/run_capi_bench.py --events 10000
    .venv/bin/python bench/capi/run_capi_bench.py --events 10000 --cold
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from ownlay_pipelines.capi.destinations import CapiDestination, CapiSettings
from ownlay_pipelines.capi.forward import drain_destination
from ownlay_pipelines.capi.normalize import MatchKeyCache
from ownlay_pipelines.capi.outbox import backlog, enqueue, status_counts
from ownlay_pipelines.capi.pool import PlatformClients
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
    parser.add_argument(
        "--cold", action="store_true", help="no per-run match-key cache (every value normalised)"
    )
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
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"{len(conversions):,} purchase conversions per platform ({len(visitors)} visitors), "
        f"cache {'off' if args.cold else 'on'}, load average {load}\n"
    )
    print(
        "| platform | batch | whole path events/s | bare httpx events/s | ratio "
        "| whole path events per CPU-s | contacts normalised / reused | match rate |"
    )
    print("|---|---|---|---|---|---|---|---|")
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
            waiting = backlog(engine, WORKSPACE, now=now)[destination.id]
            with PlatformClients(transport=recorder) as pool:
                sender = sender_for(
                    destination,
                    environ=ENV,
                    event_limit=RateLimit(10**12, 1.0),
                    http_client=pool.client(destination.platform, [waiting]),
                )
                started, cpu_started = time.perf_counter(), time.process_time()
                report = drain_destination(
                    engine, WORKSPACE, settings, destination, sender,
                    now=lambda: datetime.now(UTC),
                    cache=MatchKeyCache(max_entries=1) if args.cold else None,
                )  # fmt: skip
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
                f"| {destination.platform} | {report.batch_size:,} "
                f"| {len(conversions) / whole:,.0f} | {len(conversions) / bare:,.0f} "
                f"| {bare / whole:.2f} | {len(conversions) / whole_cpu:,.0f} "
                f"| {report.contacts_normalised:,} / {report.contacts_reused:,} "
                f"| {tally.match_rate:.1%} |  (enqueue {enqueue_rate:,.0f}/s)"
            )


if __name__ == "__main__":
    main()
