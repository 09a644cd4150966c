"""Free-form event `properties` scrubbed at any depth before storage.

At every level of nesting, keys whose names suggest credentials or contact data (`email`,
`customer_phone`, `token`, …) are dropped with their values, and every remaining string, keys
included, is masked as free text. Values must be JSON (objects with string keys, arrays, strings,
booleans, null, numbers); numbers must be finite and integers fit in 64 bits, which every reader
of the lake (DuckDB's JSON functions, pyarrow) can hold.
"""

from __future__ import annotations

import math
from typing import Any

from ownlay_pipelines.privacy.free_text import mask_contact_data
from ownlay_pipelines.privacy.urls import is_sensitive_name

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def scrub_properties(properties: dict[str, Any]) -> dict[str, Any]:
    """A copy of `properties` without sensitive keys and with contact data masked, at any depth.

    ValueError for a non-finite number or an integer outside 64 bits (its path in the message).
    """
    return _scrub_object(properties, "properties")


def _scrub_object(value: dict[Any, Any], path: str) -> dict[str, Any]:
    scrubbed: dict[str, Any] = {}
    for name, item in value.items():
        if type(name) is not str:
            raise ValueError(f"{path} has a key that is not a string")
        if is_sensitive_name(name):
            continue
        kind = type(item)
        if kind is str:
            scrubbed[mask_contact_data(name)] = mask_contact_data(item)
        elif kind is bool or item is None or (kind is float and math.isfinite(item)):
            scrubbed[mask_contact_data(name)] = item
        else:
            scrubbed[mask_contact_data(name)] = _scrub(item, f"{path}.{name[:40]}")
    return scrubbed


def _scrub(value: Any, path: str) -> Any:
    if isinstance(value, str):
        return mask_contact_data(value)
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
        return _scrub_object(value, path)
    if isinstance(value, list):
        return [_scrub(item, f"{path}[{index}]") for index, item in enumerate(value)]
    raise ValueError(f"{path} is not a JSON value ({type(value).__name__})")


def drop_sensitive_properties(properties: dict[str, Any]) -> dict[str, Any]:
    """Top-level properties whose names do not suggest credentials or PII (already true of
    validated events, whose properties `scrub_properties` cleaned at every depth)."""
    return {name: value for name, value in properties.items() if not is_sensitive_name(name)}
