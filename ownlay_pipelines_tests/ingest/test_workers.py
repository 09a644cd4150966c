"""`OWNLAY_INGEST_WORKERS=2`: a listening socket per worker, a dead worker replaced, clean stop."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy

from ownlay_pipelines.ingest.config import IngestSettings
from ownlay_pipelines.ingest.server import prepare_stores
from ownlay_pipelines.ingest.workers import (
    WorkerConfig,
    WorkerStartupFailed,
    listening_sockets,
    run_workers,
)
from ownlay_pipelines_tests.ingest.payloads import PII_KEY
from ownlay_pipelines_tests.ingest.test_durability import _free_port

REPO_ROOT = Path(__file__).resolve().parents[2]


def _workers(pid: int) -> set[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return {
        int(child)
        for child in children
        if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()
    }


def _wait_until(condition, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.1)


def test_each_worker_listens_on_its_own_socket_a_killed_one_is_replaced_and_sigint_stops_all(
    tmp_path: Path,
):
    port = _free_port()
    environ = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "OWNLAY_DATA_DIR": str(tmp_path / "data"),
        "OWNLAY_DATABASE_URL": f"sqlite:///{tmp_path / 'ops.sqlite'}",
        "OWNLAY_PII_HASH_KEY": PII_KEY,
        "OWNLAY_INGEST_WORKERS": "2",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "ownlay_pipelines.ingest.server", "--port", str(port)],
        cwd=REPO_ROOT,
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        # Two sockets, not uvicorn's one shared socket: the kernel spreads connections over them.
        _wait_until(lambda: listening_sockets(port) == 2, "both workers listen")
        first = _workers(server.pid)
        assert len(first) == 2
        os.kill(min(first), signal.SIGKILL)
        _wait_until(
            lambda: len(_workers(server.pid)) == 2 and min(first) not in _workers(server.pid),
            "the supervisor replaced the killed worker",
        )
        _wait_until(lambda: listening_sockets(port) == 2, "the new worker listens")
        answer = httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=10)
        workers = _workers(server.pid)

        server.send_signal(signal.SIGINT)  # the supervisor only, as a process manager would
        returncode = server.wait(timeout=60)
    except BaseException:
        os.killpg(server.pid, signal.SIGKILL)
        raise

    assert answer.status_code == 200
    assert returncode == 0
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)
    assert listening_sockets(port) == 0


def _app_that_cannot_start() -> None:
    raise RuntimeError("the ops store is unreachable")


def test_a_worker_that_cannot_start_stops_the_service_instead_of_restarting_forever():
    config = WorkerConfig(_app_that_cannot_start, "127.0.0.1", 0, {"log_level": "critical"})

    with pytest.raises(WorkerStartupFailed, match="could not start"):
        run_workers(2, config)


def test_the_parent_creates_every_store_so_starting_workers_only_find_them(tmp_path):
    # Workers starting together on new files raced for the WAL switch ("database is locked")
    # and for `create_all`; after `prepare_stores` there is nothing left for them to create.
    settings = IngestSettings(
        lake_dir=tmp_path / "lake",
        buffer_path=tmp_path / "ingest" / "event_buffer.sqlite",
        database_url=f"sqlite:///{tmp_path / 'ops.sqlite'}",
        workers=2,
    )

    prepare_stores(settings)

    for path in (settings.buffer_path, settings.webhook_deliveries_path):
        with sqlite3.connect(path) as connection:
            assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",), path
            assert connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] > 0
    engine = sqlalchemy.create_engine(settings.database_url)
    tables = set(sqlalchemy.inspect(engine).get_table_names())
    engine.dispose()
    assert {"ingest_api_keys", "capi_outbox"} <= tables, tables
