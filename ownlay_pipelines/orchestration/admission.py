"""Admission: new workspaces' initial backfills enter a little at a time, oldest workspace first.

Onboarding 1,000 workspaces at once would be 12,000 runs in one sensor tick. Instead the registry
sensor keeps a backlog of workspaces still being backfilled (in its cursor) and each tick admits
at most `max_per_tick` runs, and per platform only as many as keep `max_in_flight_per_platform`
initial-backfill runs of that platform unfinished. The rest waits, counted, in the backlog.

A backlog entry is (workspace, day it joined, runs admitted per platform); the runs themselves are
re-planned from the registry each tick (`plan_initial_backfill` is deterministic for a workspace
and a day), so the cursor stays a few dozen bytes per workspace.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from ownlay_pipelines.orchestration.plan import SyncRequest

MAX_RUNS_PER_TICK = 100
"""Issue 15's budget: no tick requests more than 100 runs."""
MAX_IN_FLIGHT_PER_PLATFORM = 12
"""Unfinished initial-backfill runs per platform: 4× the platform's run limit in
deploy/dagster.yaml (3), so the queue never runs dry between two ticks yet stays short."""


@dataclass
class BacklogEntry:
    """A workspace whose initial backfill is not fully admitted yet."""

    workspace_id: str
    joined: date
    admitted: dict[str, int] = field(default_factory=dict)
    """Platform → how many of its runs (in plan order) were already requested."""

    def to_json(self) -> list[object]:
        return [self.workspace_id, self.joined.isoformat(), dict(sorted(self.admitted.items()))]

    @classmethod
    def from_json(cls, item: Sequence[object]) -> BacklogEntry:
        workspace_id, joined, admitted = item
        return cls(str(workspace_id), date.fromisoformat(str(joined)), dict(admitted))  # type: ignore[arg-type]


@dataclass(frozen=True)
class Admission:
    """One tick's decision: runs to request now, the backlog left, and what still waits."""

    admitted: list[tuple[BacklogEntry, SyncRequest]]
    backlog: list[BacklogEntry]
    waiting_runs: int
    waiting_by_platform: dict[str, int]


def admit(
    backlog: Sequence[BacklogEntry],
    plan: Callable[[BacklogEntry], Sequence[SyncRequest]],
    in_flight: Mapping[str, int],
    *,
    max_per_tick: int = MAX_RUNS_PER_TICK,
    max_in_flight_per_platform: int = MAX_IN_FLIGHT_PER_PLATFORM,
) -> Admission:
    """Admit runs from `backlog` (oldest joined first) within the tick and platform bounds.

    `plan(entry)` lists a workspace's initial-backfill runs in order; `in_flight` counts the
    unfinished initial-backfill runs per platform. Within a platform a workspace's runs are
    admitted in plan order (entity snapshots before dated chunks), so `admitted` is a count.
    """
    room = {
        platform: max(0, max_in_flight_per_platform - count)
        for platform, count in in_flight.items()
    }
    budget = max_per_tick
    admitted: list[tuple[BacklogEntry, SyncRequest]] = []
    remaining: list[BacklogEntry] = []
    waiting: Counter[str] = Counter()
    for entry in sorted(backlog, key=lambda e: e.joined):
        done = True
        for platform, runs in _by_platform(plan(entry)).items():
            start = entry.admitted.get(platform, 0)
            free = room.setdefault(platform, max_in_flight_per_platform)
            take = min(len(runs) - start, free, budget)
            admitted.extend((entry, run) for run in runs[start : start + take])
            room[platform] = free - take
            budget -= take
            entry.admitted[platform] = start + take
            left = len(runs) - entry.admitted[platform]
            if left:
                waiting[platform] += left
                done = False
        if not done:
            remaining.append(entry)
    return Admission(
        admitted=admitted,
        backlog=remaining,
        waiting_runs=sum(waiting.values()),
        waiting_by_platform=dict(sorted(waiting.items())),
    )


def _by_platform(requests: Sequence[SyncRequest]) -> dict[str, list[SyncRequest]]:
    grouped: dict[str, list[SyncRequest]] = {}
    for request in requests:
        grouped.setdefault(request.platform.value, []).append(request)
    return grouped
