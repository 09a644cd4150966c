"""Seed 000's per-workspace ingest limit (1,000 events/s by default) as a token bucket.

Each workspace's bucket holds at most one second of its rate and refills continuously; a request
takes one token per event. A request that does not fit is refused whole with the seconds until it
would, which the endpoint answers as 429 with `Retry-After` (nothing is stored, so a retry is
safe). A rate of 0 turns the limit off. The buckets live in this process, or — with several
worker processes — in the table they share (`shared_buckets`), so the limit holds for the
workspace across all of them.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from ownlay_pipelines.ingest.shared_buckets import SharedBuckets, Spend


class _ProcessBuckets:
    """The buckets of a single-process service: a dict under a lock, spent like `SharedBuckets`."""

    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def spend(self, workspace_id: str, now: float, full: float, spend: Spend) -> int | None:
        with self._lock:
            tokens, updated = self._buckets.get(workspace_id, (full, now))
            left, wait = spend(tokens, now - updated)
            self._buckets[workspace_id] = (left, now)
            return wait

    def close(self) -> None:
        """Nothing to let go of."""


class WorkspaceRateLimiter:
    """Token buckets per workspace; `take` may be called from the loop and worker threads."""

    def __init__(
        self,
        events_per_second: float,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        shared: SharedBuckets | None = None,
    ) -> None:
        """`shared`: the bucket table of all the service's worker processes (none: this
        process's own buckets)."""
        self.events_per_second = events_per_second
        self._monotonic = monotonic
        self._buckets: SharedBuckets | _ProcessBuckets = shared or _ProcessBuckets()

    def take(self, workspace_id: str, events: int) -> int | None:
        """Spend `events` tokens; None when allowed, else whole seconds to wait before retrying.

        A request larger than one second's worth can never fit; it waits for a full bucket and
        is then allowed, so a big batch is slowed, never refused forever.
        """
        rate = self.events_per_second
        if rate <= 0:
            return None
        return self._buckets.spend(
            workspace_id,
            self._monotonic(),
            rate,
            lambda tokens, elapsed: _spend(tokens, elapsed, rate, events),
        )

    def close(self) -> None:
        """Let go of the shared bucket table, if any."""
        self._buckets.close()


def _spend(tokens: float, elapsed: float, rate: float, events: int) -> tuple[float, int | None]:
    """A bucket holding `tokens` `elapsed` seconds ago, asked for `events`: the tokens it holds
    now and None when they were spent, else the same tokens and whole seconds to wait."""
    tokens = min(rate, tokens + elapsed * rate)
    needed = min(float(events), rate)
    if tokens >= needed:
        return tokens - events, None
    return tokens, max(1, math.ceil((needed - tokens) / rate))
