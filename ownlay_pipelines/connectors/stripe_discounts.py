"""Discount ids in Stripe subscription events, replaced by their Discount objects.

A subscription's `discounts` (and each item's) are ids unless the request expands them, and an
event's `data.object` can never be expanded. The subscriptions list can: one paged read with
`expand[]=data.discounts` and `expand[]=data.items.data.discounts` gives every discount still
on a subscription, by id. An id found nowhere (a discount since removed, whose only trace is
the event) stays an id, and the normaliser quarantines that row naming it
(`stripe_rows._discounts`) rather than computing MRR without the coupon.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Protocol

DISCOUNT_EXPANSIONS = ["data.discounts", "data.items.data.discounts"]
"""`expand[]` values that make the subscriptions list carry Discount objects, not ids."""


class Lister(Protocol):
    def listing(self, resource: str, params: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
        """Every object of a Stripe list (`StripeClient.listing`)."""
        ...


def listed_discounts(subscription: Mapping[str, Any]) -> Iterator[Any]:
    """Every entry of the subscription's own `discounts` and of its items' `discounts`."""
    yield from subscription.get("discounts") or []
    for item in (subscription.get("items") or {}).get("data") or []:
        yield from item.get("discounts") or []


class DiscountLookup:
    """Discount objects by id, read from the subscriptions list once, the first time an id
    needs one (most syncs never do: 2022-11-15 objects resolve through their `discount`)."""

    def __init__(self, client: Lister) -> None:
        self._client = client
        self._by_id: dict[str, Mapping[str, Any]] | None = None

    def _known(self) -> dict[str, Mapping[str, Any]]:
        if self._by_id is None:
            params = {"status": "all", "expand[]": DISCOUNT_EXPANSIONS}
            self._by_id = {
                str(entry["id"]): entry
                for subscription in self._client.listing("subscriptions", params)
                for entry in listed_discounts(subscription)
                if isinstance(entry, Mapping) and entry.get("id")
            }
        return self._by_id

    def expanded(self, subscription: Mapping[str, Any]) -> Mapping[str, Any]:
        """`subscription` with every discount id it cannot resolve itself (through its legacy
        `discount`) replaced by the Discount object, when the lookup has it."""
        legacy = subscription.get("discount")
        own = legacy.get("id") if isinstance(legacy, Mapping) else None
        if all(isinstance(e, Mapping) or e == own for e in listed_discounts(subscription)):
            return subscription
        known = self._known()

        def resolve(entries: Any) -> Any:
            if not isinstance(entries, list):
                return entries
            return [known.get(e, e) if isinstance(e, str) and e != own else e for e in entries]

        result = {**subscription, "discounts": resolve(subscription.get("discounts"))}
        items = subscription.get("items")
        if isinstance(items, Mapping) and isinstance(items.get("data"), list):
            result["items"] = {
                **items,
                "data": [
                    {**i, "discounts": resolve(i.get("discounts"))} if "discounts" in i else i
                    for i in items["data"]
                ],
            }
        return result

    def event_expanded(self, event: Mapping[str, Any]) -> Mapping[str, Any]:
        """A `customer.subscription.*` event with its subscription's discount ids (and those of
        the state before, in `previous_attributes`) resolved where the lookup can."""
        data = event.get("data")
        if not isinstance(data, Mapping) or not isinstance(data.get("object"), Mapping):
            return event
        new_data: dict[str, Any] = {**data, "object": self.expanded(data["object"])}
        previous = data.get("previous_attributes")
        if isinstance(previous, Mapping) and ("discounts" in previous or "items" in previous):
            before = self.expanded({**data["object"], **previous})
            new_data["previous_attributes"] = {k: before[k] for k in previous}
        return {**event, "data": new_data}
