"""Group commit: every write submitted during one turn of the event loop shares one transaction.

Requests never wait for each other's fsync one by one: the first write of a turn schedules a commit
at the end of the turn, and the requests handled meanwhile join it, so the cost of
`synchronous=FULL` is shared (reference/perf_reliability.md §3.5: where fsync costs 1 ms,
per-request commits cap at about 1,000 requests/s). The commit runs on the event loop itself: a
writer thread was measured slower here, because handing the GIL between the loop and the thread
costs milliseconds under load. A request is answered only after its commit returned.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass
class _Write:
    apply: Callable[[sqlite3.Connection], Any]
    done: asyncio.Future[Any]


class WriterClosed(RuntimeError):
    """The buffer was closed; nothing more can be acknowledged."""


class GroupCommitter:
    """Runs write callbacks on one SQLite connection, one transaction per event-loop turn."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection
        self._pending: list[_Write] = []
        self._closed = False

    def submit(self, apply: Callable[[sqlite3.Connection], T]) -> asyncio.Future[T]:
        """Queue `apply`; the future resolves with its result once its transaction committed."""
        if self._closed:
            raise WriterClosed("the event buffer is closed")
        loop = asyncio.get_running_loop()
        done: asyncio.Future[T] = loop.create_future()
        self._pending.append(_Write(apply, done))
        if len(self._pending) == 1:
            loop.call_soon(self.commit_pending)
        return done

    def commit_pending(self) -> None:
        """Commit every queued write in one transaction and resolve their futures."""
        group, self._pending = self._pending, []
        if not group:
            return
        try:
            self._connection.execute("BEGIN IMMEDIATE")
            results = [write.apply(self._connection) for write in group]
            self._connection.execute("COMMIT")
        except Exception as error:
            # Nothing of the group is durable, so every request in it must hear so (and get a 503).
            if self._connection.in_transaction:
                self._connection.execute("ROLLBACK")
            for write in group:
                if not write.done.done():
                    write.done.set_exception(error)
            return
        for write, result in zip(group, results, strict=True):
            if not write.done.done():
                write.done.set_result(result)

    def close(self) -> None:
        """Commit what is queued, then close the connection."""
        self.commit_pending()
        self._closed = True
        self._connection.close()
