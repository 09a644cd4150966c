"""Omnisend list items and pages as each API flavour writes them (reference/connectors.md §1.10).

v3 items carry the counters (Airbyte's source-omnisend schema: `campaignID`, `sent`, `opened`,
`clicked`, `bounced`, `complained`, `unsubscribed`, `byDevices`); versioned items (the 2026-03-15
OpenAPI documents) carry ids, names, states and timestamps only.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from ownlay_pipelines.sandbox.omnisend_catalog import (
    SENDING_DURATION,
    EmailAutomation,
    EmailCampaign,
    OmnisendBrand,
)

DEVICE_SHARES = (("desktop", 0.35), ("mobile", 0.6), ("tablet", 0.05))


def timestamp(moment: datetime | None) -> str | None:
    """Omnisend's RFC 3339 UTC form, e.g. `2026-03-10T09:00:00Z`."""
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _by_devices(total: int) -> dict[str, int]:
    split = {name: int(total * share) for name, share in DEVICE_SHARES}
    split["mobile"] += total - sum(split.values())
    return split


def v3_campaign(campaign: EmailCampaign, brand: OmnisendBrand, now: datetime) -> dict[str, Any]:
    """A v3 `campaign` list item with its counters as of `now`."""
    status = campaign.status(now)
    counters = campaign.counters(now)
    ended = campaign.send_at + SENDING_DURATION if status == "sent" else None
    return {
        "campaignID": campaign.campaign_id,
        "name": campaign.name,
        "status": status,
        "type": "regular",
        "fromName": brand.name,
        "subject": campaign.subject,
        "allContacts": True,
        "segments": [],
        "excludedSegments": [],
        "createdAt": timestamp(campaign.created_at),
        "updatedAt": timestamp(ended or campaign.created_at),
        "startDate": None if status == "draft" else timestamp(campaign.send_at),
        "endDate": timestamp(ended),
        "sent": counters.sent,
        "opened": counters.opened,
        "clicked": counters.clicked,
        "bounced": counters.bounced,
        "complained": counters.complained,
        "unsubscribed": counters.unsubscribed,
        "byDevices": {
            "opened": _by_devices(counters.opened),
            "clicked": _by_devices(counters.clicked),
        },
    }


def versioned_campaign(
    campaign: EmailCampaign, brand: OmnisendBrand, now: datetime
) -> dict[str, Any]:
    """A 2026-03-15 `campaigns` item: no counters, those live in the analytics API."""
    status = campaign.status(now)
    started = status in ("started", "sent")
    ended = campaign.send_at + SENDING_DURATION if status == "sent" else None
    return {
        "id": campaign.campaign_id,
        "brandID": brand.brand_id,
        "name": campaign.name,
        "status": status,
        "type": "regular",
        "channel": "email",
        "language": "en_US",
        "audience": {"includedSegmentIDs": [], "excludedSegmentIDs": []},
        "content": {"email": {"subject": campaign.subject, "senderName": brand.name}},
        "sendingSettings": {
            "strategy": "scheduled",
            "scheduledAt": timestamp(campaign.send_at),
            "isTZOptimizationEnabled": False,
        },
        "createdAt": timestamp(campaign.created_at),
        "updatedAt": timestamp(ended or campaign.created_at),
        "startedAt": timestamp(campaign.send_at) if started else None,
        "endedAt": timestamp(ended),
    }


def v3_automation(
    automation: EmailAutomation, brand: OmnisendBrand, now: datetime
) -> dict[str, Any]:
    """A v3-style automation item as seed 004's field mapping names it (`automationID`, counters)."""
    sent, opened = automation.sent_and_opened(now)
    return {
        "automationID": automation.automation_id,
        "name": automation.name,
        "status": "enabled" if automation.is_enabled(now) else "disabled",
        "trigger": automation.trigger_event,
        "createdAt": timestamp(automation.created_at),
        "updatedAt": timestamp(automation.disabled_at or automation.enabled_at),
        "sent": sent,
        "opened": opened,
    }


def versioned_automation(
    automation: EmailAutomation, brand: OmnisendBrand, now: datetime
) -> dict[str, Any]:
    """A 2026-03-15 `automations` item: `isEnabled` and timestamps, no counters."""
    return {
        "id": automation.automation_id,
        "brandID": brand.brand_id,
        "name": automation.name,
        "isEnabled": automation.is_enabled(now),
        "trigger": {"condition": {"event": automation.trigger_event}},
        "createdAt": timestamp(automation.created_at),
        "updatedAt": timestamp(automation.disabled_at or automation.enabled_at),
        "enabledAt": timestamp(automation.enabled_at),
        "disabledAt": timestamp(automation.disabled_at),
    }


def encode_cursor(resource: str, index: int, filters: str) -> str:
    """An opaque cursor naming a position in a listing and the filters it was made under."""
    raw = json.dumps({"r": resource, "i": index, "f": filters}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, int, str] | None:
    """(resource, index, filters) of a cursor this sandbox made, None for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw)
        return str(value["r"]), int(value["i"]), str(value["f"])
    except (ValueError, KeyError, TypeError):
        return None
