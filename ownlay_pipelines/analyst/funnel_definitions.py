"""Funnel definitions: seed 001's JSON shape, one file per workspace.

`<data dir>/metadata/funnels/<workspace>.json` holds `{"funnels": [...]}` (or the list alone);
each funnel is seed 001's object — `name`, `stages` (`order`, `name`, `event_type`, `filter`) —
plus `conversion_window` ("30m", "24h", "7d" or seconds; default 7 days, at most 366 days).
`steps` is accepted for `stages`. Event types go through seed 000's allow-list with the other seeds' spellings mapped
onto it (`checkout_started` → `checkout_start`, `sign_up` → `signup`; events/event_types.py).
A filter maps `properties.<key>` or an event column (utm_*, device_type, country, …) to the
value it must equal, compared as text. A workspace without a file gets seed 001's e-commerce
funnel without its `properties.status` filter (our purchase events are completed orders).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ownlay_pipelines.events.event_types import ALLOWED_EVENT_TYPES, canonical_event_type
from ownlay_pipelines.registry.tenant import validate_workspace_id

DEFAULT_WINDOW_SECONDS = 7 * 86_400
# Mixpanel's limit too (reference/analytics.md §2.1); it keeps the scanned event days bounded.
MAX_WINDOW_DAYS = 366
WINDOW = re.compile(r"^\s*([+-]?\d+)\s*([smhd]?)\s*$")
UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3_600, "d": 86_400}
PROPERTY_KEY = re.compile(r"^[A-Za-z0-9_]{1,64}$")
FILTER_COLUMNS = frozenset(
    {
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "utm_content",
        "utm_term",
        "campaign_id",
        "device_type",
        "os",
        "browser",
        "country",
        "region",
        "path",
        "source_platform",
    }
)


class FunnelDefinitionError(ValueError):
    """A funnel definition that cannot be used; the message names the field and the fix."""


@dataclass(frozen=True)
class StepFilter:
    """An event matches when `column` (or JSON property `property_key`) equals `value`."""

    value: str
    column: str | None = None
    property_key: str | None = None


@dataclass(frozen=True)
class FunnelStep:
    """One ordered step: an allow-listed event type and the filters its events must pass."""

    name: str
    event_type: str
    filters: tuple[StepFilter, ...] = ()


@dataclass(frozen=True)
class FunnelDefinition:
    """Ordered steps that must all happen within `window_seconds` of the first."""

    name: str
    steps: tuple[FunnelStep, ...]
    window_seconds: int = DEFAULT_WINDOW_SECONDS

    def __post_init__(self) -> None:
        if len(self.steps) < 2:
            raise FunnelDefinitionError(f"funnel {self.name!r} needs at least 2 steps")
        if self.window_seconds <= 0:
            raise FunnelDefinitionError(f"funnel {self.name!r}: the window must be positive")


def parse_window(text: str | int, field: str = "window") -> int:
    """Seconds in "45", "30m", "24h", "7d" (or an int of seconds), at most MAX_WINDOW_DAYS;
    errors name the value as `field`."""
    if isinstance(text, int) and not isinstance(text, bool):
        seconds = text
    else:
        match = WINDOW.match(str(text))
        if not match:
            raise FunnelDefinitionError(
                f"{field} {text!r} is not a duration like '3600', '30m', '24h' or '7d'"
            )
        seconds = int(match.group(1)) * UNIT_SECONDS[match.group(2)]
    if seconds <= 0:
        raise FunnelDefinitionError(f"{field} {text!r} must be longer than zero")
    if seconds > MAX_WINDOW_DAYS * 86_400:
        raise FunnelDefinitionError(f"{field} {text!r} is longer than {MAX_WINDOW_DAYS} days")
    return seconds


def step_for(event_type: str, *, name: str | None = None, filters: Any = None) -> FunnelStep:
    """A step of the allow-listed type `event_type` names (aliases included)."""
    canonical = canonical_event_type(event_type)
    if canonical is None:
        raise FunnelDefinitionError(
            f"step event type {event_type!r} is not one of {ALLOWED_EVENT_TYPES} "
            "(or checkout_started, sign_up)"
        )
    return FunnelStep(name or canonical.value, canonical.value, _filters(filters, event_type))


def _filters(filters: Any, step: str) -> tuple[StepFilter, ...]:
    if filters is None:
        return ()
    if not isinstance(filters, dict):
        raise FunnelDefinitionError(f"step {step!r}: filter must be an object or null")
    parsed = []
    for key, value in sorted(filters.items()):
        if isinstance(value, dict | list) or value is None:
            raise FunnelDefinitionError(f"step {step!r}: filter {key!r} must be a plain value")
        text = str(value).lower() if isinstance(value, bool) else str(value)
        if key.startswith("properties."):
            prop = key.removeprefix("properties.")
            if not PROPERTY_KEY.fullmatch(prop):
                raise FunnelDefinitionError(f"step {step!r}: property name {prop!r} is invalid")
            parsed.append(StepFilter(text, property_key=prop))
        elif key in FILTER_COLUMNS:
            parsed.append(StepFilter(text, column=key))
        else:
            raise FunnelDefinitionError(
                f"step {step!r}: cannot filter on {key!r}; use properties.<key> or one of "
                f"{', '.join(sorted(FILTER_COLUMNS))}"
            )
    return tuple(parsed)


def parse_funnel(document: Any) -> FunnelDefinition:
    """One funnel from seed 001's object shape (see the module docstring)."""
    if not isinstance(document, dict):
        raise FunnelDefinitionError("a funnel must be a JSON object")
    name = document.get("name")
    if not isinstance(name, str) or not name.strip():
        raise FunnelDefinitionError("a funnel needs a non-empty 'name'")
    stages = document.get("stages", document.get("steps"))
    if not isinstance(stages, list):
        raise FunnelDefinitionError(f"funnel {name!r}: 'stages' must be a list")
    ordered = sorted(enumerate(stages), key=lambda item: (_order(item[1], name), item[0]))
    steps = tuple(
        step_for(
            _event_type(stage, name), name=_stage_name(stage, name), filters=stage.get("filter")
        )
        for _, stage in ordered
    )
    window = document.get("conversion_window", DEFAULT_WINDOW_SECONDS)
    field = f"funnel {name!r}: conversion_window"
    return FunnelDefinition(name.strip(), steps, parse_window(window, field))


def _order(stage: Any, funnel: str) -> int:
    if not isinstance(stage, dict):
        raise FunnelDefinitionError(f"funnel {funnel!r}: every stage must be an object")
    order = stage.get("order", 0)
    if not isinstance(order, int) or isinstance(order, bool):
        raise FunnelDefinitionError(f"funnel {funnel!r}: stage 'order' must be an integer")
    return order


def _stage_name(stage: dict[str, Any], funnel: str) -> str | None:
    name = stage.get("name")
    if name is not None and not isinstance(name, str):
        raise FunnelDefinitionError(f"funnel {funnel!r}: stage 'name' must be text, not {name!r}")
    return name


def _event_type(stage: dict[str, Any], funnel: str) -> str:
    event_type = stage.get("event_type")
    if not isinstance(event_type, str):
        raise FunnelDefinitionError(f"funnel {funnel!r}: every stage needs an 'event_type'")
    return event_type


DEFAULT_FUNNELS = (
    FunnelDefinition(
        "E-commerce Purchase Funnel",
        (
            step_for("page_view", name="Page View"),
            step_for("add_to_cart", name="Add to Cart"),
            step_for("checkout_started", name="Checkout Started"),
            step_for("purchase", name="Purchase Completed"),
        ),
        window_seconds=86_400,
    ),
)


def funnels_file(data_dir: Path, workspace_id: str) -> Path:
    """Where the workspace's funnel definitions live."""
    return data_dir / "metadata" / "funnels" / f"{validate_workspace_id(workspace_id)}.json"


def load_funnels(data_dir: Path, workspace_id: str) -> tuple[FunnelDefinition, ...]:
    """The workspace's funnels from its file, or the default funnel when it has none."""
    path = funnels_file(data_dir, workspace_id)
    if not path.exists():
        return DEFAULT_FUNNELS
    data = path.read_bytes()
    try:
        # utf-8-sig: Windows editors start the file with a BOM, which is no part of the JSON.
        document = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise FunnelDefinitionError(
            f"{path}: line {line} is not UTF-8 text (byte {data[error.start]:#04x}); "
            "save the file as UTF-8"
        ) from None
    except json.JSONDecodeError as error:
        raise FunnelDefinitionError(f"{path}: not valid JSON ({error})") from None
    listed = document.get("funnels") if isinstance(document, dict) else document
    if not isinstance(listed, list) or not listed:
        raise FunnelDefinitionError(f"{path}: expected a non-empty list under 'funnels'")
    funnels = tuple(parse_funnel(item) for item in listed)
    names = [f.name for f in funnels]
    if len(set(names)) != len(names):
        raise FunnelDefinitionError(f"{path}: funnel names must be unique")
    return funnels
