"""Capturing conversions at ingest, before the lake's privacy classes hash or drop their PII.

The lake keeps only keyed hashes of e-mails and IPs, masks user agents and drops contact data
from `properties`; the platforms need the raw values (to hash them their own way) and the raw IP
and user agent. So the ingest path hands each accepted event *and its raw JSON object* to
`capture_events`, which writes the conversions with marketing consent into the forwarding outbox
— the only place raw contact data may wait (docs/privacy.md). Events of other types, without
consent, or of a workspace without destinations never leave the request.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from ownlay_pipelines.capi.conversions import Conversion, canonical_event_type, click_ids_from_url
from ownlay_pipelines.capi.destinations import CapiSettings
from ownlay_pipelines.capi.outbox import EnqueueReport, enqueue
from ownlay_pipelines.events.model import OwnlayEvent

_CUSTOMER_FIELDS = ("phone", "first_name", "last_name", "city", "state", "zip", "country")
_ZIP_ALIASES = ("zip", "postal_code", "zip_code")


def conversion_from_event(
    event: OwnlayEvent, raw: Mapping[str, Any], *, workspace_id: str
) -> Conversion:
    """The conversion of one validated event, with the raw contact data of its JSON object.

    Contact fields are read from `properties` or its `customer` object (`phone`, `first_name`,
    `last_name`, `city`, `state`, `zip`/`postal_code`, `country`); value, currency, order and
    content ids from `properties`; IP and user agent from the raw `context` (seed 000) or the
    top-level `ip_address` and `user_agent` (seed 001's tracking SDK).
    """
    properties = raw.get("properties") if isinstance(raw.get("properties"), Mapping) else {}
    customer = properties.get("customer") if isinstance(properties.get("customer"), Mapping) else {}
    context = raw.get("context") if isinstance(raw.get("context"), Mapping) else {}

    def contact(name: str) -> str | None:
        names = _ZIP_ALIASES if name == "zip" else (name,)
        for source in (customer, properties):
            for key in names:
                value = source.get(key)
                if isinstance(value, str) and value.strip():
                    return value
        return None

    page_url = str(event.context.page.url) if event.context.page.url else None
    raw_email = raw.get("email") or properties.get("email") or customer.get("email")
    return Conversion(
        workspace_id=workspace_id,
        event_id=str(event.event_id),
        event_type=canonical_event_type(event.event_type.value),
        event_time=event.timestamp.astimezone(UTC),
        marketing_consent=event.consent.marketing is True,
        value=_number(properties.get("value", properties.get("revenue"))),
        currency=_text(properties.get("currency")),
        order_id=_text(properties.get("order_id")),
        content_ids=tuple(str(c) for c in properties.get("content_ids") or () if c is not None),
        page_url=page_url,
        email=raw_email if isinstance(raw_email, str) else None,
        **{name: contact(name) for name in _CUSTOMER_FIELDS},
        external_id=event.user_id,
        ip=_text(context.get("ip")) or _text(raw.get("ip_address")),
        user_agent=_text(context.get("user_agent")) or _text(raw.get("user_agent")),
        click_ids=click_ids_from_url(page_url),
    )


def capture_events(
    engine: sa.Engine,
    workspace_id: str,
    settings: CapiSettings,
    accepted: Iterable[tuple[OwnlayEvent, Mapping[str, Any]]],
    *,
    now: datetime,
) -> EnqueueReport:
    """Queue the consented conversions among `accepted` (event, raw JSON) pairs."""
    if not settings.destinations:
        return EnqueueReport()
    conversions = [
        conversion_from_event(event, raw, workspace_id=workspace_id)
        for event, raw in accepted
        if event.consent.marketing is True
    ]
    return enqueue(engine, workspace_id, settings, conversions, now=now)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
