"""A schedule tick's sync requests folded into at most 100 runs: blocks of workspaces per platform.

`plan.plan_tick` asks for one sync per workspace and platform. Up to `MAX_RUNS_PER_TICK` of them
each stay their own run (a small deployment keeps per-workspace runs, tags and concurrency
limits). Beyond that, requests for the same platform, partitioning, window and days are grouped,
and each group is split into at most `MAX_RUNS_PER_TICK // groups` blocks of workspaces that
are consecutive in the workspace partition order: a Dagster range run over `date × workspace` is
the product of its date range and its workspace range (`MultiPartitionsDefinition`), so one run
covers the block's days for every workspace from its first to its last. Workspaces inside that
span that were not due (another tier's cadence, or no connection to the platform: the
connector writes an empty day, which is the truth) are synced too; `swept_in` lists them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from ownlay_pipelines.connectors.streams import Partitioning
from ownlay_pipelines.lake.tables import TableRef
from ownlay_pipelines.orchestration.plan import SyncRequest, Window, sync_run_key, sync_tags
from ownlay_pipelines.schema.date_range import DateRange
from ownlay_pipelines.schema.platforms import Platform

MAX_RUNS_PER_TICK = 100
"""Issue 15's budget: no schedule tick requests more than 100 runs."""
WORKSPACE_BLOCK_TAG = "ownlay/workspace_block"
"""On a block run: "<first>..<last> (<n> workspaces)", for people reading the run list."""


@dataclass(frozen=True)
class SyncBlock:
    """One run: streams of one platform over the same days for consecutive workspaces."""

    workspace_ids: tuple[str, ...]
    """Every workspace the run syncs, in partition order (its first and last bound the range)."""
    platform: Platform
    partitioning: Partitioning
    tables: tuple[TableRef, ...]
    window: Window
    days: DateRange | None
    swept_in: tuple[str, ...] = ()
    """Workspaces inside the span that were not due at this tick but are synced with it."""

    @property
    def tags(self) -> dict[str, str]:
        span = f"{self.workspace_ids[0]}..{self.workspace_ids[-1]}"
        return {
            WORKSPACE_BLOCK_TAG: f"{span} ({len(self.workspace_ids)} workspaces)",
            **sync_tags(self.platform, self.window, self.days),
        }

    def run_key(self, trigger: str, moment: datetime | date) -> str:
        """A key unique to this block's work from `trigger` at `moment`."""
        span = f"{self.workspace_ids[0]}..{self.workspace_ids[-1]}"
        return sync_run_key(trigger, moment, span, self.platform, self.partitioning, self.days)


GroupKey = tuple[Partitioning, Platform, Window, DateRange | None]


def block_requests(
    requests: Sequence[SyncRequest],
    workspace_order: Sequence[str],
    *,
    max_runs: int = MAX_RUNS_PER_TICK,
) -> list[SyncRequest | SyncBlock]:
    """`requests` as at most `max_runs` runs (each request its own run when they fit).

    `workspace_order` is the workspace partitions' order; every requested workspace must be in
    it. Raises when there are more groups (platform × window × days) than `max_runs`.
    """
    if len(requests) <= max_runs:
        return list(requests)
    position = {workspace: index for index, workspace in enumerate(workspace_order)}
    groups: dict[GroupKey, dict[str, SyncRequest]] = defaultdict(dict)
    for request in requests:
        key = (request.partitioning, request.platform, request.window, request.days)
        groups[key][request.workspace_id] = request
    if len(groups) > max_runs:
        raise ValueError(f"{len(groups)} platform/day groups do not fit in {max_runs} runs")
    per_group = max_runs // len(groups)
    runs: list[SyncRequest | SyncBlock] = []
    for (partitioning, platform, window, days), members in groups.items():
        ordered = sorted(members, key=position.__getitem__)
        for chunk in _split(ordered, per_group):
            if len(chunk) == 1:
                runs.append(members[chunk[0]])
                continue
            span = tuple(workspace_order[position[chunk[0]] : position[chunk[-1]] + 1])
            runs.append(
                SyncBlock(
                    workspace_ids=span,
                    platform=platform,
                    partitioning=partitioning,
                    tables=_union_tables(members[w].tables for w in chunk),
                    window=window,
                    days=days,
                    swept_in=tuple(w for w in span if w not in members),
                )
            )
    return runs


def _split(ordered: Sequence[str], parts: int) -> list[Sequence[str]]:
    """`ordered` in at most `parts` consecutive chunks of near-equal size."""
    count = min(parts, len(ordered))
    size, extra = divmod(len(ordered), count)
    chunks, start = [], 0
    for index in range(count):
        end = start + size + (1 if index < extra else 0)
        chunks.append(ordered[start:end])
        start = end
    return chunks


def _union_tables(table_lists: Iterable[Sequence[TableRef]]) -> tuple[TableRef, ...]:
    seen: dict[TableRef, None] = {}
    for tables in table_lists:
        seen.update(dict.fromkeys(tables))
    return tuple(seen)


def count_swept_in(runs: Sequence[SyncRequest | SyncBlock]) -> Mapping[str, int]:
    """Platform → workspaces synced although not due (for the tick's log)."""
    counts: dict[str, int] = defaultdict(int)
    for run in runs:
        if isinstance(run, SyncBlock) and run.swept_in:
            counts[run.platform.value] += len(run.swept_in)
    return dict(counts)
