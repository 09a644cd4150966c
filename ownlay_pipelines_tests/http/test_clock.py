from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ownlay_pipelines.http.clock import FakeClock, SystemClock


def test_fake_clock_sleep_advances_both_clocks_and_records_the_amount() -> None:
    clock = FakeClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))

    clock.sleep(1.5)
    clock.advance(10.0)
    clock.sleep(0.25)

    assert clock.sleeps == [1.5, 0.25]
    assert clock.monotonic() == 11.75
    assert clock.now() == datetime(2026, 3, 1, 12, 0, 11, 750000, tzinfo=UTC)


def test_fake_clock_refuses_a_start_without_timezone() -> None:
    with pytest.raises(ValueError, match="has no timezone"):
        FakeClock(datetime(2026, 3, 1))


def test_fake_clock_refuses_to_sleep_backwards() -> None:
    with pytest.raises(ValueError, match="negative"):
        FakeClock().sleep(-1.0)


def test_system_clock_now_is_utc_aware_and_monotonic_does_not_go_back() -> None:
    clock = SystemClock()
    first = clock.monotonic()

    assert clock.now().utcoffset() == timedelta(0)
    assert clock.monotonic() >= first
