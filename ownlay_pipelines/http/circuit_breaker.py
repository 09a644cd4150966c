"""Stop calling a platform account that keeps failing, then probe it again after a pause."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

from ownlay_pipelines.http.clock import Clock, SystemClock
from ownlay_pipelines.http.errors import CircuitOpen


class BreakerState(StrEnum):
    """`closed` lets calls through, `open` refuses them, `half_open` lets one trial call through."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Opens after `failure_threshold` consecutive retryable failures; retries after `reset_seconds`.

    One breaker belongs to one client (one platform account); it is not shared between threads.
    """

    def __init__(
        self,
        failure_threshold: int = 5,
        reset_seconds: float = 60.0,
        clock: Clock | None = None,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError(f"failure_threshold must be at least 1, got {failure_threshold}")
        self.failure_threshold = failure_threshold
        self.reset_seconds = reset_seconds
        self._clock = clock if clock is not None else SystemClock()
        self._consecutive_failures = 0
        self._opened_at: float | None = None
        self._trial_in_flight = False

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
        if state is BreakerState.HALF_OPEN and not self._trial_in_flight:
            self._trial_in_flight = True
            return
        raise CircuitOpen(self._refusal(state))

    def record_success(self) -> None:
        """The platform answered; close the circuit and forget earlier failures."""
        self._consecutive_failures = 0
        self._opened_at = None
        self._trial_in_flight = False

    def record_failure(self) -> None:
        """A retryable failure; open the circuit at the threshold, or again if the trial failed."""
        self._consecutive_failures += 1
        if self._trial_in_flight or self._consecutive_failures >= self.failure_threshold:
            self._opened_at = self._clock.monotonic()
            self._trial_in_flight = False

    def _refusal(self, state: BreakerState) -> str:
        if state is BreakerState.HALF_OPEN:
            return "circuit half-open: a trial call is in flight, wait for its result"
        assert self._opened_at is not None
        remaining = max(0.0, self._opened_at + self.reset_seconds - self._clock.monotonic())
        reopens_at = self._clock.now() + timedelta(seconds=remaining)
        return (
            f"circuit open after {self._consecutive_failures} consecutive failures; "
            f"a trial call is allowed in {remaining:.1f} s (at {reopens_at.isoformat()})"
        )
