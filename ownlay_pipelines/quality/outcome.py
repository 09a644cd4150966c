"""The verdict of one data-quality rule on the partitions a run wrote."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_LISTED = 20
"""How many offending keys or partitions a verdict lists (the count is always complete)."""


@dataclass(frozen=True)
class CheckOutcome:
    """Whether the rule held, one sentence saying what was found, and JSON-able details."""

    passed: bool
    description: str
    metadata: dict[str, Any] = field(default_factory=dict)
