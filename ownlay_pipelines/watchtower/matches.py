"""What one rule evaluation found for one entity, and the stable key that identifies the entity."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass


def entity_key(entity: Mapping[str, str | None]) -> str:
    """SHA-256 of the entity's labels: the dedup key, independent of any message text."""
    canonical = json.dumps(dict(entity), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Match:
    """One entity whose current row meets a rule's condition, or whose value is out of range.

    `currents`/`previouses` hold the watched value of each condition of the rule (one for a simple
    rule, one per member of a compound group), already rendered as text for the alert row.
    """

    entity: Mapping[str, str | None]
    client_id: str | None
    currents: tuple[str | None, ...]
    previouses: tuple[str | None, ...]
    out_of_range: bool = False
    as_of: str | None = None
    snapshot_id: uuid.UUID | None = None
    record_id: uuid.UUID | None = None

    @property
    def key(self) -> str:
        return entity_key(self.entity)


def value_row_match(row: Mapping[str, object], entity: Mapping[str, str | None]) -> Match:
    """The match of one result row of a set-based rule's query (columns `current_value`,
    `previous_value`, `as_of`) for `entity`, whose `client_id` label is the tenant."""
    return Match(
        entity=entity,
        client_id=entity["client_id"],
        currents=(render_value(row["current_value"]),),
        previouses=(render_value(row["previous_value"]),),
        as_of=render_value(row["as_of"]),
    )


def render_value(value: object) -> str | None:
    """A watched value as alert text: numbers without float noise, lists comma-joined."""
    if value is None:
        return None
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(item) for item in value)
    if hasattr(value, "normalize") and hasattr(value, "is_finite"):
        # Decimal: drop the trailing zeros NUMERIC(20,6) adds.
        return f"{value.normalize():f}"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
