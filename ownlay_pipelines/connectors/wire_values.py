"""Turning platform wire values (string numbers, micros, dates) into typed values, or a RowError.

Platforms send numbers as strings (Meta, Google int64) and money as decimal strings or micros;
floats would lose cents, so money becomes `Decimal`. Each parser names the field it failed on.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation

MICROS_PER_UNIT = Decimal(1_000_000)


class RowError(ValueError):
    """A record cannot be normalised; `field` is the offending field and `reason` says why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def dig(record: Mapping[str, object], path: str, *, required: bool = True) -> object:
    """The value at dotted `path` in a nested record; RowError when required and missing."""
    value: object = record
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            if required:
                raise RowError(path, "is missing")
            return None
        value = value[part]
    if required and value is None:
        raise RowError(path, "is null")
    return value


def to_decimal(value: object, field: str) -> Decimal:
    """A finite decimal from a wire string or JSON number (ints exactly, floats via repr)."""
    if isinstance(value, bool) or value is None:
        raise RowError(field, f"expected a number, got {value!r}")
    try:
        number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)  # type: ignore[arg-type]
    except (InvalidOperation, TypeError, ValueError):
        raise RowError(field, f"expected a number, got {value!r}") from None
    if not number.is_finite():
        raise RowError(field, f"expected a finite number, got {value!r}")
    return number


def to_non_negative_decimal(value: object, field: str) -> Decimal:
    """Like `to_decimal`, but a negative amount is refused (spend and counts are never negative)."""
    number = to_decimal(value, field)
    if number < 0:
        raise RowError(field, f"must not be negative, got {value!r}")
    return number


def to_count(value: object, field: str) -> int:
    """A non-negative whole count (impressions, clicks) from a wire string or integer."""
    number = to_non_negative_decimal(value, field)
    if number != number.to_integral_value():
        raise RowError(field, f"expected a whole number, got {value!r}")
    return int(number)


def micros_to_decimal(value: object, field: str) -> Decimal:
    """Google's micros (int64 as a string) to an exact decimal amount: "12340000" → 12.34."""
    micros = to_count(value, field)
    return Decimal(micros) / MICROS_PER_UNIT


def to_date(value: object, field: str) -> date:
    """A calendar date from 'YYYY-MM-DD'."""
    if not isinstance(value, str):
        raise RowError(field, f"expected a date 'YYYY-MM-DD', got {value!r}")
    try:
        return date.fromisoformat(value[:10]) if len(value) >= 10 else date.fromisoformat(value)
    except ValueError:
        raise RowError(field, f"expected a date 'YYYY-MM-DD', got {value!r}") from None


def to_text(value: object, field: str, *, required: bool = True) -> str | None:
    """A string field; numbers are accepted as their text (ids arrive as either)."""
    if value is None:
        if required:
            raise RowError(field, "is missing")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise RowError(field, f"expected text, got {type(value).__name__}")
    return str(value)
