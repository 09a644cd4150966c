"""Typed operands: thresholds become numbers, dates or strings by the field's real type."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from ownlay_pipelines.watchtower.conditions import (
    Condition,
    FieldKind,
    FieldSpec,
    Severity,
    parse_operand,
)
from ownlay_pipelines.watchtower.errors import RuleDefinitionError

OPEN_RATE = FieldSpec("open_rate", FieldKind.NUMBER, Decimal(0), Decimal(100), is_metric=True)
STATUS = FieldSpec("status", FieldKind.TEXT)


def test_numbers_are_decimals_and_strings_stay_strings():
    assert parse_operand(OPEN_RATE, Condition.LESS_THAN, " 15 ") == Decimal(15)
    assert parse_operand(STATUS, Condition.EQUALS, "failed") == "failed"
    assert parse_operand(STATUS, Condition.CONTAINS, "fail") == "fail"
    assert parse_operand(FieldSpec("d", FieldKind.DATE), Condition.GREATER_THAN, "2026-11-01") == (
        date(2026, 11, 1)
    )
    assert parse_operand(
        FieldSpec("t", FieldKind.TIMESTAMP), Condition.LESS_THAN, "2026-11-01T10:00"
    ) == datetime(2026, 11, 1, 10, tzinfo=UTC)
    assert parse_operand(FieldSpec("b", FieldKind.BOOLEAN), Condition.EQUALS, "False") is False


def test_changed_takes_no_threshold_and_others_need_one():
    assert parse_operand(STATUS, Condition.CHANGED, None) is None
    with pytest.raises(RuleDefinitionError, match="takes no threshold"):
        parse_operand(STATUS, Condition.CHANGED, "x")
    with pytest.raises(RuleDefinitionError, match="needs a threshold_value"):
        parse_operand(OPEN_RATE, Condition.GREATER_THAN, "  ")


def test_threshold_outside_metric_definition_range_is_refused():
    with pytest.raises(RuleDefinitionError, match=r"outside its valid range 0–100"):
        parse_operand(OPEN_RATE, Condition.GREATER_THAN, "150")
    with pytest.raises(RuleDefinitionError, match="outside its valid range"):
        parse_operand(OPEN_RATE, Condition.EQUALS, "-1")


@pytest.mark.parametrize(
    ("field", "condition", "threshold", "message"),
    [
        (STATUS, Condition.GREATER_THAN, "a", "does not apply to 'status', a text field"),
        (OPEN_RATE, Condition.CONTAINS, "1", "does not apply to 'open_rate'"),
        (OPEN_RATE, Condition.LESS_THAN, "fifteen", "is not a number"),
        (OPEN_RATE, Condition.LESS_THAN, "NaN", "is not a number"),
        (FieldSpec("tags", FieldKind.TEXT_LIST), Condition.EQUALS, "x", "does not apply"),
        (FieldSpec("d", FieldKind.DATE), Condition.LESS_THAN, "21/11/2026", "is not a date"),
    ],
)
def test_meaningless_thresholds_are_refused(field, condition, threshold, message):
    with pytest.raises(RuleDefinitionError, match=message):
        parse_operand(field, condition, threshold)


def test_severity_maps_to_check_severity():
    assert [s.check_severity for s in Severity] == ["WARN", "WARN", "ERROR"]
