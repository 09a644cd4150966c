"""The shapes of contact and network data: e-mail addresses, phone numbers and IP addresses.

One set of compiled patterns serves both uses: refusing identifiers that carry such a value
(`identifiers`) and masking it inside free text (`free_text`). A phone number is a `+` followed by
7–15 digits, or groups of digits joined by spaces, dots or dashes (optionally a `(area)` code)
totalling 9–15 digits, each of at most five digits unless a `+` country code leads; a bare run
of digits is not a phone number, because numeric ids are, and neither is a date followed by an
hour (`2026-11-03 18:22`).
"""

from __future__ import annotations

import re
from ipaddress import ip_address

EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+(?:@|%40)[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
"""An e-mail address, also with its `@` percent-encoded as it appears in URLs."""

_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
IPV4 = re.compile(rf"(?<![^\W_]|\.){_OCTET}(?:\.{_OCTET}){{3}}(?![\w.]*\d)")
"""A dotted-quad IPv4 address not embedded in a longer run of digits and dots, nor right after
a letter (`v1.2.3.4`); after an underscore it counts (`sess_203.0.113.77`)."""
IPV6_CANDIDATE = re.compile(r"(?<![^\W_]|[:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")
"""Text shaped like an IPv6 address; `ipaddress` decides (a time `11:30:00` is not one)."""
PHONE_CANDIDATE = re.compile(
    r"(?<![\w+.\-])(?:(?:\+|%2[Bb])\d{7,15}(?!\d)"
    r"|(?:\+|%2[Bb])\d{1,3}(?:[\s.\-]?\(\d{1,5}\))?(?:[\s.\-]\d{1,12}){1,6}"
    r"|(?:(?:\+|%2[Bb])\d{1,3}[\s.\-]?)?(?:\(\d{1,5}\)[\s.\-]?)?\d{1,5}(?:[\s.\-]\d{1,5}){1,5})"
    r"(?![\w\-])"
)
"""Text shaped like a phone number; `is_phone` checks the digit count. Digit groups hold at most
five digits, except after a `+` country code (`+49 30 12345678`, `+1 4155550123`)."""
MIN_PHONE_DIGITS = 9
MAX_PHONE_DIGITS = 15
_YEAR, _MONTH, _DAY = r"(?:19|20)\d\d", r"(?:0?[1-9]|1[0-2])", r"(?:0?[1-9]|[12]\d|3[01])"
DATE_AND_HOUR = re.compile(
    rf"(?:{_YEAR}([-.]){_MONTH}\1{_DAY}|{_DAY}([-.]){_MONTH}\2{_YEAR}|{_MONTH}-{_DAY}-{_YEAR})"
    r"\s+\d{1,2}"
)
"""A date and the hour of a time after it (`2026-11-03 18:22:07`, `03.11.2026 18:22`): its digit
groups look like a phone number's, and the minutes after the `:` end the match."""


def is_phone(candidate: str) -> bool:
    """True when a `PHONE_CANDIDATE` match has as many digits as a real phone number and is not
    a date followed by an hour."""
    plain = candidate.replace("%2B", "+").replace("%2b", "+")
    digits = sum(character.isdigit() for character in plain)
    return MIN_PHONE_DIGITS <= digits <= MAX_PHONE_DIGITS and not DATE_AND_HOUR.fullmatch(plain)


def is_ipv6(candidate: str) -> bool:
    """True when an `IPV6_CANDIDATE` match parses as an IPv6 address."""
    try:
        ip_address(candidate)
    except ValueError:
        return False
    return True


MAY_HOLD_CONTACT_DATA_RE2 = r"[@+]|%[0-9A-Fa-f]{2}|\p{Nd}[^\p{L}\p{Nd}]\p{Nd}|:[0-9A-Fa-f]{0,4}:"
"""An RE2 regular expression (DuckDB's `regexp_matches`) that every text holding an e-mail,
phone number or IP matches: an `@`, a `+`, a percent-escape (`%40`, `%2B`, and any other, since
masking also looks at the text decoded), two digits around a character that is neither letter
nor digit (every dotted quad, and every phone number written in digit groups, has one), or two
colons around at most four hex digits (IPv6). Text that does not match needs no masking; one
that does is only a candidate for `free_text.mask_contact_data`."""
