"""Free text on its way to storage: e-mail addresses, phone numbers and IPs inside it are masked.

Free text is whatever a person typed or a browser reported: URLs and paths, page titles,
referrers, UTM values, ad keywords, cities, user agents, and string values of `properties`. The
value is kept and only the personal part is replaced by `[email]`, `[phone]` or `[ip]`, so a page
title or a campaign name stays useful. In a user agent a product version such as
`Chrome/120.0.0.0` is not an address and is left alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from ownlay_pipelines.privacy.patterns import (
    EMAIL,
    IPV4,
    IPV6_CANDIDATE,
    PHONE_CANDIDATE,
    is_ipv6,
    is_phone,
)

EMAIL_MASK = "[email]"
PHONE_MASK = "[phone]"
IP_MASK = "[ip]"
_MAY_HOLD_CONTACT_DATA = re.compile(r"[@%\d:]")
"""Text without any of these characters cannot hold an e-mail, phone or IP: skip the rest."""


@lru_cache(maxsize=16_384)
def mask_contact_data(text: str, *, user_agent: bool = False) -> str:
    """`text` with every e-mail, phone number and IP address replaced by a mask.

    Cached: the same titles, URLs and user agents arrive over and over.
    """
    if _MAY_HOLD_CONTACT_DATA.search(text) is None:
        return text
    text = EMAIL.sub(EMAIL_MASK, text)
    text = IPV4.sub(_replacer(text, IP_MASK, lambda _: True, user_agent), text)
    text = IPV6_CANDIDATE.sub(_replacer(text, IP_MASK, is_ipv6, user_agent), text)
    return PHONE_CANDIDATE.sub(_replacer(text, PHONE_MASK, is_phone, user_agent), text)


def _replacer(
    text: str, mask: str, accept: Callable[[str], bool], user_agent: bool
) -> Callable[[re.Match[str]], str]:
    """Replace a match by `mask` when `accept` confirms it and it is no product version."""

    def replace(match: re.Match[str]) -> str:
        found = match.group()
        if user_agent and _is_product_version(text, match.start()):
            return found
        return mask if accept(found) else found

    return replace


def _is_product_version(text: str, start: int) -> bool:
    # `Chrome/120.0.0.0`, `Safari/604.1`: a letter, a slash, then the version.
    return start >= 2 and text[start - 1] == "/" and text[start - 2].isalpha()
