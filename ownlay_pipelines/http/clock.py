"""Time as the HTTP core sees it, injectable so retries, limits and job polls are testable."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """A source of elapsed time, wall-clock time and sleeping."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards (only differences mean anything)."""
        ...

    def sleep(self, seconds: float) -> None:
        """Block the caller for `seconds`."""
        ...

    def now(self) -> datetime:
        """The current UTC-aware wall-clock time (for HTTP dates and messages)."""
        ...


class SystemClock:
    """The real clock: `time.monotonic`, `time.sleep` and `datetime.now(UTC)`."""

    def monotonic(self) -> float:
        """Seconds from `time.monotonic()`."""
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        """Sleep for real."""
        time.sleep(seconds)

    def now(self) -> datetime:
        """The current time in UTC."""
        return datetime.now(UTC)


class FakeClock:
    """A clock that only moves when told: `sleep` advances it instantly and records the amount."""

    def __init__(self, start: datetime | None = None) -> None:
        start = start if start is not None else datetime(2026, 1, 1, tzinfo=UTC)
        if start.tzinfo is None:
            raise ValueError(f"FakeClock start {start.isoformat()} has no timezone; pass UTC")
        self._now = start.astimezone(UTC)
        self._monotonic = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        """Seconds advanced since the clock was made."""
        return self._monotonic

    def sleep(self, seconds: float) -> None:
        """Record `seconds` in `sleeps` and advance by that much without waiting."""
        if seconds < 0:
            raise ValueError(f"cannot sleep a negative time ({seconds} s)")
        self.sleeps.append(seconds)
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        """Move both clocks forward by `seconds`, as if the caller had been busy that long."""
        self._monotonic += seconds
        self._now += timedelta(seconds=seconds)

    def now(self) -> datetime:
        """The start time plus everything slept and advanced."""
        return self._now
