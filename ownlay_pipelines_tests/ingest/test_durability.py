"""Kill -9 test: the real service in a subprocess, killed right after acknowledging events."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from ownlay_pipelines.ingest.config import IngestSettings
from ownlay_pipelines.ingest.flush import flush_buffer
from ownlay_pipelines.ingest.keys import create_api_key, open_key_store
from ownlay_pipelines.lake.event_views import read_event_day
from ownlay_pipelines_tests.ingest.payloads import PII_KEY, auth_header, ownlay_event

REPO_ROOT = Path(__file__).resolve().parents[2]
BATCH = 10


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start_server(environ: dict[str, str], port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ownlay_pipelines.ingest.server",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=REPO_ROOT,
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: SIGKILL reaches every worker at once
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    raise AssertionError("the ingest server did not start within 60 s")


def _events(start: int, event_time: datetime) -> list[dict]:
    stamp = event_time.isoformat()
    return [ownlay_event(number, timestamp=stamp) for number in range(start, start + BATCH)]


def _worker_processes(server: subprocess.Popen) -> int:
    """How many uvicorn worker processes (multiprocessing spawns) the server runs."""
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
    commands = [Path(f"/proc/{child}/cmdline").read_bytes() for child in children]
    return sum(b"spawn_main" in command for command in commands)


def _kill(server: subprocess.Popen) -> None:
    """SIGKILL the server and, in worker mode, its worker processes (no shutdown code runs)."""
    os.killpg(server.pid, signal.SIGKILL)
    server.wait(timeout=10)


@pytest.mark.parametrize("workers", [1, 2])
def test_every_acknowledged_event_survives_sigkill_exactly_once(tmp_path: Path, workers: int):
    settings_env = {
        "OWNLAY_DATA_DIR": str(tmp_path / "data"),
        "OWNLAY_DATABASE_URL": f"sqlite:///{tmp_path / 'ops.sqlite'}",
        "OWNLAY_PII_HASH_KEY": PII_KEY,
        "OWNLAY_INGEST_WORKERS": str(workers),
    }
    environ = {**os.environ, **settings_env, "PYTHONPATH": str(REPO_ROOT)}
    settings = IngestSettings.from_env(settings_env)
    key = create_api_key(open_key_store(settings.database_url), "acme").plaintext
    event_time = datetime.now(UTC) - timedelta(minutes=1)
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api/v1/events"
    acked: list[dict] = []
    refused: list[int] = []
    server = _start_server(environ, port)

    def send_until_killed(worker: int) -> None:
        with httpx.Client(timeout=5) as http:
            for round_number in range(1000):
                batch = _events(1 + (worker * 1000 + round_number) * BATCH, event_time)
                try:
                    response = http.post(url, json=batch, headers=auth_header(key))
                except httpx.TransportError:
                    return
                if response.status_code != 202:
                    refused.append(response.status_code)
                    return
                acked.extend(batch)

    try:
        assert _worker_processes(server) == (workers if workers > 1 else 0)
    except BaseException:
        _kill(server)
        raise
    senders = [threading.Thread(target=send_until_killed, args=(n,)) for n in range(4)]
    for sender in senders:
        sender.start()
    deadline = time.monotonic() + 20
    while len(acked) < 400 and not refused and time.monotonic() < deadline:
        time.sleep(0.005)
    _kill(server)
    for sender in senders:
        sender.join(timeout=10)

    # A sender that retries what was acknowledged must be told every event is already stored.
    server = _start_server(environ, port)
    try:
        with httpx.Client(timeout=5) as http:
            stored_again = sum(
                http.post(url, json=acked[i : i + 100], headers=auth_header(key)).json()["stored"]
                for i in range(0, len(acked), 100)
            )
    finally:
        _kill(server)
    flush_buffer(settings.buffer_path, settings.lake_dir)

    lake = read_event_day(settings.lake_dir, "acme", event_time.date())
    lake_ids = Counter(lake.column("event_id").to_pylist())
    acked_ids = {event["event_id"] for event in acked}
    assert refused == []
    assert len(acked_ids) >= 400
    assert stored_again == 0
    assert acked_ids <= set(lake_ids)
    assert max(lake_ids.values()) == 1
