"""The rule vocabulary (conditions, logic, dependencies, severities) and typed operands.

A rule's `threshold_value` is text in the ops store; here it becomes a number, date, timestamp,
boolean or string according to the watched field's real type, so numbers compare numerically and
strings as strings, and a threshold that cannot mean anything for that field is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from ownlay_pipelines.watchtower.errors import RuleDefinitionError


class Condition(StrEnum):
    """How a field is tested (seed 004 "Rule Conditions")."""

    EQUALS = "equals"
    GREATER_THAN = "greater_than"
    LESS_THAN = "less_than"
    CHANGED = "changed"
    CONTAINS = "contains"


class LogicOperator(StrEnum):
    """How the conditions of one compound group (same `group_id`) combine."""

    AND = "AND"
    OR = "OR"


class Dependency(StrEnum):
    """When a child rule may fire, given its parent's state (seed 004 "Rule Dependency Conditions")."""

    TRIGGERED = "triggered"
    NOT_TRIGGERED = "not_triggered"
    ACKNOWLEDGED = "acknowledged"


class Severity(StrEnum):
    """How urgent an alert is; `check_severity` is the Dagster asset-check severity it maps to."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def check_severity(self) -> str:
        """`ERROR` for critical, `WARN` for warning and info (info adds metadata only)."""
        return "ERROR" if self is Severity.CRITICAL else "WARN"


class FieldKind(StrEnum):
    """What a watched field holds, read from the target's real column type."""

    NUMBER = "number"
    TEXT = "text"
    DATE = "date"
    TIMESTAMP = "timestamp"
    BOOLEAN = "boolean"
    TEXT_LIST = "text_list"


@dataclass(frozen=True)
class FieldSpec:
    """A field a rule may watch: its kind, its valid range and whether it is a named metric."""

    name: str
    kind: FieldKind
    min_value: Decimal | None = None
    max_value: Decimal | None = None
    is_metric: bool = False

    @property
    def has_range(self) -> bool:
        return self.kind is FieldKind.NUMBER and (
            self.min_value is not None or self.max_value is not None
        )

    def describe_range(self) -> str:
        low = "-∞" if self.min_value is None else f"{self.min_value.normalize():f}"
        high = "∞" if self.max_value is None else f"{self.max_value.normalize():f}"
        return f"{low}–{high}"


Operand = Decimal | str | date | datetime | bool | None
"""A parsed threshold; None only for `changed`, which compares with the previous snapshot."""

_ALLOWED_KINDS: dict[Condition, frozenset[FieldKind]] = {
    Condition.EQUALS: frozenset(FieldKind) - {FieldKind.TEXT_LIST},
    Condition.GREATER_THAN: frozenset({FieldKind.NUMBER, FieldKind.DATE, FieldKind.TIMESTAMP}),
    Condition.LESS_THAN: frozenset({FieldKind.NUMBER, FieldKind.DATE, FieldKind.TIMESTAMP}),
    Condition.CHANGED: frozenset(FieldKind),
    Condition.CONTAINS: frozenset({FieldKind.TEXT, FieldKind.TEXT_LIST}),
}

_TRUE_WORDS = frozenset({"true", "t", "yes", "1"})
_FALSE_WORDS = frozenset({"false", "f", "no", "0"})


def parse_operand(field: FieldSpec, condition: Condition, threshold: str | None) -> Operand:
    """The typed threshold for `condition` on `field`; RuleDefinitionError says what is wrong."""
    if field.kind not in _ALLOWED_KINDS[condition]:
        kinds = ", ".join(sorted(_ALLOWED_KINDS[condition]))
        raise RuleDefinitionError(
            f"condition {condition.value} does not apply to {field.name!r}, a {field.kind.value} "
            f"field; it needs a field of kind {kinds}"
        )
    text = None if threshold is None else threshold.strip()
    if condition is Condition.CHANGED:
        if text:
            raise RuleDefinitionError(
                f"condition changed compares {field.name!r} with the previous snapshot and takes no "
                f"threshold; remove threshold_value {threshold!r}"
            )
        return None
    if not text:
        raise RuleDefinitionError(
            f"condition {condition.value} on {field.name!r} needs a threshold_value"
        )
    if condition is Condition.CONTAINS:
        return text
    value = _parse_as(field, text)
    if isinstance(value, Decimal):
        _check_range(field, value)
    return value


def _parse_as(field: FieldSpec, text: str) -> Operand:
    try:
        if field.kind is FieldKind.NUMBER:
            number = Decimal(text)
            if not number.is_finite():
                raise InvalidOperation
            return number
        if field.kind is FieldKind.DATE:
            return date.fromisoformat(text)
        if field.kind is FieldKind.TIMESTAMP:
            moment = datetime.fromisoformat(text)
            return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    except (InvalidOperation, ValueError) as exc:
        example = {FieldKind.NUMBER: "'15' or '2.5'", FieldKind.DATE: "'2026-11-21'"}.get(
            field.kind, "'2026-11-21T09:00:00+00:00'"
        )
        raise RuleDefinitionError(
            f"threshold {text!r} is not a {field.kind.value} for {field.name!r}; write e.g. {example}"
        ) from exc
    if field.kind is FieldKind.BOOLEAN:
        if text.lower() in _TRUE_WORDS:
            return True
        if text.lower() in _FALSE_WORDS:
            return False
        raise RuleDefinitionError(
            f"threshold {text!r} is not a boolean for {field.name!r}; write 'true' or 'false'"
        )
    return text


def _check_range(field: FieldSpec, value: Decimal) -> None:
    below = field.min_value is not None and value < field.min_value
    above = field.max_value is not None and value > field.max_value
    if below or above:
        raise RuleDefinitionError(
            f"threshold {value} for {field.name!r} is outside its valid range "
            f"{field.describe_range()} (metric_definitions)"
        )
