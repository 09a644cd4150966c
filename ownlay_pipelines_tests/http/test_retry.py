from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from ownlay_pipelines.http.errors import RateLimited, RetryBudgetExhausted, TransientError
from ownlay_pipelines.http.retry import (
    RetryPolicy,
    backoff_seconds,
    next_delay_seconds,
    retry_after_seconds,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("attempt", "ceiling"), [(1, 1.0), (2, 2.0), (3, 4.0), (6, 32.0), (7, 60.0)]
)
def test_backoff_is_full_jitter_below_a_doubling_ceiling_capped_at_max_delay(
    attempt: int, ceiling: float
) -> None:
    rng = random.Random(42)
    draws = [backoff_seconds(attempt, RetryPolicy(), rng) for _ in range(2000)]

    assert min(draws) >= 0.0
    assert max(draws) <= ceiling
    # Full jitter spreads over the whole range, not just near the ceiling.
    assert min(draws) < 0.01 * ceiling
    assert max(draws) > 0.99 * ceiling


def test_backoff_with_the_same_seed_is_reproducible() -> None:
    policy = RetryPolicy(base_delay_seconds=2.0)

    first = [backoff_seconds(n, policy, random.Random(7)) for n in range(1, 6)]
    second = [backoff_seconds(n, policy, random.Random(7)) for n in range(1, 6)]

    assert first == second


def test_backoff_of_a_huge_attempt_number_stays_at_max_delay() -> None:
    assert backoff_seconds(10_000, RetryPolicy(), random.Random(1)) <= 60.0


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (" 5 ", 5.0),
        ("Thu, 01 Jan 2026 00:02:00 GMT", 120.0),
        ("Wed, 31 Dec 2025 23:00:00 GMT", 0.0),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_reads_seconds_or_an_http_date(
    header: str | None, seconds: float | None
) -> None:
    assert retry_after_seconds(header, NOW) == seconds


def _next(error: TransientError | RateLimited, attempt: int = 1, elapsed: float = 0.0) -> float:
    return next_delay_seconds(
        error,
        attempt=attempt,
        elapsed_seconds=elapsed,
        policy=RetryPolicy(total_budget_seconds=900.0, max_server_wait_seconds=3600.0),
        rng=random.Random(3),
    )


def test_server_wait_is_used_instead_of_backoff() -> None:
    assert _next(RateLimited("slow down", wait_seconds=42.0), attempt=4) == 42.0


def test_rate_limited_without_a_hint_backs_off() -> None:
    assert 0.0 <= _next(RateLimited("slow down"), attempt=3) <= 4.0


def test_server_wait_beyond_the_cap_gives_up_with_the_cause() -> None:
    error = RateLimited("daily quota", wait_seconds=7200.0, platform="ga4", account_id="p1")

    with pytest.raises(RetryBudgetExhausted) as raised:
        _next(error)

    assert raised.value.last_error is error
    assert (raised.value.platform, raised.value.account_id) == ("ga4", "p1")
    assert "asked to wait 7200 s, more than the 3600 s" in str(raised.value)


def test_a_wait_that_would_overrun_the_total_budget_gives_up() -> None:
    with pytest.raises(RetryBudgetExhausted, match="overrun the 900 s retry budget"):
        _next(RateLimited("slow down", wait_seconds=120.0), elapsed=800.0)


def test_the_last_attempt_gives_up_whatever_the_wait() -> None:
    with pytest.raises(RetryBudgetExhausted, match="gave up after 5 attempts"):
        _next(TransientError("HTTP 503"), attempt=5)
