"""An inclusive range of calendar days, the unit in which reports are requested and split."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo


@dataclass(frozen=True, order=True)
class DateRange:
    """Calendar days `start` through `end`, both included (the platforms' `since`/`until`)."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"date range ends ({self.end}) before it starts ({self.start})")

    @classmethod
    def single(cls, day: date) -> DateRange:
        return cls(day, day)

    @classmethod
    def covering(cls, days: list[date] | tuple[date, ...] | set[date]) -> DateRange:
        """The smallest range containing every day in `days` (which must not be empty)."""
        if not days:
            raise ValueError("cannot build a date range from no days")
        return cls(min(days), max(days))

    @property
    def days(self) -> int:
        """Number of calendar days in the range."""
        return (self.end - self.start).days + 1

    def __iter__(self) -> Iterator[date]:
        for offset in range(self.days):
            yield self.start + timedelta(days=offset)

    def split(self) -> tuple[DateRange, DateRange]:
        """Two halves (the first one day longer when odd); a one-day range cannot be split."""
        if self.days < 2:
            raise ValueError(f"cannot split the one-day range {self.start}")
        middle = self.start + timedelta(days=(self.days + 1) // 2 - 1)
        return DateRange(self.start, middle), DateRange(middle + timedelta(days=1), self.end)

    def chunks(self, max_days: int) -> list[DateRange]:
        """Consecutive sub-ranges of at most `max_days` days (a platform's span cap)."""
        if max_days < 1:
            raise ValueError("max_days must be at least 1")
        out: list[DateRange] = []
        cursor = self.start
        while cursor <= self.end:
            chunk_end = min(self.end, cursor + timedelta(days=max_days - 1))
            out.append(DateRange(cursor, chunk_end))
            cursor = chunk_end + timedelta(days=1)
        return out

    def bounds_in(self, zone: tzinfo) -> tuple[datetime, datetime]:
        """The range as instants in `zone`: midnight starting `start`, and midnight after `end`
        (exclusive), the window a platform filter on created or sent times takes."""
        return (
            datetime.combine(self.start, time(), zone),
            datetime.combine(self.end + timedelta(days=1), time(), zone),
        )

    def __str__(self) -> str:
        return f"{self.start.isoformat()}..{self.end.isoformat()}"
