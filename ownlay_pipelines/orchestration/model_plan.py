"""Which model partitions to recompute after inputs changed, as one day range per workspace.

Plain Python for the `models_follow_upstream` sensor: it reads new materializations of the
models' inputs since its cursor, turns each into the (workspace, day)s of every model that reads
it, adds the models downstream of those (they read the models' new rows), and asks for one run
per workspace over the smallest day range that covers all of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta


@dataclass(frozen=True)
class ModelInput:
    """Model `model` reads `source`: source day x changes the model's days x-before … x+after."""

    model: str
    source: str
    days_before: int = 0
    days_after: int = 0


@dataclass(frozen=True)
class Change:
    """One materialized (workspace, day) of an input, and the models its run already computed."""

    source: str
    workspace_id: str
    day: date
    computed_in_run: frozenset[str] = frozenset()


@dataclass
class Pending:
    """A workspace's model work not requested yet: a day range and the models to recompute."""

    first: date
    last: date
    models: set[str] = field(default_factory=set)

    def merge(self, first: date, last: date, models: Iterable[str]) -> None:
        self.first, self.last = min(self.first, first), max(self.last, last)
        self.models.update(models)

    def to_json(self) -> list[object]:
        return [self.first.isoformat(), self.last.isoformat(), sorted(self.models)]

    @classmethod
    def from_json(cls, item: Sequence[object]) -> Pending:
        first, last, models = item
        return cls(date.fromisoformat(str(first)), date.fromisoformat(str(last)), set(models))  # type: ignore[arg-type]


class ModelGraph:
    """The models (in dependency order) and what each reads."""

    def __init__(self, models: Sequence[str], inputs: Sequence[ModelInput]) -> None:
        self.models = list(models)
        self.inputs = list(inputs)
        self.sources = sorted({i.source for i in inputs})
        self._readers: dict[str, list[ModelInput]] = {}
        for model_input in inputs:
            self._readers.setdefault(model_input.source, []).append(model_input)

    def readers(self, source: str) -> list[ModelInput]:
        """The models reading `source`, with how a changed day spreads into theirs."""
        return self._readers.get(source, [])

    def closure(self, models: Iterable[str]) -> list[str]:
        """`models` and every model downstream of them, in dependency order."""
        wanted = set(models)
        for model in self.models:
            if model in wanted:
                wanted.update(reader.model for reader in self.readers(model))
        return [model for model in self.models if model in wanted]

    def reach_after(self, models: Iterable[str]) -> int:
        """How many days after a changed day the closure of `models` must recompute."""
        reach = {model: 0 for model in models}
        for model in self.models:
            for reader in self.readers(model):
                if model in reach:
                    reach[reader.model] = max(
                        reach.get(reader.model, 0), reach[model] + reader.days_after
                    )
        return max(reach.values(), default=0)


def add_changes(
    graph: ModelGraph,
    pending: dict[str, Pending],
    changes: Iterable[Change],
    *,
    first_day: date,
    last_day: date,
) -> None:
    """Fold `changes` into `pending` (per workspace), clipped to the partitions that exist.

    A change made by a run that also computed a reading model does not count for that model:
    the run already read the new rows.
    """
    for change in changes:
        for reader in graph.readers(change.source):
            if reader.model in change.computed_in_run:
                continue
            first = max(first_day, change.day - timedelta(days=reader.days_before))
            last = min(last_day, change.day + timedelta(days=reader.days_after))
            if first > last:
                continue
            entry = pending.get(change.workspace_id)
            if entry is None:
                pending[change.workspace_id] = Pending(first, last, {reader.model})
            else:
                entry.merge(first, last, [reader.model])


@dataclass(frozen=True)
class ModelRun:
    """One run: these models of one workspace over `first` … `last`."""

    workspace_id: str
    models: tuple[str, ...]
    first: date
    last: date


MAX_RUNS_PER_TICK = 100
"""Issue 15's budget: no tick requests more than 100 runs; the rest stays pending."""


def plan_model_runs(
    graph: ModelGraph,
    pending: Mapping[str, Pending],
    *,
    busy: set[str],
    last_day: date,
    max_runs: int = MAX_RUNS_PER_TICK,
) -> tuple[list[ModelRun], dict[str, Pending]]:
    """(runs to request now, pending work kept for busy workspaces and beyond `max_runs`).

    A workspace with an unfinished sync or model run waits: its syncs may still be writing days,
    and waiting turns a backfill's chunks into one model run. The run covers the downstream
    models too, so the range reaches as far as they spread (the dashboard's 90-day periods).
    The oldest changes go first (by first changed day, then workspace).
    """
    runs, kept = [], {}
    for workspace_id, entry in sorted(pending.items(), key=lambda item: (item[1].first, item[0])):
        if workspace_id in busy or len(runs) >= max_runs:
            kept[workspace_id] = entry
            continue
        models = graph.closure(entry.models)
        last = min(last_day, entry.last + timedelta(days=graph.reach_after(entry.models)))
        runs.append(ModelRun(workspace_id, tuple(models), entry.first, last))
    return runs, kept
