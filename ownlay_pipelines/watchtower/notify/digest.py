"""When a rule's digest is due: daily at `notify_time`, weekly on `notify_day_of_week` too.

Seed 004 stores `notify_time` as a TIME without zone; the watchtower reads it as UTC. Weekdays
follow the seed: 0 = Sunday … 6 = Saturday.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta


def latest_occurrence(
    schedule: str, notify_time: time, day_of_week: int | None, now: datetime
) -> datetime:
    """The most recent scheduled digest moment at or before `now` (UTC)."""
    now = now.astimezone(UTC)
    moment = datetime.combine(now.date(), notify_time.replace(tzinfo=None), tzinfo=UTC)
    if moment > now:
        moment -= timedelta(days=1)
    if schedule == "daily":
        return moment
    if schedule != "weekly" or day_of_week is None:
        raise ValueError(f"notify_schedule {schedule!r} needs 'daily', or 'weekly' with a weekday")
    # Python counts Monday = 0; the seed counts Sunday = 0.
    seed_weekday = (moment.weekday() + 1) % 7
    return moment - timedelta(days=(seed_weekday - day_of_week) % 7)
