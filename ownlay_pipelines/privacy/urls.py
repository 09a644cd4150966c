"""URLs on their way to storage: credentials, fragments and personal query parameters removed.

Click ids (gclid, fbclid, ttclid, …) and UTM parameters stay because attribution needs them (seed
001 "URLs: remove query parameters if sensitive"); whatever e-mail, phone or IP is left in the
other parameters is masked as free text while they are decoded, in the path by the caller.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import unquote, unquote_plus, urlencode, urlsplit, urlunsplit

from ownlay_pipelines.privacy.free_text import mask_contact_data

SENSITIVE_NAMES = frozenset(
    {
        "auth", "authorization", "jwt", "key", "pass", "pwd", "sid", "session", "sessionid",
        "session_id", "phpsessid", "jsessionid", "sig", "signature", "ssn", "tel", "mobile",
    }
)  # fmt: skip
"""Parameter or property names removed when they match exactly (case-insensitive)."""

SENSITIVE_FRAGMENTS = re.compile(
    "email|e-mail|e_mail|password|passwd|token|secret|phone|api_key|apikey|api-key|credit_card"
    "|card_number|cvv"
)
"""Parameter or property names removed when they contain one of these (`user_email`)."""


@lru_cache(maxsize=4096)
def is_sensitive_name(name: str) -> bool:
    """True when a query parameter or property called `name` may carry credentials or PII."""
    lowered = name.strip().lower()
    return lowered in SENSITIVE_NAMES or SENSITIVE_FRAGMENTS.search(lowered) is not None


@lru_cache(maxsize=16_384)
def strip_sensitive_url(url: str) -> str:
    """`url` without user:password, fragment and sensitive query parameters; click ids stay.

    The fragment goes too because OAuth implicit flows put `access_token` there. The kept
    parameters are masked as free text while decoded: encoded again, `(415) 555-0123` becomes
    `%28415%29+555-0123`, which the patterns no longer see. Cached: landing pages repeat.
    """
    parts = urlsplit(url)
    if not parts.query and not parts.fragment and "@" not in parts.netloc:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    kept = []
    for pair in parts.query.split("&"):
        if not pair:
            continue
        raw_name, _, raw_value = pair.partition("=")
        name = unquote_plus(raw_name)
        if not is_sensitive_name(name):
            kept.append((mask_contact_data(name), _masked_value(raw_value)))
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(kept, safe="[]"), ""))


def _masked_value(raw: str) -> str:
    """A query value decoded and masked as free text. A `+` is a space (form encoding) unless,
    read as sent, it belongs to contact data (`jane+shop@example.com`, `+49 30 11223344`)."""
    spaced = mask_contact_data(unquote_plus(raw))
    if "+" not in raw:
        return spaced
    literal = unquote(raw)
    masked = mask_contact_data(literal)
    if masked == literal:
        return spaced
    return mask_contact_data(masked.replace("+", " "))
