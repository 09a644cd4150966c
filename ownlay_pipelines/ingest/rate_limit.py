"""Seed 000's per-workspace ingest limit (1,000 events/s by default) as a token bucket.

Each workspace's bucket holds at most one second of its rate and refills continuously; a request
takes one token per event. A request that does not fit is refused whole with the seconds until it
would, which the endpoint answers as 429 with `Retry-After` (nothing is stored, so a retry is
safe). A rate of 0 turns the limit off.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


class WorkspaceRateLimiter:
    """Token buckets per workspace; `take` may be called from the loop and worker threads."""

    def __init__(
        self, events_per_second: float, *, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.events_per_second = events_per_second
        self._monotonic = monotonic
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, workspace_id: str, events: int) -> int | None:
        """Spend `events` tokens; None when allowed, else whole seconds to wait before retrying.

        A request larger than one second's worth can never fit; it waits for a full bucket and
        is then allowed, so a big batch is slowed, never refused forever.
        """
        rate = self.events_per_second
        if rate <= 0:
            return None
        with self._lock:
            return self._take(workspace_id, events, rate)

    def _take(self, workspace_id: str, events: int, rate: float) -> int | None:
        now = self._monotonic()
        bucket = self._buckets.get(workspace_id)
        if bucket is None:
            bucket = self._buckets[workspace_id] = _Bucket(tokens=rate, updated=now)
        bucket.tokens = min(rate, bucket.tokens + (now - bucket.updated) * rate)
        bucket.updated = now
        needed = min(float(events), rate)
        if bucket.tokens >= needed:
            bucket.tokens -= events
            return None
        return max(1, math.ceil((needed - bucket.tokens) / rate))
