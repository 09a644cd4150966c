"""Seed 000's canonical `OwnlayEvent` and seed 001's tracking payload, as pydantic v2 models.

Validation follows both seeds: required fields, types, maximum lengths (URL 500 characters, seed
001), the event-type allow-list with aliases, and a timestamp window (at most a few minutes in the
future, no older than a configurable age, 90 days by default; seed 000 "Data Quality"). The window
needs the server's clock, so models are validated with an `EventValidationContext`
(`Model.model_validate(data, context=...)`); validating without one is a programming error.

Each string field belongs to a privacy class (docs/privacy.md): opaque identifiers refuse an
e-mail, phone or IP; free text has them masked; `properties` are scrubbed at any depth. Checks that
pydantic-core can do itself (lengths, control characters, patterns) are constraints, not Python
validators; the Python ones left are cached per distinct value, because values repeat.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property, lru_cache
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    StrictBool,
    StringConstraints,
    TypeAdapter,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import to_json

from ownlay_pipelines.events.event_types import ALLOWED_EVENT_TYPES, EventType, canonical_event_type
from ownlay_pipelines.privacy.free_text import mask_contact_data
from ownlay_pipelines.privacy.identifiers import check_identifier
from ownlay_pipelines.privacy.properties import scrub_properties
from ownlay_pipelines.privacy.urls import strip_sensitive_url
from ownlay_pipelines.registry.tenant import validate_workspace_id
from ownlay_pipelines.schema.platforms import Platform

MAX_URL_LENGTH = 500
"""Seed 001: "Enforce max lengths (URL: 500 chars)"; the referrer has the same cap."""
MAX_PROPERTIES_BYTES = 32 * 1024
"""Segment's per-event cap (reference/perf_reliability.md §3.1), applied to `properties` as JSON."""
NO_CONTROL_CHARACTERS = "^[^\x00-\x1f\x7f]*$"
"""Pattern of text without control characters (checked by pydantic-core, not in Python)."""
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
WHITESPACE = re.compile(r"\s")
PARSED_UTC = TypeAdapter(AwareDatetime).validate_python("1970-01-01T00:00:00Z").tzinfo
"""The tzinfo pydantic-core gives every timestamp it parses as UTC (`Z` or `+00:00`; one shared
object). Datetimes with the same tzinfo object compare without asking either for its UTC offset:
0.15 µs instead of ~1.2 µs per comparison, so the bounds below are expressed in it."""
EARLIEST = datetime(1970, 1, 1, tzinfo=PARSED_UTC)
LATEST = datetime(2100, 1, 1, tzinfo=PARSED_UTC)
"""Any timestamp outside [1970, 2100) is a client bug, and some overflow a UTC conversion."""
CLIENT_CLOCK_TOLERANCE = timedelta(days=1)
"""How far `client_timestamp` may stray beyond the event window: it is the device's own clock."""


@dataclass(frozen=True)
class TimestampPolicy:
    """How far an event's own timestamp may stray from the server clock and still be accepted."""

    max_future_skew: timedelta = timedelta(minutes=5)
    max_age: timedelta = timedelta(days=90)


@dataclass(frozen=True)
class EventValidationContext:
    """What validating one request needs besides its payload: the server time and the window.

    The bounds of each timestamp window are worked out once per request (on first use), so each
    event's check is two comparisons; a refusal's message is built only when one fails.
    """

    now: datetime
    policy: TimestampPolicy

    @cached_property
    def event_window(self) -> tuple[datetime, datetime]:
        """The oldest and the newest `timestamp` accepted (in `PARSED_UTC`)."""
        now = self.now.astimezone(PARSED_UTC)
        return now - self.policy.max_age, now + self.policy.max_future_skew

    @cached_property
    def client_window(self) -> tuple[datetime, datetime]:
        """The oldest and the newest `client_timestamp` accepted (in `PARSED_UTC`)."""
        now = self.now.astimezone(PARSED_UTC)
        return now - self.policy.max_age - CLIENT_CLOCK_TOLERANCE, now + CLIENT_CLOCK_TOLERANCE


_EVENT_TYPES = {member.value: member for member in EventType}


def _event_type(value: object) -> EventType:
    if isinstance(value, EventType):
        return value
    if not isinstance(value, str):
        raise ValueError(f"event_type must be a string, got {type(value).__name__}")
    found = _EVENT_TYPES.get(value) or canonical_event_type(value)
    if found is None:
        raise ValueError(
            f"event_type {value[:64]!r} is not allowed; use one of {ALLOWED_EVENT_TYPES} "
            "(or 'custom' with a name in properties)"
        )
    return found


def _context(info: ValidationInfo) -> EventValidationContext:
    context = info.context
    if not isinstance(context, EventValidationContext):
        raise TypeError("event models are validated with context=EventValidationContext(...)")
    return context


def _plausible(value: datetime, info: ValidationInfo) -> datetime:
    try:
        in_range = EARLIEST <= value < LATEST
    except OverflowError:
        in_range = False
    if not in_range:
        raise ValueError(f"{info.field_name} must lie between 1970 and 2100 (UTC)")
    return value


def _within_window(value: datetime, info: ValidationInfo) -> datetime:
    context = _context(info)
    oldest, newest = context.event_window
    try:
        if oldest <= value <= newest and EARLIEST <= value < LATEST:
            return value
    except OverflowError:
        pass  # _plausible says why
    policy = context.policy
    _plausible(value, info)
    if value > context.now + policy.max_future_skew:
        ahead = (value - context.now).total_seconds()
        raise ValueError(
            f"{info.field_name} {value.isoformat()} is {ahead:.0f} s ahead of the server clock; "
            f"at most {policy.max_future_skew.total_seconds():.0f} s of clock skew is allowed"
        )
    if value < context.now - policy.max_age:
        raise ValueError(
            f"{info.field_name} {value.isoformat()} is older than {policy.max_age.days} days, "
            "the oldest event the lake accepts"
        )
    return value


def _client_clock(value: datetime, info: ValidationInfo) -> datetime:
    context = _context(info)
    _plausible(value, info)
    oldest, newest = context.client_window
    if not oldest <= value <= newest:
        raise ValueError(
            f"{info.field_name} {value.isoformat()} is more than a day outside the accepted "
            "event window; the device clock is wrong"
        )
    return value


@lru_cache(maxsize=65_536)
def _user_id(value: str) -> str:
    check_identifier(value)
    if WHITESPACE.search(value):
        raise ValueError("must not contain whitespace")
    return value


@lru_cache(maxsize=16_384)
def _http_url(value: str) -> str:
    stripped = strip_sensitive_url(value)
    parts = urlsplit(stripped)  # urllib caches the split strip_sensitive_url just made
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http(s) URL")
    return mask_contact_data(stripped)


@lru_cache(maxsize=65_536)
def _ip(value: str) -> IPv4Address | IPv6Address:
    try:
        return ip_address(value)
    except ValueError:
        raise ValueError("value is not a valid IPv4 or IPv6 address") from None


def _parse_ip(value: object) -> IPv4Address | IPv6Address:
    if isinstance(value, IPv4Address | IPv6Address):
        return value
    if not isinstance(value, str):
        raise ValueError("value is not a valid IPv4 or IPv6 address")
    return _ip(value)


def _country_code(value: str) -> str:
    if not re.fullmatch(r"[A-Z]{2}", value):
        raise ValueError("must be an ISO 3166-1 alpha-2 code such as 'US' (seed 001)")
    return value


def _clean_properties(value: dict[str, Any]) -> dict[str, Any]:
    scrubbed = scrub_properties(value, max_json_bytes=MAX_PROPERTIES_BYTES)
    size = len(to_json(scrubbed))
    if size > MAX_PROPERTIES_BYTES:
        raise ValueError(f"is {size} bytes as JSON; the limit is {MAX_PROPERTIES_BYTES}")
    return scrubbed


def _masked_user_agent(value: str) -> str:
    return mask_contact_data(value, user_agent=True)


def _text(max_length: int, *, privacy: Any) -> Any:
    """A trimmed, non-empty string without control characters, at most `max_length` long,
    passed through its privacy class (`check_identifier` or `mask_contact_data`)."""
    return Annotated[
        str,
        StringConstraints(
            strip_whitespace=True,
            min_length=1,
            max_length=max_length,
            pattern=NO_CONTROL_CHARACTERS,
        ),
        AfterValidator(privacy),
    ]


Identifier = _text(255, privacy=check_identifier)
ShortText = _text(255, privacy=mask_contact_data)
LongText = _text(MAX_URL_LENGTH, privacy=mask_contact_data)
Locale = _text(35, privacy=mask_contact_data)
TimezoneName = _text(64, privacy=mask_contact_data)
UserId = _text(255, privacy=_user_id)
HttpUrl = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=MAX_URL_LENGTH),
    AfterValidator(_http_url),
]
Email = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=254, pattern=EMAIL_PATTERN)
]
Country = Annotated[
    str, StringConstraints(strip_whitespace=True, to_upper=True), AfterValidator(_country_code)
]
DeviceType = Literal["desktop", "mobile", "tablet"]
EventTypeField = Annotated[EventType, BeforeValidator(_event_type)]
EventTimestamp = Annotated[AwareDatetime, AfterValidator(_within_window)]
ClientTimestamp = Annotated[AwareDatetime, AfterValidator(_client_clock)]
PlausibleTimestamp = Annotated[AwareDatetime, AfterValidator(_plausible)]
WorkspaceSlug = Annotated[str, AfterValidator(validate_workspace_id)]
Properties = Annotated[
    dict[str, Any],
    AfterValidator(_clean_properties),
    WithJsonSchema({"type": "object", "additionalProperties": True}),
]
"""Free-form JSON; `scrub_properties` checks every value is JSON (cheaper than `JsonValue`)."""
IpAddress = Annotated[
    IPv4Address | IPv6Address,
    PlainValidator(_parse_ip),
    WithJsonSchema({"type": "string", "format": "ipvanyaddress"}),
]
"""An IP address, parsed once per distinct value (Python's `ipaddress` is slow)."""
UserAgent = Annotated[
    str,
    StringConstraints(max_length=512, pattern=NO_CONTROL_CHARACTERS),
    AfterValidator(_masked_user_agent),
]

STRICT = ConfigDict(extra="forbid", frozen=True)


class EventSource(BaseModel):
    """Where the event came from: seed 000 `source` (first-party events have no ad ids)."""

    model_config = STRICT

    platform: Platform = Platform.WEBHOOK
    connector_id: Identifier | None = None
    campaign_id: Identifier | None = None
    ad_group_id: Identifier | None = None
    ad_id: Identifier | None = None
    keyword: ShortText | None = None
    placement: ShortText | None = None


class Utm(BaseModel):
    """The UTM parameters of the visit: seed 000 `utm`."""

    model_config = STRICT

    source: ShortText | None = None
    medium: ShortText | None = None
    campaign: ShortText | None = None
    content: ShortText | None = None
    term: ShortText | None = None


class Device(BaseModel):
    """The device as the sender describes it; the user agent fills what is missing."""

    model_config = STRICT

    type: DeviceType | None = None
    os: ShortText | None = None
    browser: ShortText | None = None
    screen_resolution: Annotated[str, StringConstraints(pattern=r"^\d{1,5}x\d{1,5}$")] | None = None


class Geo(BaseModel):
    """Where the visitor was; `postal_code` is accepted but never stored (data minimisation)."""

    model_config = STRICT

    country: Country | None = None
    region: ShortText | None = None
    city: ShortText | None = None
    postal_code: ShortText | None = None


class Page(BaseModel):
    """The page the event happened on; URLs are stored without sensitive query parameters."""

    model_config = STRICT

    url: HttpUrl | None = None
    path: LongText | None = None
    title: LongText | None = None
    referrer: HttpUrl | None = None


class EventContext(BaseModel):
    """Seed 000 `context`: network, browser and page of the event."""

    model_config = STRICT

    ip: IpAddress | None = None
    user_agent: UserAgent | None = None
    locale: Locale | None = None
    timezone: TimezoneName | None = None
    # Frozen, so one shared empty instance is a safe default (a factory would build and
    # validate a new one for every event that leaves the field out).
    device: Device = Device()
    geo: Geo = Geo()
    page: Page = Page()


class Consent(BaseModel):
    """What the visitor agreed to, as the site's consent banner recorded it.

    `marketing` gates Conversions-API forwarding (capi/): only `true` lets the event go to an ad
    platform; absent (`null`, never asked) counts as no. Both are JSON booleans only: a `"yes"`
    or a `1` is refused, not read as consent.
    """

    model_config = STRICT

    marketing: StrictBool | None = None
    analytics: StrictBool | None = None


class OwnlayEvent(BaseModel):
    """One first-party event in seed 000's canonical shape, as received (before hashing).

    `email` and `client_timestamp` extend seed 000: the e-mail is stored only as a keyed hash, and
    `client_timestamp` carries seed 001's client-side clock when the sender has one.
    """

    model_config = STRICT

    event_id: UUID
    event_type: EventTypeField
    timestamp: EventTimestamp
    received_at: PlausibleTimestamp | None = None
    anonymous_id: Identifier | None = None
    user_id: UserId | None = Field(default=None, validate_default=True)
    session_id: Identifier | None = None
    device_id: Identifier | None = None
    email: Email | None = None
    source: EventSource = EventSource()
    utm: Utm = Utm()
    properties: Properties = Field(default_factory=dict)
    context: EventContext = EventContext()
    workspace_id: WorkspaceSlug | None = None
    processed_at: PlausibleTimestamp | None = None
    version: Annotated[str, StringConstraints(pattern=r"^\d{1,3}(\.\d{1,3}){0,2}$")] = "1.0"
    client_timestamp: ClientTimestamp | None = None
    consent: Consent = Consent()

    @model_validator(mode="before")
    @classmethod
    def _email_from_properties(cls, data: Any) -> Any:
        # An e-mail sent as `properties.email` is hashed like `email`; the property itself is
        # dropped by the properties scrub, so it never reaches the lake in clear.
        if not isinstance(data, dict) or data.get("email") is not None:
            return data
        properties = data.get("properties")
        email = properties.get("email") if isinstance(properties, dict) else None
        if isinstance(email, str) and re.match(EMAIL_PATTERN, email.strip()):
            return {**data, "email": email.strip()}
        return data

    @field_validator("user_id")
    @classmethod
    def _someone(cls, value: str | None, info: ValidationInfo) -> str | None:
        # Seed 001 requires a user id; seed 000 lets anonymous visitors use anonymous_id instead.
        if value is None and info.data.get("anonymous_id") is None:
            raise ValueError("user_id is required unless anonymous_id is given")
        return value


class TrackEvent(BaseModel):
    """One event as seed 001's tracking SDK sends it to `POST /api/v1/track`."""

    model_config = STRICT

    id: UUID
    project_id: WorkspaceSlug | None = None
    event_type: EventTypeField
    user_id: UserId
    session_id: Identifier | None = None
    properties: Properties = Field(default_factory=dict)
    url: HttpUrl | None = None
    referrer: HttpUrl | None = None
    user_agent: UserAgent | None = None
    ip_address: IpAddress | None = None
    device_type: DeviceType | None = None
    browser: ShortText | None = None
    os: ShortText | None = None
    country: Country | None = None
    created_at: EventTimestamp
    client_timestamp: ClientTimestamp | None = None
    consent: Consent = Field(default_factory=Consent)
    """Not in seed 001: the banner's choices, as on seed-000 events (gates capi/ forwarding)."""

    def to_ownlay_event(self) -> OwnlayEvent:
        """The same event in seed 000's canonical shape (already validated, so not re-checked)."""
        context = EventContext.model_construct(
            ip=self.ip_address,
            user_agent=self.user_agent,
            device=Device.model_construct(type=self.device_type, os=self.os, browser=self.browser),
            geo=Geo.model_construct(country=self.country),
            page=Page.model_construct(url=self.url, referrer=self.referrer),
        )
        return OwnlayEvent.model_construct(
            event_id=self.id,
            event_type=self.event_type,
            timestamp=self.created_at,
            user_id=self.user_id,
            session_id=self.session_id,
            source=EventSource.model_construct(platform=Platform.API),
            properties=self.properties,
            context=context,
            workspace_id=self.project_id,
            client_timestamp=self.client_timestamp,
            consent=self.consent,
        )
