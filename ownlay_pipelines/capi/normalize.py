"""Normalise, then SHA-256: contact data as each Conversions API documents it.

Every platform matches a hashed identifier against its own users, so a value normalised the
wrong way (capitals, a missing country code, a `+` where none is wanted) silently never matches.
The rules per field and platform follow reference/analytics.md §4.6:

- e-mail: trim and lowercase everywhere; Google also drops every `.` of a gmail.com /
  googlemail.com local part.
- phone: parsed with `phonenumbers` in the workspace's default region to E.164; Google and
  TikTok keep the `+`, Meta and Snapchat want the digits only.
- names, city, state, zip, country: lowercase and trimmed; Meta also strips punctuation and the
  characters its SDK removes; Google sends city/state/zip/country as plain text (not hashed).
- external_id: trimmed and hashed (Meta, TikTok, Snapchat).
- a value that already is a 64-hex SHA-256 is passed through, lower-cased, not hashed again.

These are the `contact` privacy class (privacy/__init__.py): the hashes leave for the platform,
the raw values wait only in the forwarding outbox (capi/outbox.py).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

import phonenumbers

from ownlay_pipelines.capi.platforms import CapiPlatform


class MatchField(StrEnum):
    """A customer-information field a platform matches on."""

    EMAIL = "email"
    PHONE = "phone"
    FIRST_NAME = "first_name"
    LAST_NAME = "last_name"
    CITY = "city"
    STATE = "state"
    ZIP = "zip"
    COUNTRY = "country"
    EXTERNAL_ID = "external_id"


class NormalizationError(ValueError):
    """The value cannot be normalised for this field and platform; the message says why."""


@dataclass(frozen=True)
class MatchKey:
    """One field ready to send: its normalised text and, unless the platform wants it plain,
    its SHA-256 as 64 lowercase hex digits."""

    normalized: str
    sha256: str | None

    @property
    def wire_value(self) -> str:
        """What goes on the wire: the hash, or the plain text where the platform asks for it."""
        return self.sha256 if self.sha256 is not None else self.normalized


SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
_EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})
_META_CITY_DROP = re.compile(r"[0-9.\s\-()]")
_META_STATE_DROP = re.compile(r"[0-9\s\W_]")
_COUNTRY = re.compile(r"^[a-z]{2}$")

_SUPPORTED: dict[CapiPlatform, frozenset[MatchField]] = {
    CapiPlatform.META: frozenset(MatchField),
    CapiPlatform.GOOGLE: frozenset(MatchField) - {MatchField.EXTERNAL_ID},
    CapiPlatform.TIKTOK: frozenset({MatchField.EMAIL, MatchField.PHONE, MatchField.EXTERNAL_ID}),
    CapiPlatform.SNAPCHAT: frozenset(MatchField),
}
"""Which fields each platform accepts (TikTok matches on e-mail, phone and external id only;
Google's click conversions carry no external id)."""

_GOOGLE_PLAIN = frozenset({MatchField.CITY, MatchField.STATE, MatchField.ZIP, MatchField.COUNTRY})
"""Google's addressInfo sends these as plain text; only names, e-mail and phone are hashed."""


def sha256_hex(text: str) -> str:
    """SHA-256 of the UTF-8 bytes of `text`, as 64 lowercase hex digits."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def supports(platform: CapiPlatform, field: MatchField) -> bool:
    """True when `platform` accepts `field` as a match key."""
    return field in _SUPPORTED[platform]


def match_key(
    platform: CapiPlatform, field: MatchField, value: str, *, default_region: str = "US"
) -> MatchKey:
    """`value` normalised for `field` as `platform` documents it, with its SHA-256.

    `default_region` (ISO 3166-1 alpha-2) is the region a phone number without a country code is
    read in. NormalizationError when the platform does not take the field or the value is not
    one (an e-mail without `@`, a phone number that is not valid in any region, …).
    """
    if not supports(platform, field):
        raise NormalizationError(f"{platform} does not accept {field} as a match key")
    stripped = value.strip()
    if not stripped:
        raise NormalizationError(f"{field} is empty")
    plain = platform is CapiPlatform.GOOGLE and field in _GOOGLE_PLAIN
    if not plain and SHA256_HEX.fullmatch(stripped.lower()):
        digest = stripped.lower()
        return MatchKey(normalized=digest, sha256=digest)
    normalized = _NORMALIZERS[field](platform, stripped, default_region)
    if not normalized:
        raise NormalizationError(f"{field} {value!r} is empty once normalised for {platform}")
    return MatchKey(normalized=normalized, sha256=None if plain else sha256_hex(normalized))


class MatchKeyCache:
    """The match keys of one forwarding run, so a repeated contact is normalised and hashed once
    per (platform, field, value, region) rather than once per event.

    It holds raw values in the forwarding process's memory only, for the run that made it (one
    `drain_destination` or `forward_platform` call), and at most `max_entries` of them (the
    oldest go first): never written anywhere (docs/privacy.md). A value that cannot be
    normalised is remembered too, and refused again with the same reason.
    """

    def __init__(self, max_entries: int = 100_000) -> None:
        if max_entries < 1:
            raise ValueError(f"a match-key cache needs room for 1 entry, got {max_entries}")
        self.max_entries = max_entries
        self.hits = 0
        self.misses = 0
        self._entries: dict[tuple[CapiPlatform, MatchField, str, str], MatchKey | str] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def match_key(
        self, platform: CapiPlatform, field: MatchField, value: str, *, default_region: str = "US"
    ) -> MatchKey:
        """`match_key(platform, field, value, default_region=…)`, computed once per run."""
        entry_key = (platform, field, value, default_region)
        found = self._entries.get(entry_key)
        if found is None:
            self.misses += 1
            try:
                found = match_key(platform, field, value, default_region=default_region)
            except NormalizationError as error:
                found = str(error)
            if len(self._entries) >= self.max_entries:
                del self._entries[next(iter(self._entries))]
            self._entries[entry_key] = found
        else:
            self.hits += 1
        if isinstance(found, str):
            raise NormalizationError(found)
        return found


def normalize_email(platform: CapiPlatform, value: str, _region: str = "") -> str:
    """Trimmed, lower-cased address; for Google, a Gmail local part loses every dot."""
    email = value.strip().lower()
    if not _EMAIL_SHAPE.fullmatch(email):
        raise NormalizationError(f"email {value!r} is not an e-mail address")
    if platform is CapiPlatform.GOOGLE:
        local, domain = email.rsplit("@", 1)
        if domain in _GMAIL_DOMAINS:
            email = f"{local.replace('.', '')}@{domain}"
    return email


def normalize_phone(platform: CapiPlatform, value: str, region: str = "US") -> str:
    """E.164 (`+33612345678`) for Google and TikTok, its digits only for Meta and Snapchat.

    A number with a leading `+` or `00` carries its own country code; any other is read in
    `region`. NormalizationError when it is not a valid number there.
    """
    text = value.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, region.upper())
    except phonenumbers.NumberParseException as error:
        raise NormalizationError(f"phone {value!r} is not a phone number ({error})") from None
    if not phonenumbers.is_valid_number(number):
        raise NormalizationError(f"phone {value!r} is not a valid number in region {region}")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if platform in (CapiPlatform.GOOGLE, CapiPlatform.TIKTOK):
        return e164
    return e164.removeprefix("+")


def _lower(value: str) -> str:
    return unicodedata.normalize("NFC", value.strip().lower())


_ASCII_PUNCTUATION = str.maketrans(
    "", "", "".join(c for c in map(chr, range(128)) if unicodedata.category(c).startswith("P"))
)
"""Deletes the ASCII characters of Unicode's punctuation categories (P*), as the loop below."""


def _without_punctuation(value: str) -> str:
    if value.isascii():
        return value.translate(_ASCII_PUNCTUATION)
    return "".join(c for c in value if not unicodedata.category(c).startswith("P"))


def normalize_name(platform: CapiPlatform, value: str, _region: str = "") -> str:
    """Lower-cased name; Meta drops punctuation, Google collapses inner spaces (and drops
    punctuation), Snapchat only trims."""
    name = _lower(value)
    if platform in (CapiPlatform.META, CapiPlatform.GOOGLE):
        name = _without_punctuation(name)
    if platform is CapiPlatform.GOOGLE:
        name = " ".join(name.split())
    return name.strip()


def normalize_city(platform: CapiPlatform, value: str, _region: str = "") -> str:
    """Meta: lowercase without digits, spaces, `.`, `-` or parentheses (`New York` = `newyork`);
    others: lowercase and trimmed."""
    city = _lower(value)
    if platform is CapiPlatform.META:
        city = _META_CITY_DROP.sub("", city)
    return city


def normalize_state(platform: CapiPlatform, value: str, _region: str = "") -> str:
    """Meta: lowercase letters only (`CA`, `c.a.` = `ca`); Google keeps its plain text; Snapchat
    lowercase."""
    if platform is CapiPlatform.GOOGLE:
        return value.strip()
    state = _lower(value)
    if platform is CapiPlatform.META:
        state = _META_STATE_DROP.sub("", state)
    return state


def normalize_zip(platform: CapiPlatform, value: str, _region: str = "") -> str:
    """Meta: lowercase without spaces, the part before a `-` (`94025-1234` = `94025`); Google
    plain text; Snapchat lowercase."""
    if platform is CapiPlatform.GOOGLE:
        return value.strip()
    zip_code = _lower(value)
    if platform is CapiPlatform.META:
        zip_code = zip_code.replace(" ", "").split("-", 1)[0]
    return zip_code


def normalize_country(platform: CapiPlatform, value: str, _region: str = "") -> str:
    """ISO 3166-1 alpha-2: lowercase (hashed) for Meta and Snapchat, uppercase plain for Google."""
    country = _lower(value)
    if not _COUNTRY.fullmatch(country):
        raise NormalizationError(f"country {value!r} is not a two-letter ISO 3166-1 code")
    return country.upper() if platform is CapiPlatform.GOOGLE else country


def normalize_external_id(_platform: CapiPlatform, value: str, _region: str = "") -> str:
    """Trimmed, case kept: an id is compared exactly as the browser pixel sent it."""
    return value.strip()


_NORMALIZERS = {
    MatchField.EMAIL: normalize_email,
    MatchField.PHONE: normalize_phone,
    MatchField.FIRST_NAME: normalize_name,
    MatchField.LAST_NAME: normalize_name,
    MatchField.CITY: normalize_city,
    MatchField.STATE: normalize_state,
    MatchField.ZIP: normalize_zip,
    MatchField.COUNTRY: normalize_country,
    MatchField.EXTERNAL_ID: normalize_external_id,
}
