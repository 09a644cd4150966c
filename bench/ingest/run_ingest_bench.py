"""Ingestion throughput and ack latency, measured with wrk on loopback, beside a naive reference.

Starts the real service (group commit into SQLite WAL, synchronous=FULL, on a writer thread), a
minimal FastAPI app appending to a list (the ceiling) and the naive reference (one DuckDB INSERT
per event) as uvicorn subprocesses on 127.0.0.1 (ports 18100-18199), drives each with wrk for a
bounded time with single-event and 100-event requests, checks how many events were durably stored,
and times one flush of everything into the lake.
Run: `.venv/bin/python bench/ingest/run_ingest_bench.py` (see bench/README.md).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))

from ownlay_pipelines.ingest.flush import flush_buffer  # noqa: E402
from ownlay_pipelines.ingest.keys import create_api_key, open_key_store  # noqa: E402
from ownlay_pipelines.ingest.workers import listening_sockets  # noqa: E402

HERE = Path(__file__).parent
LUA_SCRIPT = HERE / "post_events.lua"
HOST = "127.0.0.1"
RUNS = ((1, 32), (1, 64), (100, 8))
"""(events per request, open connections): 100-event requests need fewer connections in flight.
Single events run at two concurrencies: a server that commits in groups answers more requests
per group, and spends less CPU per request, the more senders wait on the same commit."""


@dataclass(frozen=True)
class WrkResult:
    """One wrk run: requests/s, latency percentiles in ms, and non-2xx answers."""

    requests_per_second: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    requests: int


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10, help="duration of each wrk run")
    parser.add_argument(
        "--servers",
        default="ours,ours-2w,list,naive",
        help="which of ours (one worker), ours-2w (OWNLAY_INGEST_WORKERS=2), list, naive to run",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get update && apt-get install -y wrk")
    workdir = Path(tempfile.mkdtemp(prefix="ownlay-ingest-bench-"))
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "OWNLAY_DATA_DIR": str(workdir / "data"),
        "OWNLAY_DATABASE_URL": f"sqlite:///{workdir / 'ops.sqlite'}",
        "OWNLAY_PII_HASH_KEY": "b" * 64,
        "OWNLAY_BENCH_DUCKDB": str(workdir / "naive.duckdb"),
        "OWNLAY_INGEST_MAX_BODY_BYTES": str(4 * 1024 * 1024),
        "OWNLAY_INGEST_RATE_LIMIT_EVENTS_PER_SECOND": "0",  # measure throughput, not the limit
    }
    env["OWNLAY_BENCH_KEY"] = create_api_key(
        open_key_store(env["OWNLAY_DATABASE_URL"]), "bench"
    ).plaintext
    buffer_path = workdir / "data" / "ingest" / "event_buffer.sqlite"
    print(f"machine: {os.cpu_count()} cores; wrk -t2 -d{args.seconds}s on loopback, same machine")
    print(
        f"{'server':<34}{'batch':>6}{'conns':>6}{'req/s':>10}{'events/s':>11}"
        f"{'p50 ms':>9}{'p99 ms':>9}"
        f"{'non-2xx':>9}{'stored':>10}{'CPU µs/ev':>12}"
    )
    ours = [sys.executable, "-m", "ownlay_pipelines.ingest.server", "--log-level", "warning"]
    servers = {
        "ours": ("ownlay ingest (SQLite WAL FULL)", ours, {}),
        "ours-2w": ("ownlay ingest, 2 workers", ours, {"OWNLAY_INGEST_WORKERS": "2"}),
        "list": ("minimal FastAPI (append to a list)", [
            sys.executable, "-m", "uvicorn", "--factory", "--app-dir", str(HERE),
            "list_app:create_app", "--no-access-log", "--log-level", "warning",
        ], {}),
        "naive": ("naive (1 DuckDB INSERT per event)", [
            sys.executable, "-m", "uvicorn", "--factory", "--app-dir", str(HERE),
            "naive_duckdb_app:create_app", "--no-access-log", "--log-level", "warning",
        ], {}),
    }  # fmt: skip
    run_number = 0
    for key in args.servers.split(","):
        name, command, server_env = servers[key]
        for batch, connections in RUNS:
            run_number += 1
            stored_before = _stored(name, buffer_path, env)
            port = _free_port()
            process = _start(
                command,
                port,
                {**env, **server_env},
                int(server_env.get("OWNLAY_INGEST_WORKERS", 1)),
            )
            try:
                cpu_before = _cpu_seconds(process.pid)
                result = _wrk(
                    port,
                    batch,
                    args.seconds,
                    connections,
                    {**env, "OWNLAY_BENCH_RUN": str(run_number)},
                )
                cpu = _cpu_seconds(process.pid) - cpu_before
            finally:
                process.send_signal(signal.SIGINT)
                process.wait(timeout=30)
            stored = _stored(name, buffer_path, env) - stored_before
            cpu_us = cpu * 1e6 / max(1, result.requests * batch)
            print(f"{name:<34}{batch:>6}{connections:>6}{result.requests_per_second:>10.0f}"
                  f"{result.requests_per_second * batch:>11.0f}{result.p50_ms:>9.2f}"
                  f"{result.p99_ms:>9.2f}{result.non_2xx:>9}{stored:>10}{cpu_us:>12.1f}")  # fmt: skip
    started = time.perf_counter()
    flushed = flush_buffer(buffer_path, workdir / "data" / "lake")
    seconds = time.perf_counter() - started
    print(f"flush_buffer: {flushed.events_flushed} events into {len(flushed.days)} part file(s) "
          f"in {seconds:.2f} s ({flushed.events_flushed / seconds:,.0f} events/s)")  # fmt: skip
    shutil.rmtree(workdir)


def _start(
    command: list[str], port: int, env: dict[str, str], listeners: int = 1
) -> subprocess.Popen:
    """Start a server and wait until it answers and `listeners` sockets listen on its port: wrk
    opens its connections once, at the start, so a worker still starting would get none."""
    process = subprocess.Popen(
        [*command, "--host", HOST, "--port", str(port)],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        start_new_session=True,  # worker processes share its group: stopped together
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://{HOST}:{port}/openapi.json", timeout=1)
        except httpx.TransportError:
            time.sleep(0.1)
            continue
        if listening_sockets(port) >= listeners:
            return process
        time.sleep(0.1)
    os.killpg(process.pid, signal.SIGKILL)
    raise SystemExit(f"server {command} did not start")


def _wrk(port: int, batch: int, seconds: int, connections: int, env: dict[str, str]) -> WrkResult:
    completed = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "--latency",
         "-s", str(LUA_SCRIPT), f"http://{HOST}:{port}/api/v1/events"],
        env={**env, "OWNLAY_BENCH_BATCH": str(batch)},
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    )  # fmt: skip
    out = completed.stdout
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return WrkResult(
        requests_per_second=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        p50_ms=_percentile_ms(out, "50"),
        p99_ms=_percentile_ms(out, "99"),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        requests=int(re.search(r"(\d+) requests in", out).group(1)),
    )


def _cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by process `pid` and its worker processes: the
    server's cost per event, which other load on the machine does not inflate the way it
    inflates wall-clock rates."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # the process ended meanwhile
        own_pid = int(stat.parent.name)
        if own_pid == pid or int(fields[1]) == pid:  # fields[1]: the parent's pid
            total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


def _percentile_ms(wrk_output: str, percent: str) -> float:
    value, unit = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s)\s*$", wrk_output, re.M).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def _stored(server_name: str, buffer_path: Path, env: dict[str, str]) -> int:
    if server_name.startswith("minimal"):
        return 0  # keeps events in memory only
    if server_name.startswith("naive"):
        path = env["OWNLAY_BENCH_DUCKDB"]
        if not Path(path).exists():
            return 0
        with duckdb.connect(path, read_only=True) as connection:
            return connection.execute("SELECT count(*) FROM events").fetchone()[0]
    if not buffer_path.exists():
        return 0
    with sqlite3.connect(buffer_path) as connection:
        return connection.execute(
            "SELECT coalesce(sum(events), 0) FROM pending_batches"
        ).fetchone()[0]


def _free_port() -> int:
    """A free port of the benchmark's range (OWNLAY_BENCH_PORTS, default 18100-18199)."""
    first, last = (int(n) for n in os.environ.get("OWNLAY_BENCH_PORTS", "18100-18199").split("-"))
    for port in range(first, last + 1):
        with socket.socket() as probe:
            try:
                probe.bind((HOST, port))
            except OSError:
                continue
            return port
    raise SystemExit(f"no free port in {first}-{last}")


if __name__ == "__main__":
    main()
