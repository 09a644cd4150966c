"""Stop calling a platform account that keeps failing, then probe it again after a pause."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

from ownlay_pipelines.http.clock import Clock, SystemClock
from ownlay_pipelines.http.errors import CircuitOpen


class BreakerState(StrEnum):
    """`closed` lets calls through, `open` refuses them, `half_open` lets a few trial calls through."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Opens after `failure_threshold` consecutive retryable failures; retries after `reset_seconds`.

    Half-open, it lets `half_open_max_calls` trial calls through (1 by default; seed 002's CAPI
    connectors use 3): that many successes close the circuit, any failure opens it again for
    another full `reset_seconds`.

    One breaker belongs to one client (one platform account); it is not shared between threads.
    """

    def __init__(
        self,
        failure_threshold: int = 5,
        reset_seconds: float = 60.0,
        clock: Clock | None = None,
        half_open_max_calls: int = 1,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError(f"failure_threshold must be at least 1, got {failure_threshold}")
        if half_open_max_calls < 1:
            raise ValueError(f"half_open_max_calls must be at least 1, got {half_open_max_calls}")
        self.failure_threshold = failure_threshold
        self.reset_seconds = reset_seconds
        self.half_open_max_calls = half_open_max_calls
        self._clock = clock if clock is not None else SystemClock()
        self._consecutive_failures = 0
        self._opened_at: float | None = None
        self._trials = 0
        """Trial calls let through since the circuit turned half-open."""
        self._trial_successes = 0

    @property
    def state(self) -> BreakerState:
        """The current state; an open breaker turns half-open once `reset_seconds` have passed."""
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._clock.monotonic() - self._opened_at >= self.reset_seconds:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def before_call(self) -> None:
        """Allow the next call, or raise CircuitOpen saying when calls resume."""
        state = self.state
        if state is BreakerState.CLOSED:
            return
        if state is BreakerState.HALF_OPEN and self._trials < self.half_open_max_calls:
            self._trials += 1
            return
        raise CircuitOpen(self._refusal(state))

    def record_success(self) -> None:
        """The platform answered: forget earlier failures, and close the circuit unless trial
        calls are under way and fewer than `half_open_max_calls` of them have succeeded."""
        self._consecutive_failures = 0
        if self._trials:
            self._trial_successes += 1
            if self._trial_successes < self.half_open_max_calls:
                return
        self._opened_at = None
        self._trials = 0
        self._trial_successes = 0

    def record_failure(self) -> None:
        """A retryable failure; open the circuit at the threshold, or again if a trial failed."""
        self._consecutive_failures += 1
        if self._trials or self._consecutive_failures >= self.failure_threshold:
            self._opened_at = self._clock.monotonic()
            self._trials = 0
            self._trial_successes = 0

    def _refusal(self, state: BreakerState) -> str:
        if state is BreakerState.HALF_OPEN:
            if self.half_open_max_calls == 1:
                return "circuit half-open: a trial call is in flight, wait for its result"
            return (
                f"circuit half-open: all {self.half_open_max_calls} trial calls are in flight "
                "or answered, wait for their results"
            )
        assert self._opened_at is not None
        remaining = max(0.0, self._opened_at + self.reset_seconds - self._clock.monotonic())
        reopens_at = self._clock.now() + timedelta(seconds=remaining)
        return (
            f"circuit open after {self._consecutive_failures} consecutive failures; "
            f"a trial call is allowed in {remaining:.1f} s (at {reopens_at.isoformat()})"
        )
