"""The event lake's row: seed 001's Parquet event schema, filled from seed 000's OwnlayEvent.

Names follow seed 001 except three, on purpose: `id` is `event_id` (seed 000 and its BigQuery
export), `project_id` is `workspace_id` in the file (registry/tenant.py; the path keeps
`project_id=`), and `ip_address` is `ip_hash` because only the keyed hash is stored. Seed 000's
nested `source`, `utm` and `context` become flat columns so DuckDB can prune and filter them;
`properties` is JSON text (DuckDB's `->>` reads it).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pyarrow as pa
from pydantic_core import to_json

from ownlay_pipelines.events.model import PARSED_UTC, OwnlayEvent
from ownlay_pipelines.events.user_agent import DeviceInfo, describe_user_agent
from ownlay_pipelines.privacy.keyed_hash import PiiHasher
from ownlay_pipelines.privacy.properties import drop_sensitive_properties

TIMESTAMP = pa.timestamp("us", tz="UTC")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_MICROSECOND = timedelta(microseconds=1)
_PARSED_EPOCH = EPOCH.astimezone(PARSED_UTC)
UTM_FIELDS = ("source", "medium", "campaign", "content", "term")
_NO_UTM: dict[str, str] = {}
_NO_DEVICE = DeviceInfo(device_type=None, os=None, browser=None)
"""What an event without a user agent tells about its device: nothing."""


def _text(name: str, *, nullable: bool = True) -> pa.Field:
    return pa.field(name, pa.string(), nullable=nullable)


EVENT_LAKE_SCHEMA = pa.schema(
    [
        _text("event_id", nullable=False),
        _text("workspace_id", nullable=False),
        _text("event_type", nullable=False),
        _text("user_id"),
        _text("anonymous_id"),
        _text("session_id"),
        _text("device_id"),
        _text("email_hash"),
        _text("source_platform", nullable=False),
        _text("connector_id"),
        _text("campaign_id"),
        _text("ad_group_id"),
        _text("ad_id"),
        _text("keyword"),
        _text("placement"),
        *(_text(f"utm_{name}") for name in UTM_FIELDS),
        _text("properties", nullable=False),
        _text("url"),
        _text("path"),
        _text("page_title"),
        _text("referrer"),
        _text("user_agent"),
        _text("ip_hash"),
        _text("device_type"),
        _text("os"),
        _text("browser"),
        _text("screen_resolution"),
        _text("locale"),
        _text("timezone"),
        _text("country"),
        _text("region"),
        _text("city"),
        pa.field("created_at", TIMESTAMP, nullable=False),
        pa.field("client_timestamp", TIMESTAMP),
        pa.field("received_at", TIMESTAMP, nullable=False),
        _text("schema_version", nullable=False),
    ]
)
"""One row per accepted first-party event: who, what, where from, on which page and device, when."""


_EVENT_LAKE_STRUCT = pa.struct(list(EVENT_LAKE_SCHEMA))


def lake_batch(rows: list[dict[str, Any]]) -> pa.RecordBatch:
    """`to_lake_row` rows as one record batch of `EVENT_LAKE_SCHEMA` (a missing key is null).

    Converted as one struct array: `RecordBatch.from_pylist` converts each of the 40 columns on
    its own, ~0.2 ms a call whatever the row count, which at a single-event request's group size
    of ~16 was 2.4× this (bench/README.md, Ingestion).
    """
    return pa.RecordBatch.from_struct_array(pa.array(rows, type=_EVENT_LAKE_STRUCT))


def to_lake_row(
    event: OwnlayEvent, *, workspace_id: str, received_at: datetime, hasher: PiiHasher
) -> dict[str, Any]:
    """The lake row of `event` with PII hashed; timestamps are microseconds since the epoch.

    `created_at` is the event time corrected for client clock skew: an event stamped up to the
    allowed skew ahead of the server counts as received now (seed 001 "Timestamp Correction").
    """
    context = event.context
    page = context.page
    source = event.source
    utm = event.utm
    geo = context.geo
    device = context.device
    url = page.url
    # Senders often leave `utm` empty and only the landing URL carries the campaign.
    from_url = _utm_of_url(url) if url and "utm_" in url else _NO_UTM
    # What the sender says of the device wins; the parsed user agent fills the gaps.
    parsed = describe_user_agent(context.user_agent) if context.user_agent else _NO_DEVICE
    properties = dict(event.properties)
    email = event.email or _email_property(properties)
    # One dict literal (no merged helper dicts): this runs once per accepted event on the loop.
    return {
        "event_id": str(event.event_id),
        "workspace_id": workspace_id,
        "event_type": event.event_type.value,
        "user_id": event.user_id,
        "anonymous_id": event.anonymous_id,
        "session_id": event.session_id,
        "device_id": event.device_id,
        "email_hash": hasher.hash_email(email) if email else None,
        "source_platform": source.platform.value,
        "connector_id": source.connector_id,
        "campaign_id": source.campaign_id,
        "ad_group_id": source.ad_group_id,
        "ad_id": source.ad_id,
        "keyword": source.keyword,
        "placement": source.placement,
        "utm_source": utm.source or from_url.get("source", "")[:255] or None,
        "utm_medium": utm.medium or from_url.get("medium", "")[:255] or None,
        "utm_campaign": utm.campaign or from_url.get("campaign", "")[:255] or None,
        "utm_content": utm.content or from_url.get("content", "")[:255] or None,
        "utm_term": utm.term or from_url.get("term", "")[:255] or None,
        "properties": to_json(drop_sensitive_properties(properties)).decode(),
        "url": url,
        "path": page.path or (urlsplit(url).path if url else None),
        "page_title": page.title,
        "referrer": page.referrer,
        "user_agent": context.user_agent,
        "ip_hash": hasher.hash_ip(context.ip) if context.ip else None,
        "device_type": device.type or parsed.device_type,
        "os": device.os or parsed.os,
        "browser": device.browser or parsed.browser,
        "screen_resolution": device.screen_resolution,
        "locale": context.locale,
        "timezone": context.timezone,
        "country": geo.country,
        "region": geo.region,
        "city": geo.city,
        "created_at": to_micros(min(event.timestamp, received_at)),
        "client_timestamp": to_micros(event.client_timestamp or event.timestamp),
        "received_at": to_micros(received_at),
        "schema_version": event.version,
    }


def to_micros(moment: datetime) -> int:
    """Microseconds since the Unix epoch, exactly (no float rounding)."""
    # Same tzinfo object: the subtraction needs no UTC offsets (validated timestamps have it).
    epoch = _PARSED_EPOCH if moment.tzinfo is PARSED_UTC else EPOCH
    return (moment - epoch) // ONE_MICROSECOND


def event_day(row: dict[str, Any]) -> date:
    """The UTC day whose lake file holds `row`."""
    return (EPOCH + row["created_at"] * ONE_MICROSECOND).date()


def _email_property(properties: dict[str, Any]) -> str | None:
    value = properties.get("email")
    return value if isinstance(value, str) and "@" in value else None


@lru_cache(maxsize=16_384)
def _utm_of_url(url: str) -> dict[str, str]:
    """The `utm_*` query parameters of `url` by name without the prefix (cached: landing URLs
    repeat; callers only read the dict)."""
    return {
        name.removeprefix("utm_"): value
        for name, value in parse_qsl(urlsplit(url).query)
        if name.startswith("utm_") and value
    }
