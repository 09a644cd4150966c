"""A group-commit-like SQLite commit beside a busy Python thread, at two GIL switch intervals.

The ingest writer thread takes the GIL back after each SQLite call and fsync; while another
thread keeps the GIL busy (the event loop draining a flood of large bodies), each take waits up
to the switch interval. This probe times 200 commits of four statements (BEGIN IMMEDIATE, an
INSERT, a SELECT, COMMIT; WAL, synchronous=FULL) while a second thread runs Python bytecode
without pause, once at Python's default interval (5 ms) and once at
`ingest.gil_handoff.QUICK_INTERVAL_SECONDS`, each in its own process.

    .venv/bin/python bench/ingest/run_gil_handoff_probe.py
"""

from __future__ import annotations

import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))

from ownlay_pipelines.ingest.gil_handoff import QUICK_INTERVAL_SECONDS  # noqa: E402

COMMITS = 200


def measure(interval: float) -> None:
    """Print the commit latency percentiles at `interval` (runs in a child process)."""
    sys.setswitchinterval(interval)
    with tempfile.TemporaryDirectory() as scratch:
        connection = sqlite3.connect(
            Path(scratch) / "buffer.db", isolation_level=None, check_same_thread=False
        )
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute("CREATE TABLE rows (a, b, c)")
        stop = threading.Event()

        def busy() -> None:
            total = 0
            while not stop.is_set():
                for number in range(1000):
                    total += number

        spinner = threading.Thread(target=busy)
        spinner.start()
        latencies = []
        for _ in range(COMMITS):
            started = time.perf_counter()
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("INSERT INTO rows VALUES (1, 2, 3)")
            connection.execute("SELECT count(*) FROM rows").fetchone()
            connection.execute("COMMIT")
            latencies.append((time.perf_counter() - started) * 1000)
        stop.set()
        spinner.join()
        connection.close()
    latencies.sort()
    print(
        f"switch interval {interval * 1000:g} ms: commit p50 {statistics.median(latencies):.2f} ms,"
        f" p99 {latencies[int(0.99 * COMMITS) - 1]:.2f} ms"
    )


def main() -> None:
    if len(sys.argv) > 1:
        measure(float(sys.argv[1]))
        return
    for interval in (0.005, QUICK_INTERVAL_SECONDS):
        subprocess.run([sys.executable, __file__, str(interval)], check=True)


if __name__ == "__main__":
    main()
