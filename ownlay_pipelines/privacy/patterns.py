"""The shapes of contact and network data: e-mail addresses, phone numbers and IP addresses.

One set of compiled patterns serves both uses: refusing identifiers that carry such a value
(`identifiers`) and masking it inside free text (`free_text`). docs/privacy.md lists, with the
reason for each, which written forms count and which look-alikes do not; in short:

- an e-mail is `local@domain.tld` in any script (`jane@müller.de`, `用户@例子.广告`), its `@`
  also written `%40`, `＠`, `﹫`, as an HTML entity (`&#64;`, `&#x40;`, `&commat;`) or `(at)`;
- an IPv4 address is a dotted quad of octets, also glued to a label (`ip203.0.113.77`) but not
  to a lone `v` (`v1.2.3.4`); an IPv6 address is whatever `ipaddress` parses, glued to letters
  only with three colons or more (`ip2001:db8::1`, not `Cache::add`), and never a bare `::`;
- a phone number has 9–15 digits: after a `+` or `tel:` unbroken, else in groups of at most
  five digits each, unless a `+` country code leads (`+49 30 12345678`) or a trunk `0` does
  (`030 12345678`, `030/1234567`, `(030) 12345678`). A bare run of digits is not one,
  because numeric ids are, and neither is a date followed by an hour (`2026-11-03 18:22`).
"""

from __future__ import annotations

import re
from ipaddress import ip_address

_AT = (
    r"(?:[@＠﹫]|%40|&#0*64;|&#[xX]0*40;|&commat;"
    r"|\s?\((?i:at)\)\s?|\s?\[(?i:at)\]\s?)"
)
_DOT = r"[.．。｡]"
EMAIL = re.compile(
    rf"(?<![\w.%+\-])[\w.%+\-]+{_AT}[\w\-]+(?:{_DOT}[\w\-]+)*{_DOT}(?:xn--[\w\-]+|[^\W\d_]{{2,}})"
)
"""An e-mail address in any script (the domain as typed or in punycode), its `@` also written
as it appears in URLs, HTML, East Asian text or an imprint page (`%40`, `&#64;`, `＠`, `(at)`).
Search it only where `may_hold_email` says so: most text holds no `@` in any form."""
_AT_SIGNS = ("@", "%40", "&#", "&commat;", "＠", "﹫")
_BRACKETED_AT = re.compile(r"[(\[][Aa][Tt][)\]]")


def may_hold_email(text: str) -> bool:
    """True when `text` holds one of the forms of `@` that `EMAIL` knows: a few substring tests
    instead of the pattern's backtracking through every word."""
    return any(sign in text for sign in _AT_SIGNS) or _BRACKETED_AT.search(text) is not None


_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
IPV4 = re.compile(
    rf"(?=\d{{1,3}}\.)(?<![\d.])(?<!(?<![^\W\d_])[vV]){_OCTET}(?:\.{_OCTET}){{3}}(?![\w.]*\d)"
)
"""A dotted-quad IPv4 address not embedded in a longer run of digits and dots, nor right after
a lone `v` (`v1.2.3.4`, a version); after any other letter or an underscore it counts
(`ip203.0.113.77`, `sess_203.0.113.77`)."""
IPV6_CANDIDATE = re.compile(
    r"(?=[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:)(?<![0-9A-Fa-f.])(?<![0-9A-Fa-f:]:)(?=[0-9A-Fa-f]|::)"
    r"(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![0-9A-Fa-f:])"
)
"""Text shaped like an IPv6 address, starting at a hex digit or `::` that does not continue a
run of hex digits and colons (`ip:2001:db8::1` starts at `2001`) and ending before anything but
one (`2001:db8::1xyz`); `is_ipv6_match` decides (a time `11:30:00` is not one)."""
_SEP = r"[\s.\-‐‑‒–—−－]"
"""What joins a phone number's digit groups: a space, a dot, a hyphen, or one of the dashes
word processors and East Asian input put in a hyphen's place."""
_PLUS = r"(?:\+|%2[Bb])"
PHONE_CANDIDATE = re.compile(
    r"(?=[\d(+%])(?<![^\W_]|[+\-‐‑‒–—−－])(?<!\d\.)(?:"
    rf"{_PLUS}\d{{7,15}}(?!\d)"
    rf"|{_PLUS}\d{{1,3}}(?:{_SEP}?\(\d{{1,5}}\){_SEP}?\d{{1,12}}(?:{_SEP}\d{{1,12}}){{0,5}}"
    rf"|(?:{_SEP}\d{{1,12}}){{1,6}})"
    rf"|(?:\(0\d{{1,4}}\){_SEP}?|0\d{{1,4}}{_SEP}|(?<!/)0\d{{1,4}}/)"
    rf"\d{{1,8}}(?:{_SEP}\d{{1,8}}){{0,4}}"
    rf"|(?:{_PLUS}\d{{1,3}}{_SEP}?)?(?:\(\d{{1,5}}\){_SEP}?)?\d{{1,5}}(?:{_SEP}\d{{1,5}}){{1,5}}"
    r"|(?<=[Tt][Ee][Ll]:)\d{7,15}(?!\d)"
    r")(?![^\W_]|[\-‐‑‒–—−－])"
)
"""Text shaped like a phone number; `is_phone` checks the digit count. Digit groups hold at most
five digits, except after a `+` country code (`+49 30 12345678`, `+1 4155550123`, `+49 (0)30
12345678`) or a trunk `0` (`030 12345678`, `0151-23456789`, `030/1234567`: a slash only right
after the area code, and not inside a path). It may follow an underscore (`sale_415-555-0123`)
or a word and a dot (`Tel.415-555-0123`), not a letter, a digit and a dot, a `+` or a dash."""
MIN_PHONE_DIGITS = 9
MAX_PHONE_DIGITS = 15
MIN_GLUED_IPV6_COLONS = 3
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


def is_ipv6(candidate: str, *, after_letter: bool = False) -> bool:
    """True when an `IPV6_CANDIDATE` match parses as an IPv6 address other than the bare `::`
    (a separator in titles: `Acme :: Tents`). `after_letter`: the match is glued to a letter
    before it, where only an address of three colons or more counts (`ip2001:db8::1`), as
    `Cache::add` or `acme::bead` in text and ids are no addresses."""
    if candidate == "::":
        return False
    if after_letter and candidate.count(":") < MIN_GLUED_IPV6_COLONS:
        return False
    try:
        ip_address(candidate)
    except ValueError:
        return False
    return True


def is_ipv6_match(match: re.Match[str]) -> bool:
    """`is_ipv6` of an `IPV6_CANDIDATE` match, knowing whether a letter precedes it."""
    start = match.start()
    return is_ipv6(match.group(), after_letter=start > 0 and match.string[start - 1].isalpha())


MAY_HOLD_CONTACT_DATA_RE2 = (
    r"[@+＠﹫]|%[0-9A-Fa-f]{2}|&(?:#|commat;)|[(\[](?i:at)[)\]]|(?i:tel:)\p{Nd}"
    r"|\p{Nd}[^\p{L}\p{Nd}]\p{Nd}|\p{Nd}\)|:[0-9A-Fa-f]{0,4}:"
)
"""An RE2 regular expression (DuckDB's `regexp_matches`) that every text holding an e-mail,
phone number or IP matches: an `@` (or `＠`, `﹫`, an HTML character reference, `(at)`,
`[at]`), a `+`, a percent-escape (`%40`, `%2B`, and any other, since masking also looks at the
text decoded), `tel:` and a digit, two digits around a character that is neither letter nor
digit (every dotted quad, and every phone number written in digit groups, has one), a digit
before a `)` (`(030) 12345678`), or two colons around at most four hex digits (IPv6). Text that
does not match needs no masking; one that does is only a candidate for
`free_text.mask_contact_data`."""
