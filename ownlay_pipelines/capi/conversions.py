"""A conversion to forward, as captured at ingest (raw), and seed 002's event-name table.

`Conversion` is the outbox payload: it holds the raw contact and network data the platforms need
(e-mail, phone, names, address, IP, user agent) and therefore lives only in the forwarding outbox
(capi/outbox.py), never in the lake. Hashing happens when a batch is built (capi/wire.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

from ownlay_pipelines.capi.platforms import CapiPlatform

EVENT_NAMES: dict[str, dict[CapiPlatform, str]] = {
    "purchase": {
        CapiPlatform.META: "Purchase",
        CapiPlatform.GOOGLE: "purchase",
        CapiPlatform.TIKTOK: "CompletePayment",
        CapiPlatform.SNAPCHAT: "PURCHASE",
    },
    "add_to_cart": {
        CapiPlatform.META: "AddToCart",
        CapiPlatform.TIKTOK: "AddToCart",
        CapiPlatform.SNAPCHAT: "ADD_CART",
    },
    "checkout_start": {
        CapiPlatform.META: "InitiateCheckout",
        CapiPlatform.TIKTOK: "InitiateCheckout",
        CapiPlatform.SNAPCHAT: "START_CHECKOUT",
    },
    "lead": {
        CapiPlatform.META: "Lead",
        CapiPlatform.GOOGLE: "generate_lead",
        CapiPlatform.TIKTOK: "SubmitForm",
        CapiPlatform.SNAPCHAT: "SIGN_UP",
    },
    "page_view": {
        CapiPlatform.META: "PageView",
        CapiPlatform.TIKTOK: "PageView",
        CapiPlatform.SNAPCHAT: "PAGE_VIEW",
    },
    "sign_up": {
        CapiPlatform.META: "CompleteRegistration",
        CapiPlatform.GOOGLE: "sign_up",
        CapiPlatform.TIKTOK: "CompleteRegistration",
        CapiPlatform.SNAPCHAT: "SIGN_UP",
    },
    "search": {
        CapiPlatform.META: "Search",
        CapiPlatform.TIKTOK: "Search",
        CapiPlatform.SNAPCHAT: "SEARCH",
    },
}
"""Seed 002's standard mappings. Google Ads receives only conversions (purchase, lead, sign_up)
into the destination's conversion action; page views, searches and carts are not conversions
there (a workspace override can still send them)."""

EVENT_TYPE_ALIASES = {"signup": "sign_up", "checkout_started": "checkout_start"}
"""Seed 000 says `signup`, seed 002 `sign_up`; seed 001 `checkout_started`, seed 000
`checkout_start` (seeds/README.md traps): one name each."""

CLICK_ID_PARAMETERS = {"fbclid": "fbclid", "gclid": "gclid", "ttclid": "ttclid", "sccid": "sccid"}
"""Query parameter (case-insensitive; Snapchat's is `ScCid`) → Conversion field."""


def canonical_event_type(event_type: str) -> str:
    """The seed-002 name of a source event type (`signup` → `sign_up`)."""
    name = event_type.strip().lower()
    return EVENT_TYPE_ALIASES.get(name, name)


def platform_event_name(
    event_type: str,
    platform: CapiPlatform,
    overrides: Mapping[str, Mapping[CapiPlatform, str]] | None = None,
) -> str | None:
    """The event name `platform` receives for `event_type`, or None when it is not forwarded
    there. A workspace override wins over seed 002's table."""
    name = canonical_event_type(event_type)
    override = (overrides or {}).get(name, {}).get(platform)
    if override:
        return override
    return EVENT_NAMES.get(name, {}).get(platform)


@dataclass(frozen=True)
class Conversion:
    """One first-party conversion as captured, with the raw data needed to match it.

    `event_id` is the id the browser pixel used, sent in each platform's dedup field.
    `marketing_consent` False means the visitor refused (or never gave) marketing consent: such a
    conversion is never enqueued.
    """

    workspace_id: str
    event_id: str
    event_type: str
    event_time: datetime
    marketing_consent: bool
    value: float | None = None
    currency: str | None = None
    order_id: str | None = None
    content_ids: tuple[str, ...] = ()
    page_url: str | None = None
    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    city: str | None = None
    state: str | None = None
    zip: str | None = None
    country: str | None = None
    external_id: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    click_ids: dict[str, str] = field(default_factory=dict)
    action_source: str = "website"
    """Meta's `action_source`: `website` (needs the user agent), or for store orders without a
    browser `other`, and `system_generated` for subscription renewals (capi/orders.py)."""

    def __post_init__(self) -> None:
        if self.event_time.tzinfo is None:
            raise ValueError("event_time must be timezone-aware")

    @property
    def unix_time(self) -> int:
        """`event_time` in whole Unix seconds, as every CAPI wants it."""
        return int(self.event_time.timestamp())

    def to_json(self) -> str:
        """The outbox payload (raw data: stored only in the outbox)."""
        # Field by field: `asdict` deep-copies every value, 20× slower on the forwarding path.
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["event_time"] = self.event_time.isoformat()
        data["content_ids"] = list(self.content_ids)
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Conversion:
        data = json.loads(text)
        data["event_time"] = datetime.fromisoformat(data["event_time"]).astimezone(UTC)
        data["content_ids"] = tuple(data["content_ids"])
        return cls(**data)


def click_ids_from_url(url: str | None) -> dict[str, str]:
    """fbclid, gclid, ttclid and ScCid from a landing-page URL's query string."""
    if not url:
        return {}
    found: dict[str, str] = {}
    for name, values in parse_qs(urlsplit(url).query).items():
        key = CLICK_ID_PARAMETERS.get(name.lower())
        if key and values and values[0]:
            found[key] = values[0]
    return found
