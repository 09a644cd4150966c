"""How far back dated data goes: the initial backfill window and the first dated partition.

A new workspace gets `OWNLAY_INITIAL_BACKFILL_DAYS` days of history (90 by default), rounded back
to a Monday. The first dated partition (the history start) is that same Monday as of the day the
code location loads, unless `OWNLAY_HISTORY_START` pins a date. Rounding to a Monday keeps the
partitions definition identical in every process for a week (the code server, the daemon and
each run process load it separately), and filling from the Monday leaves no partition empty.
"""

import os
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta

HISTORY_START_ENV = "OWNLAY_HISTORY_START"
INITIAL_BACKFILL_DAYS_ENV = "OWNLAY_INITIAL_BACKFILL_DAYS"
DEFAULT_INITIAL_BACKFILL_DAYS = 90
MAX_INITIAL_BACKFILL_DAYS = 3 * 365
INITIAL_BACKFILL_DAYS_PER_RUN = DEFAULT_INITIAL_BACKFILL_DAYS + 6
"""A default initial backfill (90 days from their Monday: at most 96) is one run per platform.

Each run is a fresh process (2 s quiet, 7–13 s on a loaded host, bench/README.md) and the
per-account tag limit runs a platform's runs one after the other, so 31-day chunks cost three
more process starts per platform for retry granularity a 96-day sandbox/API pull does not need;
longer histories (`OWNLAY_INITIAL_BACKFILL_DAYS`) still come in chunks of this size."""
EARLIEST_HISTORY_START = date(2015, 1, 1)
"""No ad platform reports further back than this; an older pin is a typo."""


def initial_backfill_days(environ: Mapping[str, str] | None = None) -> int:
    """Days of history a new workspace gets: `OWNLAY_INITIAL_BACKFILL_DAYS`, 90 by default."""
    env = os.environ if environ is None else environ
    text = env.get(INITIAL_BACKFILL_DAYS_ENV, "").strip()
    if not text:
        return DEFAULT_INITIAL_BACKFILL_DAYS
    if not text.isdigit() or not 1 <= int(text) <= MAX_INITIAL_BACKFILL_DAYS:
        raise ValueError(
            f"{INITIAL_BACKFILL_DAYS_ENV}={text!r} must be a whole number of days from 1 to "
            f"{MAX_INITIAL_BACKFILL_DAYS}"
        )
    return int(text)


def monday_on_or_before(day: date) -> date:
    """The Monday of `day`'s ISO week."""
    return day - timedelta(days=day.weekday())


def backfill_window_start(today: date, days: int) -> date:
    """The first day an initial backfill on `today` covers: `days` back, rounded to a Monday."""
    return monday_on_or_before(today - timedelta(days=days - 1))


def pinned_history_start(environ: Mapping[str, str] | None = None) -> date | None:
    """`OWNLAY_HISTORY_START` as a date, None when unset; ValueError names a bad value."""
    env = os.environ if environ is None else environ
    text = env.get(HISTORY_START_ENV, "").strip()
    if not text:
        return None
    try:
        pinned = date.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(
            f"{HISTORY_START_ENV}={text!r} must be an ISO date such as 2026-01-05"
        ) from exc
    if pinned < EARLIEST_HISTORY_START:
        raise ValueError(
            f"{HISTORY_START_ENV}={text!r} is before {EARLIEST_HISTORY_START}; no platform "
            "reports that far back"
        )
    return pinned


def history_start(environ: Mapping[str, str] | None = None, *, today: date | None = None) -> date:
    """The first dated partition: the pinned date, else the initial backfill window's start."""
    pinned = pinned_history_start(environ)
    if pinned is not None:
        return pinned
    return backfill_window_start(today or datetime.now(UTC).date(), initial_backfill_days(environ))
