"""The world's visits as first-party events: seed 000 `OwnlayEvent` payloads, as a pixel sends them.

Each ad click is a `page_view` of the ad's landing URL (UTM parameters and click id in the URL and
in `utm`); the visit's last session continues with a product view, `add_to_cart`,
`checkout_start` and, for buyers, a `purchase` whose `properties.order_id` is the Shopify order id
(that is how an order finds its visitor). Payloads are plain dicts ready to POST to
`/api/v1/events`; ids are derived from the world's seed, so sending twice stores nothing new.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from ownlay_pipelines.sandbox.catalog import Brand
from ownlay_pipelines.sandbox.seeding import stable_seed
from ownlay_pipelines.sandbox.shop_entities import (
    AbandonedCheckout,
    ShopOrder,
    Visit,
    VisitOutcome,
)
from ownlay_pipelines.sandbox.visitors import referrer

if TYPE_CHECKING:
    from ownlay_pipelines.sandbox.world import SandboxWorld

USER_AGENTS = {
    "desktop": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "mobile": "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "tablet": "Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
}
LOCALES = {"USD": "en-US", "EUR": "de-DE", "JPY": "ja-JP", "GBP": "en-GB"}


def event_payloads(
    world: SandboxWorld, workspace_id: str, start: date, end: date
) -> Iterator[dict[str, Any]]:
    """Every event the workspace's visitors sent on local dates [start, end] up to the world's
    `now`, oldest first, as seed 000 payloads (`OwnlayEvent` fields)."""
    shop = world.shop(workspace_id)
    workspace = world.registry.get(workspace_id)
    renderer = _Renderer(world, workspace_id, Brand.of(workspace.name, workspace.currency))
    events = [
        event
        for visit, record in shop.event_records(start, end)
        for event in renderer.visit_events(visit, record)
        if event["_at"] <= world.now and start <= shop.visitors.local_date(event["_at"]) <= end
    ]
    events.sort(key=lambda e: (e["_at"], e["event_id"]))
    for event in events:
        del event["_at"]
        yield event


class _Renderer:
    """Turns one visit (and the order or checkout it left) into its events."""

    def __init__(self, world: SandboxWorld, workspace_id: str, brand: Brand) -> None:
        workspace = world.registry.get(workspace_id)
        self.seed = world.seed
        self.workspace_id = workspace_id
        self.site = brand.site
        self.country = brand.country
        self.timezone = workspace.timezone
        self.currency = workspace.currency
        self.locale = LOCALES.get(workspace.currency, "en-US")

    def visit_events(
        self, visit: Visit, record: ShopOrder | AbandonedCheckout | None
    ) -> list[dict[str, Any]]:
        """The visit's events in time order: earlier ad clicks, then the final session."""
        events: list[dict[str, Any]] = []
        for click in visit.clicks:
            if click.at != visit.session_start:  # else the click opens the final session
                session = self._id("session", visit.visitor_id, click.at.isoformat())
                events.append(
                    self._page_view(
                        visit, len(events), session, click.at, click.url, referrer(click.platform)
                    )
                )
        session = self._id("session", visit.visitor_id, "final")
        start, end = visit.session_start, visit.ended_at
        events.append(
            self._page_view(visit, len(events), session, start, visit.landing_url, visit.referrer)
        )
        if visit.outcome is VisitOutcome.BOUNCE:
            return events
        line = visit.line_items[0]
        product_url = f"{self.site}/products/{line.product.handle}"
        viewed_at, carted_at = start + (end - start) * 0.25, start + (end - start) * 0.5
        events.append(
            self._page_view(visit, len(events), session, viewed_at, product_url, visit.landing_url)
        )
        cart = {
            "product_id": str(line.product.product_id),
            "variant_id": str(line.variant.variant_id),
            "quantity": line.quantity,
            "price": float(line.variant.price),
            "currency": self.currency,
        }
        events.append(
            self._event(visit, len(events), session, "add_to_cart", carted_at, cart, product_url)
        )
        checkout_id = _checkout_id(record)
        checkout_url = f"{self.site}/checkouts/{checkout_id}"
        checkout_at = end if visit.outcome is VisitOutcome.CHECKOUT else start + (end - start) * 0.8
        checkout = {"checkout_id": str(checkout_id), "currency": self.currency}
        events.append(
            self._event(
                visit, len(events), session, "checkout_start", checkout_at, checkout, checkout_url
            )
        )
        if isinstance(record, ShopOrder):
            purchase = {
                "order_id": str(record.order_id),
                "revenue": float(record.total),
                "currency": record.currency,
                "items": sum(item.quantity for item in visit.line_items),
            }
            thank_you = f"{checkout_url}/thank-you"
            event = self._event(visit, len(events), session, "purchase", end, purchase, thank_you)
            event["user_id"] = f"customer-{record.customer.customer_id}"
            events.append(event)
        return events

    def _page_view(
        self,
        visit: Visit,
        number: int,
        session: str,
        at: datetime,
        url: str,
        referrer: str | None,
    ) -> dict[str, Any]:
        event = self._event(visit, number, session, "page_view", at, {}, url, referrer)
        utm = {
            name.removeprefix("utm_"): value
            for name, value in parse_qsl(urlsplit(url).query)
            if name.startswith("utm_")
        }
        if utm:
            event["utm"] = utm
        return event

    def _event(
        self,
        visit: Visit,
        number: int,
        session: str,
        event_type: str,
        at: datetime,
        properties: dict[str, Any],
        url: str,
        referrer: str | None = None,
    ) -> dict[str, Any]:
        high = stable_seed(self.seed, "event-id", self.workspace_id, visit.visitor_id, number)
        low = stable_seed(self.seed, "event-id-low", self.workspace_id, visit.visitor_id, number)
        page: dict[str, Any] = {"url": url, "path": urlsplit(url).path or "/"}
        if referrer:
            page["referrer"] = referrer
        return {
            "_at": at,
            "event_id": str(uuid.UUID(int=(high << 64) | low, version=4)),
            "event_type": event_type,
            "timestamp": at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "anonymous_id": visit.visitor_id,
            "session_id": session,
            "utm": {},
            "properties": properties,
            "context": {
                "user_agent": USER_AGENTS[visit.device],
                "locale": self.locale,
                "timezone": self.timezone,
                "device": {"type": visit.device},
                "geo": {"country": self.country},
                "page": page,
            },
            "workspace_id": self.workspace_id,
            "version": "1.0",
        }

    def _id(self, kind: str, *identity: object) -> str:
        return f"{kind[0]}-{stable_seed(self.seed, kind, self.workspace_id, *identity):016x}"


def _checkout_id(record: ShopOrder | AbandonedCheckout | None) -> int:
    if record is None:
        raise ValueError("a visit that reached checkout must have left an order or a checkout")
    return record.checkout_id
