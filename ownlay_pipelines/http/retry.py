"""How long to wait before retrying a failed call, and when to stop and let the scheduler retry.

Server-guided waits beat blind backoff (reference/connectors.md §4, behaviour 5): a `Retry-After`
or a body hint is honoured as given; without one we back off exponentially with full jitter. A
wait too long to sleep through (quota resets in hours) ends the call with RetryBudgetExhausted so
the run fails fast and is rescheduled instead of holding a worker.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from ownlay_pipelines.http.errors import ApiError, RateLimited, RetryBudgetExhausted

# 2**62 seconds is already far beyond any max_delay; capping the exponent keeps the float finite.
_MAX_BACKOFF_EXPONENT = 62


@dataclass(frozen=True)
class RetryPolicy:
    """Limits on retrying one request: attempts, backoff range, total time and longest server wait."""

    max_attempts: int = 5
    base_delay_seconds: float = 1.0
    max_delay_seconds: float = 60.0
    total_budget_seconds: float = 900.0
    max_server_wait_seconds: float = 3600.0
    jitter: bool = True
    """False waits exactly base·2^(n-1) (seed 002's CAPI delays 1, 2, 4 s) instead of full jitter."""

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")


def backoff_seconds(attempt: int, policy: RetryPolicy, rng: random.Random) -> float:
    """A full-jitter delay after failed attempt `attempt` (1-based): uniform in [0, base·2^(n-1)],
    or exactly base·2^(n-1) when the policy has no jitter.

    The upper bound is capped at `policy.max_delay_seconds`.
    """
    exponent = min(max(attempt - 1, 0), _MAX_BACKOFF_EXPONENT)
    ceiling = min(policy.max_delay_seconds, policy.base_delay_seconds * 2.0**exponent)
    return rng.uniform(0.0, ceiling) if policy.jitter else ceiling


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """Seconds a `Retry-After` header asks for (delta-seconds or HTTP-date), None if absent/garbled."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        # RFC 9110 HTTP-dates are always GMT; "-0000" parses as naive.
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def next_delay_seconds(
    error: ApiError,
    *,
    attempt: int,
    elapsed_seconds: float,
    policy: RetryPolicy,
    rng: random.Random,
) -> float:
    """Seconds to wait before retrying after `error` ended attempt `attempt` (1-based).

    Raises RetryBudgetExhausted when attempts are used up, when the server asks for more than
    `max_server_wait_seconds`, or when waiting would overrun `total_budget_seconds` counted from
    the first attempt (`elapsed_seconds` so far). Nothing is slept here.
    """
    server_wait = error.wait_seconds if isinstance(error, RateLimited) else None
    if attempt >= policy.max_attempts:
        reason = f"gave up after {attempt} attempts"
    elif server_wait is not None and server_wait > policy.max_server_wait_seconds:
        reason = (
            f"the server asked to wait {server_wait:.0f} s, more than the "
            f"{policy.max_server_wait_seconds:.0f} s we sleep through; reschedule the run"
        )
    else:
        delay = server_wait if server_wait is not None else backoff_seconds(attempt, policy, rng)
        if elapsed_seconds + delay <= policy.total_budget_seconds:
            return delay
        reason = (
            f"waiting {delay:.1f} s more after {elapsed_seconds:.1f} s would overrun the "
            f"{policy.total_budget_seconds:.0f} s retry budget"
        )
    raise RetryBudgetExhausted(
        f"{reason}; last error: {error.message}",
        last_error=error,
        platform=error.platform,
        account_id=error.account_id,
        status=error.status,
        code=error.code,
    ) from error
