"""Contact data to hash and network data to truncate: HMAC-SHA256 pseudonyms.

E-mails, phone numbers and IP addresses are stored only as HMAC-SHA256 pseudonyms keyed with a
secret kept outside the lake (`OWNLAY_PII_HASH_KEY`): plain SHA-256 of an IPv4 address is
reversible in about half an hour on one core, and an unkeyed e-mail hash matches leaked lists
(reference/perf_reliability.md §4.5). IPs are truncated to their network before hashing (/24 for
IPv4, /48 for IPv6); an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is the IPv4 address it maps.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from ipaddress import IPv4Address, IPv6Address

PII_HASH_KEY_ENV = "OWNLAY_PII_HASH_KEY"
MIN_KEY_BYTES = 32
IPV4_KEPT_PREFIX = 24
IPV6_KEPT_PREFIX = 48
SHA256_BLOCK_BYTES = 64
IP_CACHE_ENTRIES = 65_536


class PiiKeyMissing(RuntimeError):
    """The HMAC key for personal data is not configured, so nothing personal may be stored."""


class PiiHasher:
    """Keyed pseudonyms for IP addresses, e-mails and phone numbers; the key never leaves it."""

    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise PiiKeyMissing(
                f"{PII_HASH_KEY_ENV} must hold at least {MIN_KEY_BYTES} bytes; generate one with "
                "`python -c 'import secrets; print(secrets.token_hex(32))'`"
            )
        # HMAC's two keyed SHA-256 states, computed once: each pseudonym then copies them instead
        # of re-deriving them from the key (half the cost of `hmac.new` per value).
        block = (hashlib.sha256(key).digest() if len(key) > SHA256_BLOCK_BYTES else key).ljust(
            SHA256_BLOCK_BYTES, b"\0"
        )
        self._inner = hashlib.sha256(bytes(byte ^ 0x36 for byte in block))
        self._outer = hashlib.sha256(bytes(byte ^ 0x5C for byte in block))
        # Visitors send many events from one address; the event model keeps as many parsed
        # addresses in memory already (events/model.py `_ip`).
        self._ip_pseudonyms: dict[IPv4Address | IPv6Address, str] = {}

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
        (reference/perf_reliability.md §4.5). `::ffff:a.b.c.d` hashes as `a.b.c.d`: otherwise
        every IPv4-mapped address would fall into the one /48 `::` and share a pseudonym.
        """
        pseudonym = self._ip_pseudonyms.get(address)
        if pseudonym is None:
            original = address
            if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
                address = address.ipv4_mapped
            kept_bytes = (IPV4_KEPT_PREFIX if address.version == 4 else IPV6_KEPT_PREFIX) // 8
            packed = address.packed
            pseudonym = self._digest(b"ip:", packed[:kept_bytes] + bytes(len(packed) - kept_bytes))
            if len(self._ip_pseudonyms) >= IP_CACHE_ENTRIES:
                self._ip_pseudonyms.clear()
            self._ip_pseudonyms[original] = pseudonym
        return pseudonym

    def hash_email(self, email: str) -> str:
        """Pseudonym of the trimmed, lower-cased e-mail address, as 64 hex digits."""
        return self._digest(b"email:", email.strip().lower().encode())

    def hash_phone(self, phone: str) -> str:
        """Pseudonym of the phone number's digits (`+1 (415) 555-0123` = `14155550123`)."""
        return self._digest(b"phone:", "".join(c for c in phone if c.isdigit()).encode())

    def hash_identifier(self, value: str) -> str:
        """Pseudonym of an opaque id (user or anonymous id), for lists that must not hold it
        verbatim (the GDPR suppression list), as 64 hex digits."""
        return self._digest(b"id:", value.encode())

    def _digest(self, domain: bytes, value: bytes) -> str:
        # HMAC-SHA256 (RFC 2104) of domain + value; the domain prefix keeps an IP and an e-mail
        # with equal bytes from sharing a pseudonym.
        inner = self._inner.copy()
        inner.update(domain + value)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()

    def __repr__(self) -> str:
        return "PiiHasher(key=***)"


def optional_hasher(environ: Mapping[str, str] | None = None) -> PiiHasher | None:
    """The configured hasher, or None when `OWNLAY_PII_HASH_KEY` is unset.

    For the store connectors: without a key they keep no contact data at all (the hash columns
    stay empty) rather than failing the sync; the ingest service, which always receives IPs,
    requires the key instead (`PiiHasher.from_env`).
    """
    try:
        return PiiHasher.from_env(environ)
    except PiiKeyMissing:
        return None
