from __future__ import annotations

import pytest

from ownlay_pipelines.http.circuit_breaker import BreakerState, CircuitBreaker
from ownlay_pipelines.http.clock import FakeClock
from ownlay_pipelines.http.errors import CircuitOpen


def _tripped(clock: FakeClock) -> CircuitBreaker:
    breaker = CircuitBreaker(failure_threshold=3, reset_seconds=60.0, clock=clock)
    for _ in range(3):
        breaker.before_call()
        breaker.record_failure()
    return breaker


def test_breaker_opens_after_threshold_consecutive_failures_and_says_when_it_reopens(
    clock: FakeClock,
) -> None:
    breaker = _tripped(clock)
    clock.advance(15.0)

    assert breaker.state is BreakerState.OPEN
    with pytest.raises(CircuitOpen) as raised:
        breaker.before_call()
    assert "after 3 consecutive failures" in str(raised.value)
    assert "in 45.0 s (at 2026-01-01T00:01:00+00:00)" in str(raised.value)


def test_a_success_resets_the_failure_count(clock: FakeClock) -> None:
    breaker = CircuitBreaker(failure_threshold=3, reset_seconds=60.0, clock=clock)
    for failed in [True, True, False, True, True]:
        breaker.before_call()
        if failed:
            breaker.record_failure()
        else:
            breaker.record_success()

    assert breaker.state is BreakerState.CLOSED


def test_after_reset_seconds_half_open_lets_exactly_one_trial_call_through(
    clock: FakeClock,
) -> None:
    breaker = _tripped(clock)
    clock.advance(60.0)

    assert breaker.state is BreakerState.HALF_OPEN
    breaker.before_call()
    with pytest.raises(CircuitOpen, match="trial call is in flight"):
        breaker.before_call()


def test_successful_trial_closes_the_circuit(clock: FakeClock) -> None:
    breaker = _tripped(clock)
    clock.advance(60.0)
    breaker.before_call()

    breaker.record_success()

    assert breaker.state is BreakerState.CLOSED
    breaker.before_call()


def test_failed_trial_opens_the_circuit_for_another_full_period(clock: FakeClock) -> None:
    breaker = _tripped(clock)
    clock.advance(60.0)
    breaker.before_call()

    breaker.record_failure()
    clock.advance(59.0)

    assert breaker.state is BreakerState.OPEN
    clock.advance(1.0)
    assert breaker.state is BreakerState.HALF_OPEN
