"""When each watchtower source of each workspace is due, on seed 004's refresh intervals.

The schedule ticks every 5 minutes. Each workspace owns one 5-minute slot of the hour (by its
position among the sorted workspace ids, so 1,000 workspaces put at most 84 in a slot) and gets
one run per hour in its slot, carrying the sources due that hour: every hour for 60-minute
sources, the 05:00 UTC hour for daily ones, Monday's for weekly ones. Spreading workspaces over
the hour keeps every tick under 100 runs, whatever the number of workspaces.
"""

from collections.abc import Mapping, Sequence
from datetime import datetime

TICK_MINUTES = 5
SLOTS_PER_HOUR = 60 // TICK_MINUTES
DAILY_HOUR_UTC = 5
"""Daily and weekly sources refresh in this hour: after the night's file drops, before the 06:00
restatement syncs."""
MINUTES_PER_HOUR, MINUTES_PER_DAY, MINUTES_PER_WEEK = 60, 1440, 10080


def is_due_hour(refresh_interval_minutes: int, tick: datetime) -> bool:
    """Whether a source with this refresh interval refreshes in `tick`'s hour (UTC)."""
    if refresh_interval_minutes <= MINUTES_PER_HOUR:
        return True
    if refresh_interval_minutes <= MINUTES_PER_DAY:
        return tick.hour == DAILY_HOUR_UTC
    return tick.weekday() == 0 and tick.hour == DAILY_HOUR_UTC


def due_sources(
    intervals: Mapping[str, int],
    workspace_ids: Sequence[str],
    tick: datetime,
) -> dict[str, list[str]]:
    """Workspace → the sources (keys of `intervals`) due at `tick` (UTC, on the 5-minute grid)."""
    slot = (tick.minute // TICK_MINUTES) % SLOTS_PER_HOUR
    due_now = [name for name, minutes in intervals.items() if is_due_hour(minutes, tick)]
    ordered = sorted(workspace_ids)
    return {
        workspace_id: due_now
        for position, workspace_id in enumerate(ordered)
        if position % SLOTS_PER_HOUR == slot and due_now
    }
