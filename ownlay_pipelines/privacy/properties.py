"""Free-form event `properties` scrubbed at any depth before storage.

At every level of nesting, keys whose names suggest credentials or contact data (`email`,
`customer_phone`, `token`, …) are dropped with their values, and every remaining string, keys
included, is masked as free text. Values must be JSON (objects with string keys, arrays, strings,
booleans, null, numbers); numbers must be finite and integers fit in 64 bits, which every reader
of the lake (DuckDB's JSON functions, pyarrow) can hold.

With a size limit, the walk keeps a lower bound of the scrubbed result's compact JSON size (each
kept key and string as masked plus its quotes, one byte a number, a separator an entry) and stops
as soon as it passes the limit: a 1 MiB object of 80,000 keys cost ~300 ms to scrub before the
limit could refuse it, now the few milliseconds until the bound passes 32 KiB. The bound never
exceeds the true size, so nothing the limit would let through is refused.
"""

from __future__ import annotations

import math
from typing import Any

from ownlay_pipelines.privacy.free_text import mask_contact_data
from ownlay_pipelines.privacy.urls import is_sensitive_name

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class PropertiesTooLarge(ValueError):
    """The scrubbed properties are known to exceed the size limit before the walk ends."""


class _SizeBound:
    """A running lower bound of the scrubbed JSON's size in bytes, checked against `limit`."""

    __slots__ = ("bytes", "limit")

    def __init__(self, limit: float) -> None:
        self.bytes = 1  # the outer object's braces and separators: n + 1 for n entries
        self.limit = limit

    def add(self, count: int) -> None:
        self.bytes += count
        if self.bytes > self.limit:
            raise PropertiesTooLarge(
                f"is over {self.limit} bytes as JSON; the limit is {self.limit}"
            )


def scrub_properties(
    properties: dict[str, Any], *, max_json_bytes: int | None = None
) -> dict[str, Any]:
    """A copy of `properties` without sensitive keys and with contact data masked, at any depth.

    ValueError for a non-finite number or an integer outside 64 bits (its path in the message);
    `PropertiesTooLarge` (a ValueError) as soon as the copy is known to exceed `max_json_bytes`
    as compact JSON (module docstring).
    """
    bound = _SizeBound(math.inf if max_json_bytes is None else max_json_bytes)
    return _scrub_object(properties, "properties", bound)


def _scrub_object(value: dict[Any, Any], path: str, bound: _SizeBound) -> dict[str, Any]:
    scrubbed: dict[str, Any] = {}
    for name, item in value.items():
        if type(name) is not str:
            raise ValueError(f"{path} has a key that is not a string")
        if is_sensitive_name(name):
            continue
        key = mask_contact_data(name)
        kind = type(item)
        if kind is str:
            scrubbed[key] = text = mask_contact_data(item)
            bound.add(len(key) + len(text) + 6)  # two quoted strings, a colon, a separator
        elif kind is bool or item is None or (kind is float and math.isfinite(item)):
            scrubbed[key] = item
            bound.add(len(key) + 5)  # a quoted key, a colon, at least one byte, a separator
        else:
            bound.add(len(key) + 4)
            scrubbed[key] = _scrub(item, f"{path}.{name[:40]}", bound)
    return scrubbed


def _scrub(value: Any, path: str, bound: _SizeBound) -> Any:
    if isinstance(value, str):
        text = mask_contact_data(value)
        bound.add(len(text) + 2)
        return text
    bound.add(1)  # a number, true, false, null, or the brackets and separators of a container
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise ValueError(f"{path} is an integer outside the 64-bit range")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{path} is not a finite number")
        return value
    if isinstance(value, dict):
        return _scrub_object(value, path, bound)
    if isinstance(value, list):
        items = []
        for index, item in enumerate(value):
            bound.add(1)  # its separator
            items.append(_scrub(item, f"{path}[{index}]", bound))
        return items
    raise ValueError(f"{path} is not a JSON value ({type(value).__name__})")


def drop_sensitive_properties(properties: dict[str, Any]) -> dict[str, Any]:
    """Top-level properties whose names do not suggest credentials or PII (already true of
    validated events, whose properties `scrub_properties` cleaned at every depth)."""
    return {name: value for name, value in properties.items() if not is_sensitive_name(name)}
