"""Digest timing: daily at notify_time, weekly on the seed's weekday numbering (0 = Sunday)."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from ownlay_pipelines.watchtower.notify.digest import latest_occurrence

SATURDAY_MORNING = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)


def test_daily_digest_is_today_once_the_time_has_passed_else_yesterday():
    assert latest_occurrence("daily", time(7, 30), None, SATURDAY_MORNING) == datetime(
        2026, 11, 21, 7, 30, tzinfo=UTC
    )
    assert latest_occurrence("daily", time(9, 0), None, SATURDAY_MORNING) == datetime(
        2026, 11, 20, 9, 0, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("day_of_week", "expected_day"),
    [(6, 21), (0, 15), (1, 16), (5, 20)],  # Saturday, Sunday, Monday, Friday
)
def test_weekly_digest_counts_sunday_as_zero(day_of_week, expected_day):
    moment = latest_occurrence("weekly", time(7, 0), day_of_week, SATURDAY_MORNING)
    assert moment == datetime(2026, 11, expected_day, 7, 0, tzinfo=UTC)


def test_weekly_digest_later_today_means_last_week():
    assert latest_occurrence("weekly", time(9, 0), 6, SATURDAY_MORNING) == datetime(
        2026, 11, 14, 9, 0, tzinfo=UTC
    )
