"""Group commit on a writer thread: every write queued while a commit runs shares the next one.

Requests never wait for each other's fsync one by one (reference/perf_reliability.md §3.5: where
fsync costs 1 ms, per-request commits cap at about 1,000 requests/s). The writer thread owns the
SQLite connection: it takes every queued write, runs them in one transaction, commits (the fsync
releases the GIL, so the event loop keeps parsing and validating meanwhile) and resolves each
write's future on the loop that submitted it. A request is answered only after its commit returned.

Several writers on one file (one per uvicorn worker) take turns through a `flock` on a commit lock
file, held only for the group's transaction: a waiting writer is woken the moment the lock is free.
Without it they meet at SQLite's write lock, whose busy handler polls with sleeps growing to 100
ms, so a writer that keeps missing the instant the other releases it waits seconds (bench/README.md,
Ingestion). What a group needs before its transaction and not from the database (`prepare`: the
event buffer builds and fsyncs its Arrow batch there) runs before the lock is taken, so one
writer's preparation overlaps the other's commit and the turns stay as short as a commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass
class _Write:
    apply: Callable[[sqlite3.Connection], Any]
    payload: Any
    done: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop


class WriterClosed(RuntimeError):
    """The buffer was closed; nothing more can be acknowledged."""


_STOP = None


class GroupCommitter:
    """Runs write callbacks on one SQLite connection in a thread, one transaction per group."""

    def __init__(
        self,
        connection: sqlite3.Connection,
        *,
        prepare: Callable[[list[Any]], Any] | None = None,
        before_commit: Callable[[sqlite3.Connection, Any], None] | None = None,
        after_rollback: Callable[[], None] | None = None,
        lock_path: Path | None = None,
    ) -> None:
        """`prepare` runs on the payloads of a group's writes before its transaction, outside the
        commit lock; `before_commit` runs after the group's writes, in its transaction, with what
        `prepare` returned (to store what they gathered); `after_rollback` runs when a group failed
        (to forget it); `lock_path` is the commit lock file shared by every writer of the same
        database (none: the only writer)."""
        self._connection = connection
        self._lock_fd = (
            None if lock_path is None else os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        )
        self._prepare = prepare
        self._before_commit = before_commit
        self._after_rollback = after_rollback
        self._queue: queue.SimpleQueue[_Write | None] = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="event-buffer-writer", daemon=True)
        self._thread.start()

    def submit(
        self, apply: Callable[[sqlite3.Connection], T], payload: Any = None
    ) -> asyncio.Future[T]:
        """Queue `apply` (with `payload` for `prepare`); the future resolves with its result once
        its transaction committed."""
        if self._closed:
            raise WriterClosed("the event buffer is closed")
        loop = asyncio.get_running_loop()
        done: asyncio.Future[T] = loop.create_future()
        self._queue.put(_Write(apply, payload, done, loop))
        return done

    def close(self) -> None:
        """Commit what is queued, stop the thread, then close the connection."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        self._thread.join()
        self._connection.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)

    def _run(self) -> None:
        while True:
            group, stop = self._drain(self._queue.get())
            if group:
                self._prepare_and_commit(group)
            if stop:
                return

    def _prepare_and_commit(self, group: list[_Write]) -> None:
        try:
            prepared = None if self._prepare is None else self._prepare([w.payload for w in group])
        except Exception as error:
            _resolve(group, error=error)
            return
        with self._commit_turn():
            self._commit(group, prepared)

    @contextlib.contextmanager
    def _commit_turn(self) -> Iterator[None]:
        """Hold the commit lock shared with the other writers (flock releases the GIL waiting)."""
        if self._lock_fd is None:
            yield
            return
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _drain(self, first: _Write | None) -> tuple[list[_Write], bool]:
        """The first write plus everything queued behind it, and whether close() was asked."""
        group = [] if first is _STOP else [first]
        stop = first is _STOP
        while not stop:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is _STOP:
                stop = True
            else:
                group.append(item)
        return [write for write in group if write is not None], stop

    def _commit(self, group: list[_Write], prepared: Any) -> None:
        try:
            self._connection.execute("BEGIN IMMEDIATE")
            results = [write.apply(self._connection) for write in group]
            if self._before_commit is not None:
                self._before_commit(self._connection, prepared)
            self._connection.execute("COMMIT")
        except Exception as error:
            # Nothing of the group is durable, so every request in it must hear so (and get a 503).
            if self._connection.in_transaction:
                self._connection.execute("ROLLBACK")
            if self._after_rollback is not None:
                self._after_rollback()
            _resolve(group, error=error)
            return
        _resolve(group, results=results)


def _resolve(
    group: list[_Write], *, results: list[Any] | None = None, error: BaseException | None = None
) -> None:
    """Settle every write's future — with its result, or all with `error` — on the loop that
    submitted it: one thread-safe call per loop and group, not one per write."""
    outcomes = results if results is not None else [None] * len(group)
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Write, Any]]] = {}
    for write, result in zip(group, outcomes, strict=True):
        by_loop.setdefault(write.loop, []).append((write, result))
    for loop, settled in by_loop.items():
        # A closed loop raises RuntimeError: nobody is waiting for these answers any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(_settle, settled, error)


def _settle(settled: list[tuple[_Write, Any]], error: BaseException | None) -> None:
    for write, result in settled:
        if write.done.done():
            continue  # The request was cancelled (client went away); its rows are stored anyway.
        if error is not None:
            write.done.set_exception(error)
        else:
            write.done.set_result(result)
