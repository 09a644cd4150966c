"""The one source of "now" for the watchtower, injectable so tests never sleep."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]
"""Returns the current time as a timezone-aware UTC datetime."""


def utc_now() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


def require_aware(value: datetime, what: str) -> datetime:
    """Return `value` in UTC; refuse naive datetimes because the ops store keeps TIMESTAMPTZ."""
    if value.tzinfo is None:
        raise ValueError(f"{what} {value.isoformat()} has no timezone; pass an aware datetime")
    return value.astimezone(UTC)
