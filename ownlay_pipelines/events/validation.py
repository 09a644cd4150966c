"""Validating a request's events one by one, so a bad event never takes the good ones down with it.

The result says, per index, which events were accepted, which were refused and why (the field and
the reason, never the input value), and which repeat an earlier event id of the same batch.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ValidationError

from ownlay_pipelines.events.field_flood import unknown_key_flood
from ownlay_pipelines.events.model import (
    NO_CONTROL_CHARACTERS,
    EventValidationContext,
    OwnlayEvent,
    TrackEvent,
)

EVENT_ID_NAMESPACE = uuid.UUID("5d0f7a9e-3c1b-4f7e-9a51-0c2d6e8b4f13")
"""Namespace of ids derived for events sent without one (uuid5 of workspace and payload)."""


class PayloadKind(StrEnum):
    """Which wire shape a request uses: seed 000's webhook payload or seed 001's tracking SDK."""

    OWNLAY_EVENT = "ownlay_event"
    TRACK = "track"

    @property
    def model(self) -> type[BaseModel]:
        """The pydantic model of one event of this kind."""
        return OwnlayEvent if self is PayloadKind.OWNLAY_EVENT else TrackEvent

    @property
    def id_field(self) -> str:
        """The payload field carrying the event id."""
        return "event_id" if self is PayloadKind.OWNLAY_EVENT else "id"

    @property
    def workspace_field(self) -> str:
        """The payload field naming the tenant (registry/tenant.py)."""
        return "workspace_id" if self is PayloadKind.OWNLAY_EVENT else "project_id"


MAX_FIELD_CHARS = 64
"""A refusal's field path is cut after this many characters (an unknown key is the sender's)."""
MANY_ERRORS = 20
"""More errors than this in one event: first looked for as a flood of unknown keys in a nested
object (`field_flood`), named briefly instead of pydantic listing every one (~1.2 µs each)."""


@dataclass(frozen=True)
class FieldError:
    """One reason an event was refused: the dotted field path and what is wrong with it."""

    field: str
    reason: str


@dataclass(frozen=True)
class Rejection:
    """An event of the batch that was refused, by its position in the request."""

    index: int
    errors: tuple[FieldError, ...]


@dataclass(frozen=True)
class AcceptedEvent:
    """An event of the batch that passed validation, by its position in the request."""

    index: int
    event: OwnlayEvent


@dataclass(frozen=True)
class BatchValidation:
    """The verdict on every event of one request."""

    accepted: tuple[AcceptedEvent, ...]
    rejected: tuple[Rejection, ...]
    duplicate_indexes: tuple[int, ...]


def foreign_workspace(items: Sequence[object], kind: PayloadKind, workspace_id: str) -> str | None:
    """The first workspace named in the payload other than the caller's own, if any."""
    for item in items:
        if isinstance(item, dict):
            named = item.get(kind.workspace_field)
            if named is not None and named != workspace_id:
                return str(named)[:64]
    return None


def validate_batch(
    items: Sequence[object],
    *,
    kind: PayloadKind,
    workspace_id: str,
    context: EventValidationContext,
) -> BatchValidation:
    """Validate each item as an event of `kind`; repeats of an event id in the batch are dropped."""
    accepted: list[AcceptedEvent] = []
    rejected: list[Rejection] = []
    duplicates: list[int] = []
    seen: set[uuid.UUID] = set()
    # Read once per batch: enum properties cost more than the dictionary lookups they feed.
    model, id_field = kind.model, kind.id_field
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            reason = f"an event must be a JSON object, not {_json_type(item)}"
            rejected.append(Rejection(index, (FieldError("(event)", reason),)))
            continue
        if len(item) > len(model.model_fields):  # unknown keys, maybe thousands: no pydantic
            rejected.append(Rejection(index, _flood_errors(unknown_key_flood(item, model))))
            continue
        derive_id = item.get(id_field) is None
        try:
            # An id is derived from the whole event (a serialisation: ~4 ms for a 1 MiB property),
            # so only once the event has passed; until then a placeholder stands in.
            validated = model.model_validate(
                {**item, id_field: PLACEHOLDER_ID} if derive_id else item, context=context
            )
        except ValidationError as error:
            flood = unknown_key_flood(item, model) if error.error_count() > MANY_ERRORS else []
            rejected.append(Rejection(index, _flood_errors(flood) or _field_errors(error)))
            continue
        if derive_id:
            derived = uuid.UUID(derive_event_id(item, workspace_id))
            validated = validated.model_copy(update={id_field: derived})
        event = validated.to_ownlay_event() if isinstance(validated, TrackEvent) else validated
        if event.event_id in seen:
            duplicates.append(index)
            continue
        seen.add(event.event_id)
        accepted.append(AcceptedEvent(index, event))
    return BatchValidation(tuple(accepted), tuple(rejected), tuple(duplicates))


PLACEHOLDER_ID = uuid.UUID(int=0)
"""The id an event sent without one is validated with; its derived id replaces it once it passes."""


def derive_event_id(item: dict[str, object], workspace_id: str) -> str:
    """A stable id for an event sent without one, so a retried request is recognised as a repeat."""
    canonical = json.dumps(item, sort_keys=True, separators=(",", ":"), default=str)
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, f"{workspace_id}\n{canonical}"))


def _flood_errors(flood: list[tuple[str, str]]) -> tuple[FieldError, ...]:
    return tuple(FieldError(_excerpt(field), reason) for field, reason in flood)


def _field_errors(error: ValidationError) -> tuple[FieldError, ...]:
    # include_input=False: a refused event may carry PII, and the reason must not echo it
    # (reference/perf_reliability.md §4.6). A field path can be input too (an unknown key), so
    # it is cut to an excerpt: a 1 MiB key must not come back as a 1 MiB answer.
    return tuple(
        FieldError(
            field=_excerpt(".".join(str(part) for part in detail["loc"]) or "(event)"),
            reason=_reason(detail),
        )
        for detail in error.errors(include_input=False, include_url=False)
    )


def _excerpt(field: str) -> str:
    return field if len(field) <= MAX_FIELD_CHARS else f"{field[:MAX_FIELD_CHARS]}…"


def _reason(detail: Any) -> str:
    context = detail.get("ctx") or {}
    if context.get("pattern") == NO_CONTROL_CHARACTERS:
        # pydantic-core checks this pattern; its own message would print the raw pattern.
        return "must not contain control characters"
    return str(detail["msg"]).removeprefix("Value error, ")


def _json_type(value: object) -> str:
    names = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")
