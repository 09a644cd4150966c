"""Seed 000's event-type allow-list, with the spellings the other seeds use mapped onto it."""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    """What happened: seed 000's `EventType` union; anything else is sent as `custom`."""

    PAGE_VIEW = "page_view"
    CLICK = "click"
    IMPRESSION = "impression"
    FORM_SUBMIT = "form_submit"
    ADD_TO_CART = "add_to_cart"
    CHECKOUT_START = "checkout_start"
    PURCHASE = "purchase"
    CONVERSION = "conversion"
    LEAD = "lead"
    SIGNUP = "signup"
    LOGIN = "login"
    CUSTOM = "custom"


EVENT_TYPE_ALIASES: dict[str, EventType] = {
    # Seed 001's funnel example names the step `checkout_started` (seeds/README.md, known traps).
    "checkout_started": EventType.CHECKOUT_START,
    # Seed 002 spells seed 000's `signup` as `sign_up`.
    "sign_up": EventType.SIGNUP,
}

ALLOWED_EVENT_TYPES = ", ".join(member.value for member in EventType)


def canonical_event_type(value: str) -> EventType | None:
    """The allow-listed type `value` names (case-insensitively, aliases included), else None."""
    key = value.strip().lower()
    if key in EVENT_TYPE_ALIASES:
        return EVENT_TYPE_ALIASES[key]
    try:
        return EventType(key)
    except ValueError:
        return None
