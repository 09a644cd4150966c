"""A brute-force Python funnel, written from the declared semantics (analyst/funnel_query.py),
to check the SQL against: per visitor and start, walk every later event; no SQL, no sorting
tricks, no ASOF."""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from ownlay_pipelines.analyst.funnel_definitions import FunnelDefinition, FunnelStep

BREAKDOWN_COLUMNS = {
    "utm_source": lambda e: e.get("utm_source") or "(none)",
    "campaign": lambda e: e.get("utm_campaign") or e.get("campaign_id") or "(none)",
    "device": lambda e: e.get("device_type") or "(none)",
    "country": lambda e: e.get("country") or "(none)",
}


def micros(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // __import__("datetime").timedelta(
        microseconds=1
    )


def matches(event: dict, step: FunnelStep) -> bool:
    if event["event_type"] != step.event_type:
        return False
    properties = json.loads(event.get("properties") or "{}")
    for rule in step.filters:
        if rule.column is not None:
            if str(event.get(rule.column)) != rule.value:
                return False
        else:
            value = properties.get(rule.property_key)
            if value is None:
                return False
            text = json.dumps(value) if isinstance(value, bool) else str(value)
            if text != rule.value:
                return False
    return True


def attempt(events: list[dict], start: dict, funnel: FunnelDefinition) -> list[int]:
    """Step timestamps of the chain from `start`: each next step the earliest strictly later
    matching event, within the window of the start."""
    window_us = funnel.window_seconds * 1_000_000
    times = [micros(start["created_at"])]
    for step in funnel.steps[1:]:
        later = [
            micros(e["created_at"])
            for e in events
            if matches(e, step) and micros(e["created_at"]) > times[-1]
        ]
        if not later or min(later) - times[0] > window_us:
            break
        times.append(min(later))
    return times


def longest_chain(events: list[dict], start: dict, funnel: FunnelDefinition) -> int:
    """The longest ordered chain from `start` by exhaustive search (checks greedy is optimal)."""
    window_us = funnel.window_seconds * 1_000_000
    t1 = micros(start["created_at"])

    def extend(level: int, last: int) -> int:
        if level == len(funnel.steps):
            return level
        best = level
        for e in events:
            t = micros(e["created_at"])
            if matches(e, funnel.steps[level]) and last < t <= t1 + window_us:
                best = max(best, extend(level + 1, t))
        return best

    return extend(1, t1)


def reference_funnel(
    events: list[dict],
    funnel: FunnelDefinition,
    timezone: str,
    first_day: date,
    last_day: date,
    *,
    by_day: bool,
    check_greedy: bool = False,
) -> list[tuple]:
    """Rows (day?, breakdown, value, step, visitors, dropoff, median seconds) sorted."""
    zone = ZoneInfo(timezone)
    by_visitor: dict[str, list[dict]] = defaultdict(list)
    for e in events:
        visitor = e.get("anonymous_id") or e.get("user_id")
        if visitor:
            by_visitor[visitor].append(e)
    winners = []
    for visitor_events in by_visitor.values():
        best: dict[date | None, tuple] = {}
        for start in visitor_events:
            day = start["created_at"].astimezone(zone).date()
            if not (matches(start, funnel.steps[0]) and first_day <= day <= last_day):
                continue
            times = attempt(visitor_events, start, funnel)
            if check_greedy:
                assert len(times) == longest_chain(visitor_events, start, funnel)
            key = (len(times), -times[-1], times[0], start["event_id"])
            slot = day if by_day else None
            if slot not in best or key > best[slot][0]:
                best[slot] = (key, times, start)
        winners += [(slot, times, start) for slot, (_, times, start) in best.items()]
    groups: dict[tuple, list[list[int]]] = defaultdict(list)
    for slot, times, start in winners:
        groups[(slot, "total", "(all)")].append(times)
        for name, read in BREAKDOWN_COLUMNS.items():
            groups[(slot, name, read(start))].append(times)
    rows = []
    for (slot, breakdown, value), chains in groups.items():
        previous = None
        for n in range(1, len(funnel.steps) + 1):
            reaching = [t for t in chains if len(t) >= n]
            median = (
                statistics.median([t[n - 1] - t[n - 2] for t in reaching]) / 1_000_000
                if n > 1 and reaching
                else None
            )
            visitors = len(reaching)
            dropoff = 0 if previous is None else previous - visitors
            prefix = (slot,) if by_day else ()
            rows.append((*prefix, breakdown, value, n, visitors, dropoff, median))
            previous = visitors
    return sorted(rows, key=lambda r: tuple("" if v is None else v for v in r))
