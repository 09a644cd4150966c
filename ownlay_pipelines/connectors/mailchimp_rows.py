"""Mailchimp objects as lake rows. Rates are fractions on the wire (0.35) and stored as such;
times are ISO 8601 with offset, stored as UTC instants; e-mails only as keyed HMAC pseudonyms."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from typing import Any

import pyarrow as pa

from ownlay_pipelines.connectors.streams import FetchRequest, Record, key_fields, text_fields
from ownlay_pipelines.connectors.wire_values import RowError, dig, to_count
from ownlay_pipelines.http.errors import FatalApiError
from ownlay_pipelines.privacy.keyed_hash import PII_HASH_KEY_ENV, PiiHasher, PiiKeyMissing

TIMESTAMP = pa.timestamp("us", tz="UTC")


def member_hasher() -> PiiHasher:
    """The keyed hasher; members are keyed by the pseudonym, so without the key the sync stops
    with a configuration error (never retried) instead of storing or quarantining addresses."""
    try:
        return _hasher_for(os.environ.get(PII_HASH_KEY_ENV, ""))
    except PiiKeyMissing as error:
        raise FatalApiError(str(error)) from None


@cache
def _hasher_for(key: str) -> PiiHasher:
    """One hasher per key value: the environment is read on each call, never a stale key."""
    return PiiHasher.from_env({PII_HASH_KEY_ENV: key})


def instant(value: object, field: str, *, required: bool = True) -> datetime | None:
    if value in (None, ""):
        if required:
            raise RowError(field, "missing timestamp")
        return None
    try:
        return datetime.fromisoformat(str(value)).astimezone(UTC)
    except ValueError as error:
        raise RowError(field, f"not an ISO 8601 timestamp: {value!r}") from error


def _rate(value: object, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise RowError(field, f"expected a rate between 0 and 1, got {value!r}")
    return float(value)


REPORT_SCHEMA = pa.schema(
    [
        *key_fields("campaign_id"),
        pa.field("report_date", pa.date32(), nullable=False),
        pa.field("send_time", TIMESTAMP, nullable=False),
        *text_fields("campaign_title", "list_id", "type"),
        *(
            pa.field(name, pa.int64(), nullable=False)
            for name in (
                "emails_sent",
                "opens_total",
                "unique_opens",
                "clicks_total",
                "unique_clicks",
                "hard_bounces",
                "soft_bounces",
                "unsubscribed",
                "abuse_reports",
            )
        ),
        pa.field("open_rate", pa.float64(), nullable=False),
        pa.field("click_rate", pa.float64(), nullable=False),
    ]
)


def normalise_report(record: Record, request: FetchRequest) -> dict[str, Any]:
    sent = instant(dig(record, "send_time"), "send_time")
    assert sent is not None
    counts = {
        "emails_sent": "emails_sent",
        "opens_total": "opens.opens_total",
        "unique_opens": "opens.unique_opens",
        "clicks_total": "clicks.clicks_total",
        "unique_clicks": "clicks.unique_clicks",
        "hard_bounces": "bounces.hard_bounces",
        "soft_bounces": "bounces.soft_bounces",
        "unsubscribed": "unsubscribed",
        "abuse_reports": "abuse_reports",
    }
    return {
        **request.row_keys(),
        "campaign_id": str(dig(record, "id")),
        "report_date": sent.astimezone(request.workspace.zone).date(),
        "send_time": sent,
        "campaign_title": record.get("campaign_title"),
        "list_id": record.get("list_id"),
        "type": record.get("type"),
        **{name: to_count(dig(record, path), path) for name, path in counts.items()},
        "open_rate": _rate(dig(record, "opens.open_rate"), "opens.open_rate"),
        "click_rate": _rate(dig(record, "clicks.click_rate"), "clicks.click_rate"),
    }


CAMPAIGN_SCHEMA = pa.schema(
    [
        *key_fields("campaign_id"),
        *text_fields("title", "subject_line", "type", "status", "list_id"),
        pa.field("create_time", TIMESTAMP, nullable=False),
        pa.field("send_time", TIMESTAMP),
        pa.field("emails_sent", pa.int64()),
    ]
)


def normalise_campaign(record: Record, request: FetchRequest) -> dict[str, Any]:
    settings = record.get("settings") or {}
    recipients = record.get("recipients") or {}
    return {
        **request.row_keys(),
        "campaign_id": str(dig(record, "id")),
        "title": settings.get("title"),
        "subject_line": settings.get("subject_line"),
        "type": record.get("type"),
        "status": record.get("status"),
        "list_id": recipients.get("list_id"),
        "create_time": instant(dig(record, "create_time"), "create_time"),
        "send_time": instant(record.get("send_time"), "send_time", required=False),
        "emails_sent": record.get("emails_sent"),
    }


LIST_SCHEMA = pa.schema(
    [
        *key_fields("list_id"),
        *text_fields("name"),
        pa.field("date_created", TIMESTAMP, nullable=False),
        pa.field("member_count", pa.int64(), nullable=False),
        pa.field("unsubscribe_count", pa.int64(), nullable=False),
    ]
)


def normalise_list(record: Record, request: FetchRequest) -> dict[str, Any]:
    return {
        **request.row_keys(),
        "list_id": str(dig(record, "id")),
        "name": record.get("name"),
        "date_created": instant(dig(record, "date_created"), "date_created"),
        "member_count": to_count(dig(record, "stats.member_count"), "stats.member_count"),
        "unsubscribe_count": to_count(
            dig(record, "stats.unsubscribe_count"), "stats.unsubscribe_count"
        ),
    }


MEMBER_SCHEMA = pa.schema(
    [
        *key_fields("list_id", "email_hash"),
        *text_fields("status"),
        pa.field("last_changed", TIMESTAMP),
    ]
)


def normalise_member(record: Record, request: FetchRequest) -> dict[str, Any]:
    """A member as the fetcher protected it (`mailchimp_members.protect_member`): the address is
    already the keyed hash, None when Mailchimp's value was not an e-mail address."""
    email_hash = record.get("email_hash")
    if not email_hash:
        raise RowError("email_address", "not an e-mail address")
    return {
        **request.row_keys(),
        "list_id": str(dig(record, "list_id")),
        "email_hash": email_hash,
        "status": record.get("status"),
        "last_changed": instant(record.get("last_changed"), "last_changed", required=False),
    }


def report_for_watchtower(row: Mapping[str, Any]) -> dict[str, Any]:
    """A report row as the watchtower's `mailchimp/reports` source record (rates in percent)."""
    return {
        "campaign_id": row["campaign_id"],
        "campaign_title": row["campaign_title"],
        "type": row["type"],
        "emails_sent": row["emails_sent"],
        "open_rate": round(row["open_rate"] * 100, 4),
        "click_rate": round(row["click_rate"] * 100, 4),
        "unsubscribed": row["unsubscribed"],
        "bounces": row["hard_bounces"] + row["soft_bounces"],
    }
