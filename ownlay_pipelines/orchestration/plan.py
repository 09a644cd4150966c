"""Which syncs a schedule tick or a new workspace asks for, grouped into few runs.

A run syncs some streams of one platform for one workspace: either entity snapshots (partitioned
by workspace) or reporting data over a range of days. Intraday ticks refresh today and yesterday
(late data keeps arriving until an account's local day closes); the daily tick re-pulls each date
stream's restatement lookback instead (Meta 28 days, Google Ads the conversion window), so the
days the platforms restate are replaced once a day and never duplicated.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from ownlay_pipelines.connectors.streams import Partitioning, StreamSpec
from ownlay_pipelines.lake.tables import TableRef
from ownlay_pipelines.orchestration.cadence import effective_cadence, is_daily_tick, is_due
from ownlay_pipelines.registry.workspaces import Workspace
from ownlay_pipelines.schema.date_range import DateRange
from ownlay_pipelines.schema.platforms import Platform

INTRADAY_DAYS_BACK = 1
"""Intraday ticks refresh yesterday too: an account west of UTC is still living it."""

WORKSPACE_TAG = "ownlay/workspace"
PLATFORM_TAG = "ownlay/platform"
WORKSPACE_PLATFORM_TAG = "ownlay/workspace_platform"
"""One value per workspace and platform: `deploy/dagster.yaml` lets one such run go at a time."""
WINDOW_TAG = "ownlay/window"
FIRST_DAY_TAG = "ownlay/first_day"
LAST_DAY_TAG = "ownlay/last_day"


class Window(StrEnum):
    """Why a run covers the days it covers."""

    SNAPSHOT = "snapshot"
    """Entity snapshots: the workspace's current entities, no days."""
    INTRADAY = "intraday"
    """Today and yesterday, on every due tick."""
    RESTATEMENT = "restatement"
    """The stream's restatement lookback up to today, once a day."""
    INITIAL_BACKFILL = "initial_backfill"
    """History of a workspace that just joined, in chunks of at most a backfill run's days."""


@dataclass(frozen=True)
class SyncRequest:
    """One run: streams of one platform for one workspace, and the days they cover (if dated)."""

    workspace_id: str
    platform: Platform
    partitioning: Partitioning
    tables: tuple[TableRef, ...]
    window: Window
    days: DateRange | None = None

    @property
    def tags(self) -> dict[str, str]:
        """Run tags that say what the run syncs (concurrency limits and alerts key on them)."""
        return {
            WORKSPACE_TAG: self.workspace_id,
            WORKSPACE_PLATFORM_TAG: f"{self.workspace_id}.{self.platform.value}",
            **sync_tags(self.platform, self.window, self.days),
        }

    def run_key(self, trigger: str, moment: datetime | date) -> str:
        """A key unique to this work from `trigger` at `moment`, so it is launched at most once."""
        return sync_run_key(
            trigger, moment, self.workspace_id, self.platform, self.partitioning, self.days
        )

    def is_covered_by(
        self,
        tags: Mapping[str, str],
        tables: Iterable[TableRef],
        workspaces: Collection[str] = (),
    ) -> bool:
        """Whether a run with `tags` and `tables` already does all of this request's work.

        `workspaces` are the run's workspaces when its tags name none (a block run's range).
        """
        run_workspaces = [tags[WORKSPACE_TAG]] if WORKSPACE_TAG in tags else workspaces
        same_sync = (
            self.workspace_id in run_workspaces and tags.get(PLATFORM_TAG) == self.platform.value
        )
        if not same_sync or not set(self.tables) <= set(tables):
            return False
        if self.days is None:
            return True
        first, last = tags.get(FIRST_DAY_TAG), tags.get(LAST_DAY_TAG)
        if first is None or last is None:
            return False
        covered = DateRange(date.fromisoformat(first), date.fromisoformat(last))
        return covered.start <= self.days.start and self.days.end <= covered.end


def sync_tags(platform: Platform, window: Window, days: DateRange | None) -> dict[str, str]:
    """The tags every sync run carries: its platform, why it runs and its days (if dated)."""
    tags = {PLATFORM_TAG: platform.value, WINDOW_TAG: window.value}
    if days is not None:
        tags[FIRST_DAY_TAG] = days.start.isoformat()
        tags[LAST_DAY_TAG] = days.end.isoformat()
    return tags


def sync_run_key(
    trigger: str,
    moment: datetime | date,
    workspaces: str,
    platform: Platform,
    partitioning: Partitioning,
    days: DateRange | None,
) -> str:
    """`<trigger>:<moment>:<workspaces>:<platform>:<days or partitioning>`."""
    what = str(days) if days is not None else partitioning.value
    return ":".join((trigger, moment.isoformat(), workspaces, platform.value, what))


def plan_tick(
    workspaces: Iterable[Workspace],
    streams: Sequence[StreamSpec],
    tick: datetime,
    *,
    earliest_day: date,
) -> list[SyncRequest]:
    """The runs the schedule tick at `tick` (UTC) asks for, per workspace and platform.

    Dates are UTC report dates, the partitions' calendar; days before `earliest_day` (the first
    partition) are never asked for.
    """
    window = Window.RESTATEMENT if is_daily_tick(tick) else Window.INTRADAY
    requests: list[SyncRequest] = []
    for workspace in workspaces:
        for platform, platform_streams in _streams_by_platform(workspace, streams).items():
            snapshots, dated = _due(workspace, platform_streams, tick, earliest_day)
            if snapshots:
                requests.append(
                    SyncRequest(
                        workspace.id,
                        platform,
                        Partitioning.WORKSPACE,
                        tuple(snapshots),
                        Window.SNAPSHOT,
                    )
                )
            requests.extend(
                SyncRequest(
                    workspace.id,
                    platform,
                    Partitioning.DATE_AND_WORKSPACE,
                    tuple(refs),
                    window,
                    days,
                )
                for days, refs in sorted(dated.items())
            )
    return requests


def _due(
    workspace: Workspace, specs: Sequence[StreamSpec], tick: datetime, earliest_day: date
) -> tuple[list[TableRef], dict[DateRange, list[TableRef]]]:
    """(entity tables due at `tick`, dated tables due grouped by the days to sync)."""
    today = tick.date()
    snapshots: list[TableRef] = []
    dated: dict[DateRange, list[TableRef]] = defaultdict(list)
    for spec in specs:
        cadence = effective_cadence(spec, workspace.tier)
        if cadence is None:
            continue
        if spec.partitioning is Partitioning.WORKSPACE:
            if is_due(cadence, tick):
                snapshots.append(spec.ref)
        elif is_daily_tick(tick):
            # Restatement is daily for every tier: the platforms revise those days regardless.
            dated[restatement_window(spec, today, earliest_day)].append(spec.ref)
        elif is_due(cadence, tick):
            dated[intraday_window(today, earliest_day)].append(spec.ref)
    return snapshots, dated


def plan_initial_backfill(
    workspace: Workspace,
    streams: Sequence[StreamSpec],
    *,
    today: date,
    days: int,
    max_days_per_run: int,
    earliest_day: date,
) -> list[SyncRequest]:
    """The runs that give a new workspace its entities and its last `days` days of history.

    Every stream its tier polls is included; dated streams come in chunks of at most
    `max_days_per_run` days, so a long history is retried chunk by chunk and no run holds a
    platform's API for very long.
    """
    if days < 1:
        raise ValueError(f"an initial backfill needs at least one day, not {days}")
    history = DateRange(max(earliest_day, today - timedelta(days=days - 1)), today)
    requests: list[SyncRequest] = []
    for platform, platform_streams in _streams_by_platform(workspace, streams).items():
        polled = [s for s in platform_streams if effective_cadence(s, workspace.tier) is not None]
        snapshots = tuple(s.ref for s in polled if s.partitioning is Partitioning.WORKSPACE)
        dated = tuple(s.ref for s in polled if s.partitioning is Partitioning.DATE_AND_WORKSPACE)
        if snapshots:
            requests.append(
                SyncRequest(
                    workspace.id,
                    platform,
                    Partitioning.WORKSPACE,
                    snapshots,
                    Window.INITIAL_BACKFILL,
                )
            )
        if dated:
            requests.extend(
                SyncRequest(
                    workspace.id,
                    platform,
                    Partitioning.DATE_AND_WORKSPACE,
                    dated,
                    Window.INITIAL_BACKFILL,
                    chunk,
                )
                for chunk in history.chunks(max_days_per_run)
            )
    return requests


def intraday_window(today: date, earliest_day: date) -> DateRange:
    """Today and yesterday (only today on the first partition's day)."""
    return DateRange(max(earliest_day, today - timedelta(days=INTRADAY_DAYS_BACK)), today)


def restatement_window(spec: StreamSpec, today: date, earliest_day: date) -> DateRange:
    """The days `spec`'s platform may still restate, up to today (at least the intraday window)."""
    lookback_days = max(spec.restatement_lookback_days, INTRADAY_DAYS_BACK)
    return DateRange(max(earliest_day, today - timedelta(days=lookback_days)), today)


def _streams_by_platform(
    workspace: Workspace, streams: Sequence[StreamSpec]
) -> dict[Platform, list[StreamSpec]]:
    """The streams of the platforms `workspace` connects, by platform in registry order."""
    connected = list(dict.fromkeys(c.platform for c in workspace.connections))
    by_platform: dict[Platform, list[StreamSpec]] = {platform: [] for platform in connected}
    for spec in streams:
        if spec.platform in by_platform:
            by_platform[spec.platform].append(spec)
    return {platform: specs for platform, specs in by_platform.items() if specs}
