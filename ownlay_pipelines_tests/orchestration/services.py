"""Starting Dagster services for a test and always stopping them: daemon, webserver, PostgreSQL."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TypeVar

import psycopg2
import pytest
import yaml
from psycopg2 import sql

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
POSTGRES_USERS = ("postgres", "root")
POSTGRES_HOST, POSTGRES_PORT, POSTGRES_DATABASE = "127.0.0.1", 5432, "test"
STOP_GRACE_SECONDS = 20.0

T = TypeVar("T")


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Field 4 of /proc/<pid>/stat is the parent pid; the name in parentheses may hold spaces.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def descendants(pid: int) -> list[int]:
    """Every process started by `pid`, children first then theirs."""
    result, frontier = [], [pid]
    while frontier:
        children = [child for parent in frontier for child in _children(parent)]
        result.extend(children)
        frontier = children
    return result


def _signal_all(pids: list[int], signum: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            continue


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop `process` and everything it started: SIGTERM, then SIGKILL after a grace period.

    Run workers may start sessions of their own, so they are found by parentage, not group.
    """
    pids = [process.pid, *descendants(process.pid)]
    _signal_all(pids, signal.SIGTERM)
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout=STOP_GRACE_SECONDS)
    _signal_all([*pids, *descendants(process.pid)], signal.SIGKILL)
    process.wait(timeout=STOP_GRACE_SECONDS)


@contextmanager
def running(
    command: list[str], *, env: dict[str, str], cwd: Path, log_path: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `command` for the duration of the block, its output in `log_path`."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield process
        finally:
            stop(process)


def wait_until(
    check: Callable[[], T | None],
    *,
    timeout_seconds: float,
    what: str,
    process: subprocess.Popen[bytes],
    log_path: Path,
    interval_seconds: float = 1.0,
) -> T:
    """Poll `check` until it returns a value; fail with the service's log tail on timeout."""
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"service exited ({process.returncode}) before {what}:\n{_tail(log_path)}")
        value = check()
        if value is not None:
            return value
        time.sleep(interval_seconds)
    pytest.fail(f"no {what} within {timeout_seconds:.0f} s:\n{_tail(log_path)}")


def _tail(log_path: Path, lines: int = 40) -> str:
    return "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])


def _connect(user: str, database: str) -> psycopg2.extensions.connection:
    return psycopg2.connect(
        host=POSTGRES_HOST, port=POSTGRES_PORT, user=user, dbname=database, connect_timeout=3
    )


def postgres_user() -> str:
    """The first user the local PostgreSQL lets in; skips the test (fails under CI) if none."""
    errors = []
    for user in POSTGRES_USERS:
        try:
            _connect(user, POSTGRES_DATABASE).close()
            return user
        except psycopg2.OperationalError as exc:
            errors.append(f"{user}: {str(exc).strip()}")
    reason = (
        f"no PostgreSQL answers on {POSTGRES_HOST}:{POSTGRES_PORT}/{POSTGRES_DATABASE} "
        f"({'; '.join(errors)})"
    )
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI on this machine has one, so this is an error")
    pytest.skip(reason)


@contextmanager
def scratch_database(user: str, prefix: str = "ownlay_test") -> Iterator[str]:
    """A database of its own for one test, dropped afterwards with any session still on it."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = _connect(user, POSTGRES_DATABASE)
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        yield name
    finally:
        with admin.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )
            cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        admin.close()


def write_workspace_yaml(path: Path) -> Path:
    """A workspace.yaml loading this checkout's code location, for a daemon or webserver."""
    path.write_text(
        yaml.safe_dump(
            {
                "load_from": [
                    {
                        "python_module": {
                            "module_name": "ownlay_pipelines.definitions",
                            "location_name": "ownlay_pipelines",
                            "working_directory": str(REPO_ROOT),
                        }
                    }
                ]
            }
        )
    )
    return path


def write_meta_google_registry(path: Path) -> Path:
    """A registry of one Growth workspace (acme-outdoor) with a Meta and a Google Ads account."""
    path.write_text(
        yaml.safe_dump(
            {
                "workspaces": [
                    {
                        "id": "acme-outdoor",
                        "name": "Acme Outdoor Co.",
                        "tier": "growth",
                        "timezone": "America/New_York",
                        "currency": "USD",
                        "connections": [
                            {"platform": "meta_ads", "account_id": "1000000001"},
                            {"platform": "google_ads", "account_id": "1234567890"},
                        ],
                    }
                ]
            }
        )
    )
    return path
