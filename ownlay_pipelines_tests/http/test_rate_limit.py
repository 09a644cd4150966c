from __future__ import annotations

import pytest

from ownlay_pipelines.http.clock import FakeClock
from ownlay_pipelines.http.rate_limit import RateLimit, RateLimiterRegistry, TokenBucket


def test_bucket_starts_full_so_a_burst_up_to_the_limit_does_not_wait(clock: FakeClock) -> None:
    bucket = TokenBucket([RateLimit(3, 1.0)], clock)

    waits = [bucket.acquire() for _ in range(3)]

    assert waits == [0.0, 0.0, 0.0]
    assert clock.sleeps == []


def test_meta_hourly_limit_lets_200_calls_through_then_spaces_calls_18_seconds_apart(
    clock: FakeClock,
) -> None:
    bucket = TokenBucket([RateLimit(200, 3600.0)], clock)

    for _ in range(200):
        bucket.acquire()
    waits = [bucket.acquire() for _ in range(2)]

    assert waits == pytest.approx([18.0, 18.0])
    assert clock.monotonic() == pytest.approx(36.0)


def test_bucket_with_two_limits_waits_until_every_limit_has_a_token(clock: FakeClock) -> None:
    # 2 per second (refill 2/s) and 3 per 30 s (refill 0.1/s), both starting full.
    bucket = TokenBucket([RateLimit(2, 1.0), RateLimit(3, 30.0)], clock)

    waits = [bucket.acquire() for _ in range(5)]

    # Calls 1-2 use the burst; call 3 waits for the per-second limit (0.5 s); by then the
    # 30-second pool is empty, so call 4 waits for it (0.95 tokens at 0.1/s = 9.5 s) and call 5
    # for a whole token (10 s).
    assert waits == pytest.approx([0.0, 0.0, 0.5, 9.5, 10.0])
    assert clock.sleeps == pytest.approx([0.5, 9.5, 10.0])


def test_idle_time_refills_the_bucket_but_not_beyond_its_size(clock: FakeClock) -> None:
    bucket = TokenBucket([RateLimit(2, 10.0)], clock)
    bucket.acquire()
    bucket.acquire()

    clock.advance(3600.0)
    waits = [bucket.acquire() for _ in range(3)]

    assert waits == pytest.approx([0.0, 0.0, 5.0])


def test_registry_shares_one_bucket_per_platform_and_account(clock: FakeClock) -> None:
    registry = RateLimiterRegistry()
    limits = [RateLimit(1500, 100.0), RateLimit(15000, 86400.0)]

    first = registry.bucket("google_ads", "1234567890", limits, clock)
    again = registry.bucket("google_ads", "1234567890", limits, clock)
    other_account = registry.bucket("google_ads", "9876543210", limits, clock)

    assert first is again
    assert other_account is not first


def test_registry_refuses_different_limits_for_an_account_it_already_limits(
    clock: FakeClock,
) -> None:
    registry = RateLimiterRegistry()
    registry.bucket("meta_ads", "act_1", [RateLimit(200, 3600.0)], clock)

    with pytest.raises(ValueError, match="meta_ads/act_1 already has a rate limiter"):
        registry.bucket("meta_ads", "act_1", [RateLimit(100, 3600.0)], clock)


@pytest.mark.parametrize(("requests", "per_seconds"), [(0, 1.0), (5, 0.0)])
def test_rate_limit_refuses_an_empty_budget(requests: int, per_seconds: float) -> None:
    with pytest.raises(ValueError, match="rate limit"):
        RateLimit(requests, per_seconds)
