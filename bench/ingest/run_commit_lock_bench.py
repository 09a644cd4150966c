"""Two processes commit to one SQLite WAL file back to back: how long a commit waits for its turn.

Each process loops for `--seconds`: take the write lock (`BEGIN IMMEDIATE`), insert a 2 KB row,
`COMMIT` with `synchronous=FULL` — what two uvicorn workers' group-commit writers do under load.
`busy` leaves the waiting to SQLite's busy handler (polls with sleeps growing to 100 ms);
`flock` takes the buffer's commit lock file first (`ingest/group_commit.py`). Prints each
process's commits and its wait for the write lock (p50, p99, max).
Run: `.venv/bin/python bench/ingest/run_commit_lock_bench.py` (see bench/README.md).
"""

from __future__ import annotations

import argparse
import fcntl
import multiprocessing
import os
import sqlite3
import tempfile
import time
from pathlib import Path


def writer(path: Path, use_flock: bool, seconds: float, results: multiprocessing.Queue) -> None:
    """Commit in a loop until `seconds` passed; report (commits, p50, p99, max wait in ms)."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA busy_timeout=30000")
    connection.execute("PRAGMA synchronous=FULL")
    lock = os.open(f"{path}.commit.lock", os.O_RDWR | os.O_CREAT, 0o600)
    waits = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        started = time.perf_counter()
        if use_flock:
            fcntl.flock(lock, fcntl.LOCK_EX)
        connection.execute("BEGIN IMMEDIATE")
        waits.append((time.perf_counter() - started) * 1000)
        connection.execute("INSERT INTO t VALUES (randomblob(2000))")
        connection.execute("COMMIT")
        if use_flock:
            fcntl.flock(lock, fcntl.LOCK_UN)
    waits.sort()
    results.put((len(waits), waits[len(waits) // 2], waits[int(len(waits) * 0.99)], waits[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    print(f"{'mode':6} {'process':>7} {'commits':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for _ in range(args.rounds):
        for mode in ("busy", "flock"):
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / "buffer.sqlite"
                setup = sqlite3.connect(path, isolation_level=None)
                setup.execute("PRAGMA journal_mode=WAL")
                setup.execute("CREATE TABLE t (x BLOB)")
                setup.close()
                results: multiprocessing.Queue = multiprocessing.Queue()
                processes = [
                    multiprocessing.Process(
                        target=writer, args=(path, mode == "flock", args.seconds, results)
                    )
                    for _ in range(2)
                ]
                for process in processes:
                    process.start()
                rows = sorted(results.get() for _ in processes)
                for process in processes:
                    process.join()
                for number, (commits, p50, p99, longest) in enumerate(rows):
                    print(
                        f"{mode:6} {number:>7} {commits:>8} {p50:>8.1f} {p99:>8.1f} {longest:>8.1f}"
                    )


if __name__ == "__main__":
    main()
