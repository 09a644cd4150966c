"""What happens to personal data on its way into the event lake: keyed hashes and stripped URLs.

IP addresses and e-mails are stored only as HMAC-SHA256 pseudonyms keyed with a secret kept outside
the lake (`OWNLAY_PII_HASH_KEY`): plain SHA-256 of an IPv4 address is reversible in about half an
hour on one core, and an unkeyed e-mail hash matches leaked lists (reference/perf_reliability.md
§4.5). URLs lose their credentials and personal query parameters but keep the click ids
(gclid, fbclid, ttclid, …) that attribution needs (seed 001 "URLs: remove query parameters if
sensitive").
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Mapping
from functools import lru_cache
from ipaddress import IPv4Address, IPv6Address
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

PII_HASH_KEY_ENV = "OWNLAY_PII_HASH_KEY"
MIN_KEY_BYTES = 32
IPV4_KEPT_PREFIX = 24
IPV6_KEPT_PREFIX = 48

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


class PiiKeyMissing(RuntimeError):
    """The HMAC key for personal data is not configured, so nothing personal may be stored."""


class PiiHasher:
    """Keyed pseudonyms for IP addresses and e-mails; the key never leaves this object."""

    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise PiiKeyMissing(
                f"{PII_HASH_KEY_ENV} must hold at least {MIN_KEY_BYTES} bytes; generate one with "
                "`python -c 'import secrets; print(secrets.token_hex(32))'`"
            )
        self._key = key

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> PiiHasher:
        """The hasher keyed by `OWNLAY_PII_HASH_KEY`; refuses to start without it."""
        env = os.environ if environ is None else environ
        value = env.get(PII_HASH_KEY_ENV, "")
        if not value:
            raise PiiKeyMissing(
                f"{PII_HASH_KEY_ENV} is not set; the ingest service hashes IPs and e-mails with "
                "it. Generate one with `python -c 'import secrets; print(secrets.token_hex(32))'`"
            )
        return cls(value.encode())

    def hash_ip(self, address: IPv4Address | IPv6Address) -> str:
        """Pseudonym of the address's network (/24 for IPv4, /48 for IPv6), as 64 hex digits.

        Truncating before hashing means even a leaked key reveals only the network
        (reference/perf_reliability.md §4.5).
        """
        kept_bytes = (IPV4_KEPT_PREFIX if address.version == 4 else IPV6_KEPT_PREFIX) // 8
        packed = address.packed
        network = packed[:kept_bytes] + bytes(len(packed) - kept_bytes)
        return self._digest(b"ip:", network)

    def hash_email(self, email: str) -> str:
        """Pseudonym of the trimmed, lower-cased e-mail address, as 64 hex digits."""
        return self._digest(b"email:", email.strip().lower().encode())

    def _digest(self, domain: bytes, value: bytes) -> str:
        # The domain prefix keeps an IP and an e-mail with equal bytes from sharing a pseudonym.
        return hmac.new(self._key, domain + value, hashlib.sha256).hexdigest()

    def __repr__(self) -> str:
        return "PiiHasher(key=***)"


@lru_cache(maxsize=4096)
def is_sensitive_name(name: str) -> bool:
    """True when a query parameter or property called `name` may carry credentials or PII."""
    lowered = name.strip().lower()
    return lowered in SENSITIVE_NAMES or SENSITIVE_FRAGMENTS.search(lowered) is not None


def strip_sensitive_url(url: str) -> str:
    """`url` without user:password, fragment and sensitive query parameters; click ids stay.

    The fragment goes too because OAuth implicit flows put `access_token` there.
    """
    parts = urlsplit(url)
    if not parts.query and not parts.fragment and "@" not in parts.netloc:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    kept = [
        (name, value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
        if not is_sensitive_name(name)
    ]
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(kept), ""))


def drop_sensitive_properties(properties: Mapping[str, Any]) -> dict[str, Any]:
    """Top-level properties whose names do not suggest credentials or PII."""
    return {name: value for name, value in properties.items() if not is_sensitive_name(name)}
