"""User-agent strings turned into seed 001's device type, operating system and browser.

Parsing uses `ua-parser` (the uap-core rules, republished monthly as `ua-parser-builtins`, with the
native `ua-parser-rs` matcher: about 20 µs per new string instead of 0.8 ms). `user-agents`, the
other common choice, wraps an older ua-parser and has not been released since 2020. ua-parser has no
desktop/mobile/tablet classification, so `device_type` follows the rules below.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import ua_parser

MOBILE_OS_FAMILIES = frozenset({"iOS", "Windows Phone", "BlackBerry OS", "KaiOS", "Symbian OS"})
UNKNOWN = "Other"
"""ua-parser's family for anything it does not recognise."""


@dataclass(frozen=True)
class DeviceInfo:
    """What a user agent says about the device: seed 000's type (None for bots), OS and browser."""

    device_type: str | None
    os: str | None
    browser: str | None


@lru_cache(maxsize=8192)
def describe_user_agent(user_agent: str) -> DeviceInfo:
    """The device type, OS family and browser family `user_agent` names (None where unknown)."""
    result = ua_parser.parse(user_agent)
    os_family = result.os.family if result.os else None
    browser = result.user_agent.family if result.user_agent else None
    device_family = result.device.family if result.device else ""
    return DeviceInfo(
        device_type=_device_type(user_agent, os_family, device_family, result.device),
        os=None if os_family in (None, UNKNOWN) else os_family,
        browser=None if browser in (None, UNKNOWN) else browser,
    )


def _device_type(
    user_agent: str, os_family: str | None, device_family: str, device: ua_parser.Device | None
) -> str | None:
    if device_family == "Spider":
        return None
    brand = (device.brand or "") if device else ""
    if "iPad" in device_family or "Tablet" in brand or "Tablet" in user_agent:
        return "tablet"
    if os_family == "Android":
        # Android tablets leave the "Mobile" token out (Chrome's UA documentation).
        return "mobile" if "Mobile" in user_agent else "tablet"
    if os_family in MOBILE_OS_FAMILIES:
        return "mobile"
    if os_family in (None, UNKNOWN):
        return None
    return "desktop"
