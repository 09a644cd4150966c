"""Free text on its way to storage: e-mail addresses, phone numbers and IPs inside it are masked.

Free text is whatever a person typed or a browser reported: URLs and paths, page titles,
referrers, UTM values, ad keywords, cities, user agents, and string values of `properties`. The
value is kept and only the personal part is replaced by `[email]`, `[phone]` or `[ip]`, so a page
title or a campaign name stays useful. In a user agent a product version such as
`Chrome/120.0.0.0` is not an address, nor an app version such as `Instagram 309.1.0.41.113` a
phone number; both are left alone. docs/privacy.md lists what counts as contact data and why.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from urllib.parse import quote, unquote

from ownlay_pipelines.privacy.patterns import (
    EMAIL,
    IPV4,
    IPV6_CANDIDATE,
    PHONE_CANDIDATE,
    is_ipv6_match,
    is_phone,
    may_hold_email,
)

EMAIL_MASK = "[email]"
PHONE_MASK = "[phone]"
IP_MASK = "[ip]"
_MAY_HOLD_CONTACT_DATA = re.compile(r"[@%\d:＠﹫&(\[]")
"""Text without any of these characters cannot hold an e-mail, phone or IP: skip the rest. The
`&`, `(` and `[` stand for `&commat;`, `(at)` and `[at]`; one set of characters is as quick to
search as the four of old, while the two longer forms beside it cost twice as much."""
URL_SAFE = "/:?#[]@!$&'()*+,;="
"""Characters a URL holds unencoded (RFC 3986 reserved); kept as they are when text whose
decoded form held contact data is percent-encoded again."""


@lru_cache(maxsize=16_384)
def mask_contact_data(text: str, *, user_agent: bool = False) -> str:
    """`text` with every e-mail, phone number and IP address replaced by a mask.

    Percent-encoding hides what the patterns look for (`%3A%3Affff%3A203.0.113.77`,
    `415%20555%200123`, `%2540`): when the text decoded once shows more, that decoded text is
    masked and percent-encoded again (`URL_SAFE` kept). Cached: the same titles, URLs and user
    agents arrive over and over.
    """
    if _MAY_HOLD_CONTACT_DATA.search(text) is None:
        return text
    masked = _mask(text, user_agent)
    if "%" in masked:
        decoded = unquote(masked)
        if decoded != masked and (remasked := _mask(decoded, user_agent)) != decoded:
            return quote(remasked, safe=URL_SAFE)
    return masked


def _mask(text: str, user_agent: bool) -> str:
    """`text` with the e-mails, IPs and phone numbers the patterns find in it masked."""
    if may_hold_email(text):
        text = EMAIL.sub(EMAIL_MASK, text)
    text = IPV4.sub(_replacer(IP_MASK, _any_match, user_agent), text)
    if text.count(":") >= 2:  # every IPv6 address has two colons
        text = IPV6_CANDIDATE.sub(_replacer(IP_MASK, is_ipv6_match, user_agent), text)
    phone = _is_phone_in_user_agent if user_agent else _is_phone_match
    return PHONE_CANDIDATE.sub(_replacer(PHONE_MASK, phone, user_agent), text)


def _any_match(_: re.Match[str]) -> bool:
    return True


def _is_phone_match(match: re.Match[str]) -> bool:
    return is_phone(match.group())


def _is_phone_in_user_agent(match: re.Match[str]) -> bool:
    # An app version after a space (`Instagram 309.1.0.41.113`) has dotted groups like a phone
    # number's, but a single-digit group past the first, which no dotted phone number has
    # (`415.555.0123`, `06.12.34.56.78`; `1.800.555.0199` leads with its country code).
    groups = match.group().split(".")
    if (
        len(groups) > 2
        and all(g.isdigit() for g in groups)
        and any(len(g) == 1 for g in groups[1:])
    ):
        return False
    return is_phone(match.group())


def _replacer(
    mask: str, accept: Callable[[re.Match[str]], bool], user_agent: bool
) -> Callable[[re.Match[str]], str]:
    """Replace a match by `mask` when `accept` confirms it and it is no product version."""

    def replace(match: re.Match[str]) -> str:
        if user_agent and _is_product_version(match.string, match.start()):
            return match.group()
        return mask if accept(match) else match.group()

    return replace


def _is_product_version(text: str, start: int) -> bool:
    # `Chrome/120.0.0.0`, `Safari/604.1`: a letter, a slash, then the version.
    return start >= 2 and text[start - 1] == "/" and text[start - 2].isalpha()
