"""What a rule evaluation reports: the entities it fired for and the check verdict.

`RuleOutcome` is what the Dagster asset checks turn into `AssetCheckResult`s: `passed`,
`check_severity` (ERROR/WARN) and `metadata()` listing fired entities with current and previous
values.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from ownlay_pipelines.watchtower.conditions import Severity

METADATA_ENTITY_LIMIT = 50
"""Check metadata lists at most this many entities; the counts always cover all of them."""


@dataclass(frozen=True)
class FiredEntity:
    """One entity a rule matched: its labels, watched values now and before, and alert state."""

    entity: dict[str, str | None]
    entity_key: str
    client_id: str | None
    current_value: str | None
    previous_value: str | None
    as_of: str | None
    state: str
    muted: bool = False

    def as_metadata(self) -> dict[str, Any]:
        """The entity as JSON-ready check metadata."""
        return {
            "entity": self.entity,
            "current_value": self.current_value,
            "previous_value": self.previous_value,
            "as_of": self.as_of,
            "state": self.state,
            "muted": self.muted,
        }


@dataclass(frozen=True)
class RuleOutcome:
    """The result of one rule (or compound group, named by its lead rule) on one target."""

    rule_id: uuid.UUID
    rule_name: str
    target: str
    severity: Severity
    fired: tuple[FiredEntity, ...] = ()
    suppressed: tuple[FiredEntity, ...] = ()
    out_of_range: tuple[FiredEntity, ...] = ()
    opened_alert_ids: tuple[uuid.UUID, ...] = ()
    resolved_count: int = 0
    error: str | None = None
    member_rule_ids: tuple[uuid.UUID, ...] = ()

    @property
    def passed(self) -> bool:
        """True when nothing fired and the rule could be evaluated."""
        return not self.fired and self.error is None

    @property
    def check_severity(self) -> str:
        """`ERROR` or `WARN`, the asset-check severity of a failure (see Severity)."""
        return self.severity.check_severity

    def metadata(self) -> dict[str, Any]:
        """JSON-ready check metadata: counts, and the first entities with their values."""
        return {
            "rule": self.rule_name,
            "rule_id": str(self.rule_id),
            "target": self.target,
            "severity": self.severity.value,
            "fired_count": len(self.fired),
            "fired": [e.as_metadata() for e in self.fired[:METADATA_ENTITY_LIMIT]],
            "suppressed_by_dependency_count": len(self.suppressed),
            "out_of_range_count": len(self.out_of_range),
            "out_of_range": [e.as_metadata() for e in self.out_of_range[:METADATA_ENTITY_LIMIT]],
            "opened_alerts": len(self.opened_alert_ids),
            "resolved": self.resolved_count,
            **({"error": self.error} if self.error else {}),
        }
