"""Client-side request budgets, so we stay under a platform's published limits instead of hitting them.

Platforms publish several limits at once (Google Ads: 1,500 requests per 100 s and a daily
operations budget; Meta: calls per hour per ad account, reference/connectors.md §0), so a bucket
holds one token pool per limit and a request needs a token from every pool.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

from ownlay_pipelines.http.clock import Clock


@dataclass(frozen=True)
class RateLimit:
    """At most `requests` calls in any `per_seconds` window, refilled smoothly."""

    requests: int
    per_seconds: float

    def __post_init__(self) -> None:
        if self.requests < 1:
            raise ValueError(f"a rate limit needs at least 1 request, got {self.requests}")
        if self.per_seconds <= 0:
            raise ValueError(f"a rate limit window must be positive, got {self.per_seconds} s")

    @property
    def tokens_per_second(self) -> float:
        """How fast the pool refills."""
        return self.requests / self.per_seconds


class _Pool:
    """The tokens of one limit; may go negative, which means callers have reserved future tokens."""

    def __init__(self, limit: RateLimit, now: float) -> None:
        self.limit = limit
        self.tokens = float(limit.requests)
        self.updated_at = now

    def refill(self, now: float) -> None:
        elapsed = now - self.updated_at
        self.tokens = min(
            float(self.limit.requests), self.tokens + elapsed * self.limit.tokens_per_second
        )
        self.updated_at = now

    def seconds_until_token(self, needed: float = 1.0) -> float:
        return max(0.0, (needed - self.tokens) / self.limit.tokens_per_second)


class TokenBucket:
    """A request budget honouring every limit in `limits` at once; starts full."""

    def __init__(self, limits: Sequence[RateLimit], clock: Clock) -> None:
        self.limits = tuple(limits)
        self._clock = clock
        now = clock.monotonic()
        self._pools = [_Pool(limit, now) for limit in self.limits]
        self._lock = threading.Lock()

    def acquire(self, tokens: float = 1.0) -> float:
        """Take `tokens` (one request, or a batch's events) from every limit, sleeping until all
        have them; return the seconds slept. A weight above a pool's size waits for the debt."""
        # Reserve under the lock, sleep outside it: each thread's token is debited at once (pools
        # may go negative), so concurrent callers queue behind each other without holding the lock.
        with self._lock:
            now = self._clock.monotonic()
            for pool in self._pools:
                pool.refill(now)
            wait_seconds = max(
                (pool.seconds_until_token(tokens) for pool in self._pools), default=0.0
            )
            for pool in self._pools:
                pool.tokens -= tokens
        if wait_seconds > 0:
            self._clock.sleep(wait_seconds)
        return wait_seconds


class RateLimiterRegistry:
    """Hands out one shared TokenBucket per (platform, account) so clients in a process share it."""

    def __init__(self) -> None:
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self._lock = threading.Lock()

    def bucket(
        self, platform: str, account_id: str, limits: Sequence[RateLimit], clock: Clock
    ) -> TokenBucket:
        """The bucket for `platform`/`account_id`, created with `limits` and `clock` on first use."""
        key = (platform, account_id)
        with self._lock:
            existing = self._buckets.get(key)
            if existing is None:
                existing = self._buckets[key] = TokenBucket(limits, clock)
            elif existing.limits != tuple(limits):
                raise ValueError(
                    f"{platform}/{account_id} already has a rate limiter with {existing.limits}; "
                    f"a second client asked for {tuple(limits)} (give every client the same limits)"
                )
            return existing
