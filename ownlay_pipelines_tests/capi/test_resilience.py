"""Seed 002's resilience for CAPI: breaker 5 failures / 60 s / 3 half-open calls, retries 1-2-4 s."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ownlay_pipelines.capi.conversions import Conversion
from ownlay_pipelines.capi.senders import sender_for
from ownlay_pipelines.capi.wire import WireEvent, build_event
from ownlay_pipelines.http.circuit_breaker import BreakerState, CircuitBreaker
from ownlay_pipelines.http.clock import FakeClock
from ownlay_pipelines.http.errors import CircuitOpen
from ownlay_pipelines.sandbox.capi import SNAPCHAT_HOST, CapiSandbox
from ownlay_pipelines_tests.capi.destinations import DESTINATIONS, ENV, NOW

SNAP = next(d for d in DESTINATIONS if d.id == "snap-capi")


def _open_capi_breaker(clock: FakeClock) -> CircuitBreaker:
    """The breaker a CAPI sender builds, tripped by five retryable failures."""
    breaker = sender_for(SNAP, clock=clock, environ=ENV).breaker
    for _ in range(5):
        breaker.before_call()
        breaker.record_failure()
    return breaker


def test_capi_breaker_opens_after_five_failures_for_sixty_seconds() -> None:
    clock = FakeClock(NOW)
    breaker = _open_capi_breaker(clock)
    assert breaker.state is BreakerState.OPEN
    with pytest.raises(CircuitOpen, match="after 5 consecutive failures"):
        breaker.before_call()
    clock.advance(59.9)
    assert breaker.state is BreakerState.OPEN
    clock.advance(0.1)
    assert breaker.state is BreakerState.HALF_OPEN


def test_three_half_open_successes_close_the_circuit_and_a_fourth_call_waits() -> None:
    clock = FakeClock(NOW)
    breaker = _open_capi_breaker(clock)
    clock.advance(60)
    for _ in range(3):
        breaker.before_call()  # three trial calls let through
    with pytest.raises(CircuitOpen, match="all 3 trial calls"):
        breaker.before_call()
    breaker.record_success()
    breaker.record_success()
    assert breaker.state is BreakerState.HALF_OPEN  # two of three trials succeeded
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    breaker.before_call()


def test_sequential_trials_close_only_after_the_third_success() -> None:
    clock = FakeClock(NOW)
    breaker = _open_capi_breaker(clock)
    clock.advance(60)
    for expected in (BreakerState.HALF_OPEN, BreakerState.HALF_OPEN, BreakerState.CLOSED):
        breaker.before_call()
        breaker.record_success()
        assert breaker.state is expected


@pytest.mark.parametrize("successes_before", [0, 2])
def test_a_failed_trial_reopens_for_another_full_period(successes_before: int) -> None:
    clock = FakeClock(NOW)
    breaker = _open_capi_breaker(clock)
    clock.advance(60)
    for _ in range(successes_before):
        breaker.before_call()
        breaker.record_success()
    breaker.before_call()
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    clock.advance(59)
    assert breaker.state is BreakerState.OPEN
    clock.advance(1)
    assert breaker.state is BreakerState.HALF_OPEN
    for _ in range(3):  # a fresh half-open period has its three trials again
        breaker.before_call()


def test_default_breaker_still_lets_one_trial_through() -> None:
    clock = FakeClock(NOW)
    breaker = CircuitBreaker(failure_threshold=1, reset_seconds=60.0, clock=clock)
    breaker.before_call()
    breaker.record_failure()
    clock.advance(60)
    breaker.before_call()
    with pytest.raises(CircuitOpen, match="a trial call is in flight"):
        breaker.before_call()
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED


def test_half_open_calls_must_be_positive() -> None:
    with pytest.raises(ValueError, match="half_open_max_calls must be at least 1"):
        CircuitBreaker(half_open_max_calls=0)


def _snap_events(count: int) -> list[WireEvent]:
    conversions = [
        Conversion(
            workspace_id="rive-gauche",
            event_id=f"order-{i}",
            event_type="purchase",
            event_time=NOW - timedelta(minutes=i),
            marketing_consent=True,
            email=f"buyer{i}@example.com",
            ip="203.0.113.9",
            user_agent="Mozilla/5.0",
        )
        for i in range(count)
    ]
    return [build_event(c, SNAP, "PURCHASE", default_region="FR", now=NOW) for c in conversions]


def test_retryable_errors_wait_exactly_one_two_four_seconds_then_give_up() -> None:
    sandbox = CapiSandbox([])
    sandbox.fail_next[SNAPCHAT_HOST] += [503, 503, 503, 503]
    clock = FakeClock(NOW)
    with sender_for(SNAP, transport=sandbox.transport(), clock=clock, environ=ENV) as sender:
        result = sender.send(_snap_events(2))
    assert clock.sleeps == [1.0, 2.0, 4.0]
    assert [r.status for r in result.results] == [None, None]  # retried later from the outbox


def test_a_retry_that_succeeds_stops_the_back_off() -> None:
    sandbox = CapiSandbox([])
    sandbox.fail_next[SNAPCHAT_HOST] += [502, 503]
    clock = FakeClock(NOW)
    with sender_for(SNAP, transport=sandbox.transport(), clock=clock, environ=ENV) as sender:
        result = sender.send(_snap_events(2))
    assert clock.sleeps == [1.0, 2.0]
    assert [r.status.value for r in result.results] == ["accepted", "accepted"]
