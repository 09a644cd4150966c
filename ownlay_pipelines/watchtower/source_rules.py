"""Every watchtower rule that watches one ops source, evaluated after that source's snapshot.

A source `provider/endpoint` (e.g. `omnisend/campaigns`, `internal/clients`) is watched by the
rules of any ops target bound to it (`communication_reports` and `clients` are) and by the
`api_records` rules scoped to it with `source_id` (seed 004's "Low Open Rate" on Omnisend
campaigns). `api_records` rules without a source span every source and are not evaluated here.
"""

from __future__ import annotations

import sqlalchemy as sa

from ownlay_pipelines.watchtower.clock import Clock, utc_now
from ownlay_pipelines.watchtower.engine import evaluate_target
from ownlay_pipelines.watchtower.outcome import RuleOutcome
from ownlay_pipelines.watchtower.rules import source_id_by_name
from ownlay_pipelines.watchtower.targets import DEFAULT_TARGET, TARGETS, OpsTarget


def evaluate_source(
    store: sa.Engine, provider: str, endpoint: str, *, clock: Clock = utc_now
) -> list[RuleOutcome]:
    """Evaluate and record every active rule watching source `provider/endpoint`."""
    outcomes: list[RuleOutcome] = []
    for target in TARGETS.values():
        if isinstance(target, OpsTarget) and target.source == (provider, endpoint):
            outcomes += evaluate_target(target.name, store=store, clock=clock)
    with store.connect() as connection:
        source_id = source_id_by_name(connection, f"{provider}/{endpoint}")
    outcomes += evaluate_target(DEFAULT_TARGET, store=store, clock=clock, source_id=source_id)
    return outcomes
