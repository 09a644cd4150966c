"""Opaque identifiers: ids chosen by the sender that must never carry contact or network data.

`user_id`, `anonymous_id`, `session_id`, `device_id` and the ad ids are stored as sent, because
joins and deduplication need them verbatim. So an id that holds an e-mail address, a phone number
or an IP address is refused (422 naming the field) rather than stored or silently rewritten: the
sender learns to send a stable id, and the e-mail goes to the `email` field, which is hashed.
"""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import unquote

from ownlay_pipelines.privacy.patterns import (
    EMAIL,
    IPV4,
    IPV6_CANDIDATE,
    PHONE_CANDIDATE,
    is_ipv6_match,
    is_phone,
    may_hold_email,
)

REFUSAL = {
    "email": "looks like an e-mail address; send a stable id and put the e-mail in 'email'",
    "phone": "contains a phone number; send a stable id, never contact data",
    "ip": "contains an IP address; send a stable id (the IP belongs in context.ip)",
}
"""The 422 reason per kind of contact data found in an identifier."""


@lru_cache(maxsize=65_536)
def contact_kind(value: str) -> str | None:
    """'email', 'phone' or 'ip' when `value`, or `value` percent-decoded once, holds such data,
    else None (cached per value)."""
    kind = _kind(value)
    if kind is None and "%" in value and (decoded := unquote(value)) != value:
        return _kind(decoded)
    return kind


def _kind(value: str) -> str | None:
    if "@" in value or (may_hold_email(value) and EMAIL.search(value)):
        return "email"
    if IPV4.search(value) or any(map(is_ipv6_match, IPV6_CANDIDATE.finditer(value))):
        return "ip"
    if any(is_phone(m.group()) for m in PHONE_CANDIDATE.finditer(value)):
        return "phone"
    return None


def check_identifier(value: str) -> str:
    """`value` unchanged, or ValueError with the reason when it carries contact or network data."""
    kind = contact_kind(value)
    if kind is not None:
        raise ValueError(REFUSAL[kind])
    return value
