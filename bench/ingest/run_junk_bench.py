"""Hostile bodies against the real service: answer time and size, and a valid event's latency.

Starts `ownlay serve`'s server as a subprocess on a loopback port, then measures, in one run:

1. the anchor: a valid single event's acknowledgement latency on an idle server;
2. 1 MiB junk bodies (just under the body cap): `[1,1,…]`, object-shaped `[{},{},…]`, and
   `[{"event_type":0},…]` (each refused from its first kilobytes, `ingest/batch_head.py`), a
   JSON string and one event with a 1 MiB property (both read whole before their 422): answer
   time and size, sent alone one after another;
3. the valid event's latency again while ten junk bodies of each shape are in flight at once,
   sent by ten threads of another process (in this one they would hold the measuring thread's
   GIL, and its latency would be theirs).

    .venv/bin/python bench/ingest/run_junk_bench.py            # about 50 s: ours, then the floor
    .venv/bin/python bench/ingest/run_junk_bench.py --port 18211 --servers ours
    .venv/bin/python bench/ingest/run_junk_bench.py --workers 2  # OWNLAY_INGEST_WORKERS=2

The floor (`floor_app.py`) answers a body over 64 KiB at once, unread, and parses nothing else,
but lets uvicorn read and drop the rest at full speed: its valid-event latency under the same
flood, in the same run, is what a server allows that does not pace large bodies' bytes
(`ingest/large_body_pace.py`).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))

from ownlay_pipelines.ingest.keys import create_api_key, open_key_store  # noqa: E402
from ownlay_pipelines.ingest.workers import listening_sockets  # noqa: E402

MIB = 1024 * 1024
JUNK = {
    "[1,1,…]": b"[" + b"1," * (MIB // 2 - 2) + b"1]",
    "[{},{},…]": b"[" + b"{}," * (MIB // 3 - 2) + b"{}]",
    '[{"event_type":0},…]': b"[" + b'{"event_type":0},' * (MIB // 17 - 2) + b'{"event_type":0}]',
    '"aaa…"': b'"' + b"a" * (MIB - 10) + b'"',
    '{…,"properties":{"x":"aaa…"}}': (
        b'{"event_type":"page_view","anonymous_id":"a","properties":{"x":"'
        + b"a" * (MIB - 100)
        + b'"}}'
    ),
}
"""The first three are refused from their first kilobytes; the last two only once read whole."""
SAMPLES = 500
"""Requests per measured series: with 40 (before session 6) a "p99" was the slowest one, with
200 (sessions 6 and 7) the third slowest."""


def _event() -> dict:
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": "page_view",
        "timestamp": datetime.now(UTC).isoformat(),
        "anonymous_id": "anon_1",
        "context": {"page": {"url": "https://shop.example.com/"}},
    }


def _valid_latencies(url: str, key: str) -> list[float]:
    latencies = []
    with httpx.Client(timeout=30) as http:
        for _ in range(SAMPLES):
            started = time.perf_counter()
            response = http.post(url, json=_event(), headers={"X-Ownlay-Api-Key": key})
            latencies.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 202, response.text
    return latencies


def _junk_once(http: httpx.Client, url: str, key: str, junk: bytes) -> tuple[float, int, int]:
    """(milliseconds, status, answer bytes) of one junk body."""
    started = time.perf_counter()
    response = http.post(url, content=junk, headers={"X-Ownlay-Api-Key": key})
    return (time.perf_counter() - started) * 1000, response.status_code, len(response.content)


def _junk_until(url: str, key: str, junk: bytes, results: list, stop: threading.Event) -> None:
    with httpx.Client(timeout=30) as http:
        while not stop.is_set():
            results.append(_junk_once(http, url, key, junk))


def _junk_senders(url: str, key: str, shape: str, stop: Any, answers: Any) -> None:
    """Ten threads sending `shape` until `stop` is set, in a process of their own: sharing the GIL
    with them, the measuring thread's own latency would be theirs, not the server's. Puts the
    (milliseconds, status, answer bytes) of every junk body on `answers` at the end."""
    results: list[tuple[float, int, int]] = []
    stop_threads = threading.Event()
    senders = [
        threading.Thread(target=_junk_until, args=(url, key, JUNK[shape], results, stop_threads))
        for _ in range(10)
    ]
    for sender in senders:
        sender.start()
    stop.wait()
    stop_threads.set()
    for sender in senders:
        sender.join()
    answers.put(results)


def _p(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))]


SERVERS = {
    "ours": [sys.executable, "-m", "ownlay_pipelines.ingest.server"],
    "floor": [sys.executable, "-m", "uvicorn", "--factory", "--app-dir", str(Path(__file__).parent),
              "floor_app:create_app", "--http", "httptools", "--no-access-log"],
}  # fmt: skip
"""The service, and the floor app (`floor_app.py`) that the same flood is sent to for comparison."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=18210)
    parser.add_argument("--workers", type=int, default=1, help="OWNLAY_INGEST_WORKERS")
    parser.add_argument(
        "--servers", default="ours,floor", help="comma-separated, in order: ours and/or floor"
    )
    args = parser.parse_args()
    for name in args.servers.split(","):
        print(f"== {name}")
        _measure_server(SERVERS[name], args.port, args.workers if name == "ours" else 1)


def _measure_server(command: list[str], port: int, workers: int) -> None:
    """Start the server of `command` on `port`, measure every series, stop it."""
    with tempfile.TemporaryDirectory(prefix="ownlay-junk-") as scratch:
        env = {
            **os.environ,
            "OWNLAY_DATA_DIR": scratch,
            "OWNLAY_DATABASE_URL": f"sqlite:///{scratch}/ops.sqlite",
            "OWNLAY_PII_HASH_KEY": "b" * 64,
            "OWNLAY_INGEST_RATE_LIMIT_EVENTS_PER_SECOND": "0",
            "PYTHONPATH": str(REPO_ROOT),
            "OWNLAY_INGEST_WORKERS": str(workers),
        }
        key = create_api_key(open_key_store(env["OWNLAY_DATABASE_URL"]), "bench").plaintext
        server = subprocess.Popen(
            [*command, "--port", str(port), "--log-level", "warning"], env=env
        )
        url = f"http://127.0.0.1:{port}/api/v1/events"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1)
                    if listening_sockets(port) >= workers:
                        break
                    time.sleep(0.1)
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            idle = _valid_latencies(url, key)
            print(f"valid event, idle (anchor): p50 {statistics.median(idle):.1f} ms, "
                  f"p99 {_p(idle, 0.99):.1f} ms")  # fmt: skip
            # Every shape alone first, on the idle server: right after a flood, a junk body waits
            # behind the flood's last bodies, taken in at `large_body_pace`'s rate.
            for shape, junk in JUNK.items():
                _measure_alone(url, key, shape, junk)
            for shape, junk in JUNK.items():
                _measure_flood(url, key, shape, junk)
        finally:
            server.terminate()
            server.wait(timeout=10)


def _measure_alone(url: str, key: str, shape: str, junk: bytes) -> None:
    """Answer time and size of `junk` sent alone, one after another."""
    with httpx.Client(timeout=30) as http:
        alone = [_junk_once(http, url, key, junk) for _ in range(SAMPLES)]
    junk_ms = [took for took, _, _ in alone]
    print(f"{shape} ({len(junk)} bytes) alone: answered {sorted({s for _, s, _ in alone})}, "
          f"largest answer {max(size for _, _, size in alone)} bytes; "
          f"p50 {statistics.median(junk_ms):.1f} ms, p99 {_p(junk_ms, 0.99):.1f} ms, "
          f"max {max(junk_ms):.1f} ms")  # fmt: skip


def _measure_flood(url: str, key: str, shape: str, junk: bytes) -> None:
    """A valid event's latency with ten `junk` bodies in flight."""
    spawn = multiprocessing.get_context("spawn")
    stop, answers = spawn.Event(), spawn.Queue()
    senders = spawn.Process(target=_junk_senders, args=(url, key, shape, stop, answers))
    senders.start()
    time.sleep(1.5)  # the process starts and its ten senders are in flight
    loaded = _valid_latencies(url, key)
    stop.set()
    with_junk: list[tuple[float, int, int]] = answers.get(timeout=60)
    senders.join()
    print(f"{shape}, valid event with 10 in flight: p50 {statistics.median(loaded):.1f} ms, "
          f"p99 {_p(loaded, 0.99):.1f} ms; {len(with_junk)} junk bodies answered meanwhile "
          f"({sorted({s for _, s, _ in with_junk})}, largest answer "
          f"{max(size for _, _, size in with_junk)} bytes)")  # fmt: skip


if __name__ == "__main__":
    main()
