"""DateRange as a platform's created/sent-time filter: local midnights, across DST changes."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from ownlay_pipelines.schema.date_range import DateRange


def test_bounds_run_from_local_midnight_to_the_midnight_after_the_last_day_across_dst():
    # New York moved to daylight time on 2026-03-08: that day has 23 hours.
    start, end = DateRange(date(2026, 3, 7), date(2026, 3, 8)).bounds_in(
        ZoneInfo("America/New_York")
    )

    assert start.astimezone(UTC) == datetime(2026, 3, 7, 5, tzinfo=UTC)
    assert end.astimezone(UTC) == datetime(2026, 3, 9, 4, tzinfo=UTC)
    assert end.timestamp() - start.timestamp() == 47 * 3600


def test_bounds_of_one_day_in_utc():
    start, end = DateRange.single(date(2026, 11, 20)).bounds_in(UTC)

    assert (start.isoformat(), end.isoformat()) == (
        "2026-11-20T00:00:00+00:00",
        "2026-11-21T00:00:00+00:00",
    )
