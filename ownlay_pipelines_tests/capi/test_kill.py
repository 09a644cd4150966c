"""SIGKILL a forwarding run again and again: 0 events lost, none re-sent once accepted.

A child process drains two destinations (Meta, TikTok) in small batches against the CAPI
sandbox, which journals every event it receives to a file (O_APPEND, so the journal survives the
kill). The parent kills the child mid-run several times, then lets a last child finish. Every
event must end `accepted`, every one must have reached the platform, and no event may reach the
platform after its outbox row was recorded as accepted. Events of the one batch in flight at a
kill may be sent twice — with the same dedup id, which the platforms deduplicate.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from ownlay_pipelines.capi.destinations import CapiSettings
from ownlay_pipelines.capi.outbox import enqueue
from ownlay_pipelines.capi.tables import capi_outbox
from ownlay_pipelines.sandbox.capi_conversions import sandbox_conversions, sandbox_visitors
from ownlay_pipelines_tests.capi.destinations import DESTINATIONS

WORKSPACE = "acme-outdoor"
EVENTS = 400
BATCH = 10
KILLS = 3

CHILD = r"""
import sys, time
from datetime import UTC, datetime, timedelta
import httpx
from ownlay_pipelines.capi.destinations import CapiSettings
from ownlay_pipelines.capi.forward import drain_destination
from ownlay_pipelines.capi.senders import sender_for
from ownlay_pipelines.http.rate_limit import RateLimit
from ownlay_pipelines.sandbox.capi import CapiSandbox
import sqlalchemy as sa
from ownlay_pipelines_tests.capi.destinations import DESTINATIONS, ENV

store = sa.create_engine(sys.argv[1])
sandbox = CapiSandbox(journal=sys.argv[2])

def slow(request):
    time.sleep(0.01)  # a platform round trip, so kills land mid-batch
    return sandbox.handle(request)

settings = CapiSettings(destinations=DESTINATIONS[:1] + DESTINATIONS[2:3])
print("ready", flush=True)
for destination in settings.destinations:
    sender = sender_for(destination, transport=httpx.MockTransport(slow), environ=ENV,
                        event_limit=RateLimit(10**9, 1.0))
    drain_destination(store, sys.argv[3], settings, destination, sender,
                      now=lambda: datetime.now(UTC), batch_size=int(sys.argv[4]),
                      lease=timedelta(seconds=0.5))
print("done", flush=True)
"""


def _journal_lines(journal: Path) -> int:
    """Events the sandbox has received so far (one journal line each)."""
    return journal.read_text().count("\n") if journal.exists() else 0


def test_sigkilled_forwarding_loses_nothing_and_never_resends_accepted(
    store: sa.Engine, tmp_path: Path
) -> None:
    settings = CapiSettings(destinations=DESTINATIONS[:1] + DESTINATIONS[2:3])
    visitors = sandbox_visitors(10, "US")
    conversions = sandbox_conversions(
        WORKSPACE, visitors, EVENTS, start=datetime.now(UTC) - timedelta(hours=8),
        currency="USD", consent_share=1.0,
    )  # fmt: skip
    enqueue(store, WORKSPACE, settings, conversions, now=datetime.now(UTC))
    journal = tmp_path / "journal.tsv"
    url = str(store.url)
    rng = random.Random(3)
    kills = 0
    for _attempt in range(2 * KILLS + 1):  # bounded: a run that ends on its own ends the loop
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, url, str(journal), WORKSPACE, str(BATCH)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        if kills < KILLS:
            # Kill a few requests into this run (by progress, not time: a fast machine would
            # otherwise drain the outbox before the kill lands).
            target = _journal_lines(journal) + rng.randint(5, 25)
            deadline = time.monotonic() + 60
            while (
                _journal_lines(journal) < target
                and child.poll() is None
                and time.monotonic() < deadline
            ):
                time.sleep(0.002)
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
            if child.returncode == -signal.SIGKILL:
                kills += 1
                time.sleep(0.6)  # the killed run's claim lease lapses
                continue
            assert child.returncode == 0, child.returncode
            break
        out, _ = child.communicate(timeout=120)
        assert child.returncode == 0 and "done" in out
        break

    with store.connect() as connection:
        rows = connection.execute(
            sa.select(capi_outbox.c.platform, capi_outbox.c.event_id, capi_outbox.c.status,
                      capi_outbox.c.finished_at)
        ).all()  # fmt: skip
    assert len(rows) == 2 * EVENTS
    assert Counter(r.status for r in rows) == {"accepted": 2 * EVENTS}  # 0 losses

    sends: dict[tuple[str, str], list[float]] = defaultdict(list)
    for line in journal.read_text().splitlines():
        platform, _account, event_id, at = line.split("\t")
        sends[(platform, event_id)].append(float(at))
    assert set(sends) == {(r.platform, r.event_id) for r in rows}  # every event reached it
    late = [
        r.event_id for r in rows
        if max(sends[(r.platform, r.event_id)]) > r.finished_at.replace(tzinfo=UTC).timestamp()
    ]  # fmt: skip
    assert late == []  # 0 sends after acceptance was recorded
    resent = sum(len(times) - 1 for times in sends.values())
    assert kills == KILLS
    assert resent <= KILLS * BATCH  # only a killed run's in-flight batch, never more
    print(f"kills={kills} resent={resent}")
