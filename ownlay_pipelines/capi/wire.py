"""One conversion as each Conversions API's wire format wants it (reference/analytics.md §4.2–4.5).

`build_event` normalises and hashes the match keys (capi/normalize.py), puts the browser pixel's
`event_id` in the platform's dedup field (Google: `orderId`), adds click ids (fbclid → `fbc`,
gclid, ttclid, ScCid → `sc_click_id`) and value, currency, order and content ids. It refuses,
with a reason, what the platform would refuse anyway: an event older than the platform accepts,
or one with no key to match it on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ownlay_pipelines.capi.conversions import Conversion
from ownlay_pipelines.capi.destinations import CapiDestination
from ownlay_pipelines.capi.normalize import (
    MatchField,
    MatchKeyCache,
    NormalizationError,
    match_key,
    supports,
)
from ownlay_pipelines.capi.platforms import CapiPlatform

MAX_EVENT_AGE = {
    CapiPlatform.META: timedelta(days=7),
    CapiPlatform.GOOGLE: timedelta(days=90),
    CapiPlatform.TIKTOK: timedelta(days=28),
    CapiPlatform.SNAPCHAT: timedelta(days=37),
}
"""Oldest event each platform accepts (Google: the longest click-through window)."""

_CONTACT_FIELDS = (
    MatchField.EMAIL,
    MatchField.PHONE,
    MatchField.FIRST_NAME,
    MatchField.LAST_NAME,
    MatchField.CITY,
    MatchField.STATE,
    MatchField.ZIP,
    MatchField.COUNTRY,
    MatchField.EXTERNAL_ID,
)
_FIELDS_OF = {
    platform: tuple(name for name in _CONTACT_FIELDS if supports(platform, name))
    for platform in CapiPlatform
}
"""The contact fields each platform takes, in wire order."""
_META_KEYS = {
    MatchField.EMAIL: "em",
    MatchField.PHONE: "ph",
    MatchField.FIRST_NAME: "fn",
    MatchField.LAST_NAME: "ln",
    MatchField.CITY: "ct",
    MatchField.STATE: "st",
    MatchField.ZIP: "zp",
    MatchField.COUNTRY: "country",
    MatchField.EXTERNAL_ID: "external_id",
}
"""Meta and Snapchat share these user_data keys."""
_LIST_VALUED = frozenset({"em", "ph", "external_id"})


class LocalRejection(ValueError):
    """The event cannot be sent to this platform; `reason` is a short machine-readable code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


@dataclass(frozen=True)
class WireEvent:
    """One event in the platform's format and the match keys it carries (for metadata)."""

    body: dict[str, Any]
    match_keys: tuple[str, ...]


def build_event(
    conversion: Conversion,
    destination: CapiDestination,
    event_name: str,
    *,
    default_region: str,
    now: datetime,
    cache: MatchKeyCache | None = None,
) -> WireEvent:
    """`conversion` as `destination`'s platform wants it; LocalRejection when it cannot go.
    With `cache`, a contact value already normalised in this run is not normalised again."""
    platform = destination.platform
    if now - conversion.event_time > MAX_EVENT_AGE[platform]:
        raise LocalRejection("event_too_old", f"older than {MAX_EVENT_AGE[platform].days} days")
    keys = _match_keys(conversion, platform, default_region, cache)
    builder = _BUILDERS[platform]
    return builder(conversion, destination, event_name, keys)


def _match_keys(
    conversion: Conversion, platform: CapiPlatform, region: str, cache: MatchKeyCache | None
) -> dict[MatchField, str]:
    compute = cache.match_key if cache is not None else match_key
    keys: dict[MatchField, str] = {}
    for name in _FIELDS_OF[platform]:
        raw = getattr(conversion, name.value)
        if not raw:
            continue
        try:
            keys[name] = compute(platform, name, raw, default_region=region).wire_value
        except NormalizationError:
            continue  # A malformed phone or e-mail is left out; the other keys may still match.
    return keys


def _meta_like_user_data(conversion: Conversion, keys: dict[MatchField, str]) -> dict[str, Any]:
    user_data: dict[str, Any] = {}
    for name, value in keys.items():
        wire_key = _META_KEYS[name]
        user_data[wire_key] = [value] if wire_key in _LIST_VALUED else value
    if conversion.ip:
        user_data["client_ip_address"] = conversion.ip
    if conversion.user_agent:
        user_data["client_user_agent"] = conversion.user_agent
    return user_data


def _custom_data(conversion: Conversion) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if conversion.value is not None:
        data["value"] = conversion.value
    if conversion.currency:
        data["currency"] = conversion.currency
    if conversion.order_id:
        data["order_id"] = conversion.order_id
    if conversion.content_ids:
        data["content_ids"] = list(conversion.content_ids)
    return data


def _meta(
    conversion: Conversion, _dest: CapiDestination, event_name: str, keys: dict[MatchField, str]
) -> WireEvent:
    user_data = _meta_like_user_data(conversion, keys)
    fbclid = conversion.click_ids.get("fbclid")
    if fbclid:
        user_data["fbc"] = f"fb.1.{conversion.unix_time * 1000}.{fbclid}"
    if conversion.action_source == "website" and not conversion.user_agent:
        raise LocalRejection("missing_user_agent", "website events need client_user_agent")
    body: dict[str, Any] = {
        "event_name": event_name,
        "event_time": conversion.unix_time,
        "event_id": conversion.event_id,
        "action_source": conversion.action_source,
        "event_source_url": conversion.page_url or "",
        "user_data": user_data,
    }
    custom = _custom_data(conversion)
    if custom:
        if "content_ids" in custom:
            custom["content_type"] = "product"
        body["custom_data"] = custom
    return WireEvent(body, tuple(sorted(k for k in user_data if k != "client_user_agent")))


def _google(
    conversion: Conversion, dest: CapiDestination, _event_name: str, keys: dict[MatchField, str]
) -> WireEvent:
    gclid = conversion.click_ids.get("gclid")
    identifiers: list[dict[str, Any]] = []
    if MatchField.EMAIL in keys:
        identifiers.append({"hashedEmail": keys[MatchField.EMAIL]})
    if MatchField.PHONE in keys:
        identifiers.append({"hashedPhoneNumber": keys[MatchField.PHONE]})
    address = {
        wire: keys[name]
        for name, wire in (
            (MatchField.FIRST_NAME, "hashedFirstName"),
            (MatchField.LAST_NAME, "hashedLastName"),
            (MatchField.CITY, "city"),
            (MatchField.STATE, "state"),
            (MatchField.ZIP, "postalCode"),
            (MatchField.COUNTRY, "countryCode"),
        )
        if name in keys
    }
    if {"hashedFirstName", "hashedLastName"} <= set(address):
        identifiers.append({"addressInfo": address})
    if not gclid and not identifiers:
        raise LocalRejection("no_match_key", "Google needs a gclid, an e-mail or a phone number")
    stamp = conversion.event_time.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S+00:00")
    body: dict[str, Any] = {
        "conversionAction": (
            f"customers/{dest.customer_id}/conversionActions/{dest.conversion_action_id}"
        ),
        "conversionDateTime": stamp,
        "orderId": conversion.order_id or conversion.event_id,
        "userIdentifiers": identifiers[:5],
        "userIdentifierSource": "FIRST_PARTY",
        "conversionEnvironment": "WEB",
        "consent": {"adUserData": "GRANTED", "adPersonalization": "GRANTED"},
    }
    if gclid:
        body["gclid"] = gclid
    if conversion.value is not None:
        body["conversionValue"] = conversion.value
    if conversion.currency:
        body["currencyCode"] = conversion.currency
    carried = [next(iter(i)) for i in identifiers] + (["gclid"] if gclid else [])
    return WireEvent(body, tuple(sorted(carried)))


def _tiktok(
    conversion: Conversion, _dest: CapiDestination, event_name: str, keys: dict[MatchField, str]
) -> WireEvent:
    user: dict[str, Any] = {
        wire: keys[name]
        for name, wire in (
            (MatchField.EMAIL, "email"),
            (MatchField.PHONE, "phone"),
            (MatchField.EXTERNAL_ID, "external_id"),
        )
        if name in keys
    }
    if conversion.click_ids.get("ttclid"):
        user["ttclid"] = conversion.click_ids["ttclid"]
    if conversion.ip:
        user["ip"] = conversion.ip
    if conversion.user_agent:
        user["user_agent"] = conversion.user_agent
    properties: dict[str, Any] = {}
    if conversion.value is not None:
        properties["value"] = conversion.value
    if conversion.currency:
        properties["currency"] = conversion.currency
    if conversion.order_id:
        properties["order_id"] = conversion.order_id
    if conversion.content_ids:
        properties["contents"] = [{"content_id": c} for c in conversion.content_ids]
        properties["content_type"] = "product"
    body: dict[str, Any] = {
        "event": event_name,
        "event_time": conversion.unix_time,
        "event_id": conversion.event_id,
        "user": user,
        "properties": properties,
        "page": {"url": conversion.page_url or ""},
    }
    return WireEvent(body, tuple(sorted(k for k in user if k != "user_agent")))


def _snapchat(
    conversion: Conversion, _dest: CapiDestination, event_name: str, keys: dict[MatchField, str]
) -> WireEvent:
    user_data = _meta_like_user_data(conversion, keys)
    if conversion.click_ids.get("sccid"):
        user_data["sc_click_id"] = conversion.click_ids["sccid"]
    strong = {"em", "ph"} & set(user_data) or {"client_ip_address", "client_user_agent"} <= set(
        user_data
    )
    if not strong:
        raise LocalRejection(
            "no_match_key", "Snapchat needs an e-mail, a phone, or IP and user agent together"
        )
    body: dict[str, Any] = {
        "event_name": event_name,
        "event_time": conversion.unix_time,
        "event_id": conversion.event_id,
        "action_source": "WEB" if conversion.action_source == "website" else "OFFLINE",
        "event_source_url": conversion.page_url or "",
        "user_data": user_data,
    }
    custom = _custom_data(conversion)
    if custom:
        body["custom_data"] = custom
    return WireEvent(body, tuple(sorted(k for k in user_data if k != "client_user_agent")))


_BUILDERS = {
    CapiPlatform.META: _meta,
    CapiPlatform.GOOGLE: _google,
    CapiPlatform.TIKTOK: _tiktok,
    CapiPlatform.SNAPCHAT: _snapchat,
}
