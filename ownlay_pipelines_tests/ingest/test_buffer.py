import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ownlay_pipelines.ingest.buffer import EventBuffer, commit_lock_path, connect_buffer
from ownlay_pipelines.ingest.group_commit import GroupCommitter, WriterClosed
from ownlay_pipelines.ingest.keys import IssuedApiKey
from ownlay_pipelines_tests.ingest.payloads import auth_header, ownlay_event


def test_buffer_file_is_wal_with_full_sync_and_owner_only(tmp_path: Path):
    path = tmp_path / "buffer.sqlite"
    connection = connect_buffer(path)

    assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert connection.execute("PRAGMA synchronous").fetchone() == (2,)  # 2 = FULL
    assert path.stat().st_mode & 0o777 == 0o600
    connection.close()


def test_writes_queued_while_a_commit_runs_share_the_next_commit_off_the_event_loop(
    tmp_path: Path,
):
    path = tmp_path / "buffer.sqlite"
    connection = connect_buffer(path)
    connection.execute("CREATE TABLE t (n INTEGER)")
    commits = []
    connection.set_trace_callback(lambda sql: commits.append(sql) if sql == "COMMIT" else None)
    committer = GroupCommitter(connection)
    release = threading.Event()
    writer_threads = set()

    def blocking_write(c: sqlite3.Connection) -> None:
        writer_threads.add(threading.get_ident())
        release.wait(timeout=10)
        c.execute("INSERT INTO t VALUES (-1)")

    async def requests() -> None:
        first = committer.submit(blocking_write)
        await asyncio.sleep(0.05)  # the writer thread is now inside the first transaction
        queued = [
            committer.submit(lambda c, n=n: c.execute("INSERT INTO t VALUES (?)", (n,)))
            for n in range(50)
        ]
        release.set()
        await asyncio.gather(first, *queued)
        await committer.submit(lambda c: c.execute("INSERT INTO t VALUES (50)"))

    asyncio.run(requests())
    committer.close()

    assert connect_buffer(path).execute("SELECT count(*) FROM t").fetchone() == (52,)
    assert len(commits) == 3  # the blocking write, the 50 queued behind it, the last one
    assert writer_threads and threading.get_ident() not in writer_threads


def test_a_failed_commit_fails_every_write_of_its_group_and_the_next_group_succeeds(
    tmp_path: Path,
):
    path = tmp_path / "buffer.sqlite"
    connection = connect_buffer(path)
    connection.execute("CREATE TABLE t (n INTEGER)")
    committer = GroupCommitter(connection)

    async def requests() -> list:
        group = [
            committer.submit(lambda c: c.execute("INSERT INTO t VALUES (1)")),
            committer.submit(lambda c: c.execute("INSERT INTO missing VALUES (1)")),
        ]
        outcomes = await asyncio.gather(*group, return_exceptions=True)
        await committer.submit(lambda c: c.execute("INSERT INTO t VALUES (2)"))
        return outcomes

    outcomes = asyncio.run(requests())
    committer.close()

    assert all(isinstance(outcome, sqlite3.OperationalError) for outcome in outcomes)
    assert connect_buffer(path).execute("SELECT n FROM t").fetchall() == [(2,)]
    with pytest.raises(WriterClosed):
        asyncio.run(_submit_nothing(committer))


async def _submit_nothing(committer: GroupCommitter) -> None:
    await committer.submit(lambda c: None)


def test_request_whose_commit_failed_gets_503_so_the_sender_retries(
    client: TestClient, acme_key: IssuedApiKey, monkeypatch
):
    def failing_append(self: EventBuffer, workspace_id: str, rows: list) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        future.set_exception(sqlite3.OperationalError("disk I/O error"))
        return future

    monkeypatch.setattr(EventBuffer, "append_events", failing_append)

    response = client.post(
        "/api/v1/events", json=ownlay_event(), headers=auth_header(acme_key.plaintext)
    )

    assert response.status_code == 503
    assert response.json() == {
        "error": "buffer_unavailable",
        "message": "events were not stored; retry",
    }


def test_a_second_writer_prepares_its_group_while_the_first_commits_then_waits_for_the_lock(
    tmp_path: Path,
):
    path = tmp_path / "buffer.sqlite"
    first_connection = connect_buffer(path)
    first_connection.execute("CREATE TABLE t (n INTEGER)")
    second_connection = connect_buffer(path)
    commits = []
    second_connection.set_trace_callback(
        lambda sql: commits.append(sql) if sql == "COMMIT" else None
    )
    prepared: list[list[int]] = []
    lock = commit_lock_path(path)
    first = GroupCommitter(first_connection, lock_path=lock)
    second = GroupCommitter(
        second_connection,
        prepare=lambda payloads: prepared.append(payloads) or len(payloads),
        before_commit=lambda c, size: c.execute("INSERT INTO t VALUES (?)", (1000 + size,)),
        lock_path=lock,
    )
    release = threading.Event()

    def blocking_write(c: sqlite3.Connection) -> None:
        release.wait(timeout=10)
        c.execute("INSERT INTO t VALUES (-1)")

    async def requests() -> tuple[list[list[int]], list[str]]:
        held = first.submit(blocking_write)
        await asyncio.sleep(0.05)  # the first writer holds the commit lock
        queued = [
            second.submit(lambda c, n=n: c.execute("INSERT INTO t VALUES (?)", (n,)), payload=n)
            for n in range(20)
        ]
        await asyncio.sleep(0.05)
        seen_before_release = ([list(p) for p in prepared], list(commits))
        release.set()
        await asyncio.gather(held, *queued)
        return seen_before_release

    prepared_before, commits_before = asyncio.run(requests())
    first.close()
    second.close()

    assert commits_before == []  # nothing of the second writer committed under the first's lock
    assert prepared_before and prepared_before[0][0] == 0  # …but its group was prepared meanwhile
    assert [n for group in prepared for n in group] == list(range(20))
    rows = connect_buffer(path).execute("SELECT n FROM t").fetchall()
    assert sorted(n for (n,) in rows if 0 <= n < 1000) == list(range(20))
    # One before_commit per group, each handed its group's `prepare` result.
    assert sorted(n - 1000 for (n,) in rows if n >= 1000) == sorted(len(g) for g in prepared)
    assert len(commits) == len(prepared)
    assert lock.stat().st_mode & 0o777 == 0o600


def test_a_group_whose_preparation_fails_fails_every_write_and_commits_nothing(tmp_path: Path):
    path = tmp_path / "buffer.sqlite"
    connection = connect_buffer(path)
    connection.execute("CREATE TABLE t (n INTEGER)")
    disk_full = [True]

    def prepare(payloads: list) -> None:
        if disk_full[0]:
            raise OSError(28, "No space left on device")

    committer = GroupCommitter(connection, prepare=prepare)

    async def requests() -> list:
        group = [
            committer.submit(lambda c, n=n: c.execute("INSERT INTO t VALUES (?)", (n,)), n)
            for n in (1, 2)
        ]
        outcomes = await asyncio.gather(*group, return_exceptions=True)
        disk_full[0] = False
        await committer.submit(lambda c: c.execute("INSERT INTO t VALUES (3)"), 3)
        return outcomes

    outcomes = asyncio.run(requests())
    committer.close()

    assert [type(outcome) for outcome in outcomes] == [OSError, OSError]
    assert connect_buffer(path).execute("SELECT n FROM t").fetchall() == [(3,)]
