"""The shop's records in the Shopify Admin REST API's words (reference/connectors.md §1.7).

Ids are JSON integers, money is a decimal string in the shop currency (with `*_set` shop and
presentment pairs), timestamps are ISO 8601 with whole seconds in the shop's own UTC offset, and an
order's `landing_site` is the path and query of the page its session started on.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from ownlay_pipelines.sandbox.currency import minor_unit_exponent
from ownlay_pipelines.sandbox.orders import CustomerSummary, Shop
from ownlay_pipelines.sandbox.shop_entities import (
    AbandonedCheckout,
    LineItem,
    ShopCustomer,
    ShopOrder,
    ShopProduct,
)


class ShopifyRenderer:
    """Renders one shop's records as it answers at the world's `now`."""

    def __init__(self, shop: Shop, domain: str) -> None:
        self.shop = shop
        self.domain = domain
        self.zone: ZoneInfo = shop.visitors.zone
        self.currency = shop.currency
        self.now = shop.world.now

    def timestamp(self, moment: datetime) -> str:
        """Whole seconds in the shop's offset, as Shopify writes: 2026-01-01T11:00:00-05:00."""
        return moment.astimezone(self.zone).isoformat(timespec="seconds")

    def money(self, amount: Decimal) -> str:
        """A decimal string with the currency's minor-unit digits."""
        return f"{amount:.{minor_unit_exponent(self.currency)}f}"

    def money_set(self, amount: Decimal) -> dict[str, Any]:
        """Shopify's shop/presentment pair; the sandbox's buyers pay in the shop currency."""
        money = {"amount": self.money(amount), "currency_code": self.currency}
        return {"shop_money": money, "presentment_money": dict(money)}

    def order(self, order: ShopOrder) -> dict[str, Any]:
        """One order as `GET /orders.json?status=any` lists it."""
        refunds = order.refunds_as_of(self.now)
        refunded = sum((r.amount for r in refunds), Decimal(0))
        if not refunds:
            financial_status = "paid"
        else:
            financial_status = "refunded" if refunded >= order.total else "partially_refunded"
        number = self.shop.order_number(order)
        landing = urlsplit(order.visit.landing_url)
        return {
            "id": order.order_id,
            "admin_graphql_api_id": f"gid://shopify/Order/{order.order_id}",
            "name": f"#{number}",
            "order_number": number,
            "number": number - 1000,
            "email": order.customer.email,
            "created_at": self.timestamp(order.created_at),
            "processed_at": self.timestamp(order.created_at),
            "updated_at": self.timestamp(order.updated_at(self.now)),
            "cancelled_at": (
                self.timestamp(order.cancelled_at) if order.cancelled_as_of(self.now) else None
            ),
            "cancel_reason": "customer" if order.cancelled_as_of(self.now) else None,
            "closed_at": None,
            "test": False,
            "currency": self.currency,
            "presentment_currency": self.currency,
            "financial_status": financial_status,
            "fulfillment_status": None,
            "taxes_included": order.tax > 0,
            "subtotal_price": self.money(order.subtotal),
            "total_tax": self.money(order.tax),
            "total_discounts": self.money(Decimal(0)),
            "total_price": self.money(order.total),
            "total_price_set": self.money_set(order.total),
            "total_shipping_price_set": self.money_set(order.shipping),
            "checkout_id": order.checkout_id,
            "source_name": "web",
            "landing_site": landing.path + (f"?{landing.query}" if landing.query else ""),
            "referring_site": order.visit.referrer,
            "customer": self.customer_stub(order.customer),
            "line_items": [self.line_item(line) for line in order.visit.line_items],
            "refunds": [
                {
                    "id": refund.refund_id,
                    "order_id": order.order_id,
                    "created_at": self.timestamp(refund.created_at),
                    "processed_at": self.timestamp(refund.created_at),
                    "note": refund.note,
                    "transactions": [
                        {
                            "id": refund.refund_id + 1,
                            "kind": "refund",
                            "status": "success",
                            "amount": self.money(refund.amount),
                            "currency": self.currency,
                        }
                    ],
                }
                for refund in refunds
            ],
        }

    def line_item(self, line: LineItem) -> dict[str, Any]:
        """One line of an order or checkout."""
        return {
            "id": line.line_item_id,
            "product_id": line.product.product_id,
            "variant_id": line.variant.variant_id,
            "title": line.product.title,
            "variant_title": line.variant.title,
            "sku": line.variant.sku,
            "quantity": line.quantity,
            "price": self.money(line.variant.price),
            "price_set": self.money_set(line.variant.price),
        }

    def customer_stub(self, customer: ShopCustomer) -> dict[str, Any]:
        """The customer as embedded in an order."""
        return {
            "id": customer.customer_id,
            "email": customer.email,
            "first_name": customer.first_name,
            "last_name": customer.last_name,
        }

    def customer(self, summary: CustomerSummary) -> dict[str, Any]:
        """One customer as `GET /customers.json` lists them (lifetime totals as of `now`)."""
        return {
            **self.customer_stub(summary.customer),
            "created_at": self.timestamp(summary.created_at),
            "updated_at": self.timestamp(summary.updated_at),
            "orders_count": summary.orders_count,
            "total_spent": self.money(summary.total_spent),
            "last_order_id": summary.last_order.order_id,
            "last_order_name": f"#{self.shop.order_number(summary.last_order)}",
            "state": "enabled",
            "verified_email": True,
            "tags": "repeat" if summary.orders_count > 1 else "",
            "currency": self.currency,
        }

    def product(self, product: ShopProduct) -> dict[str, Any]:
        """One product with its variants, as `GET /products.json` lists it."""
        return {
            "id": product.product_id,
            "title": product.title,
            "handle": product.handle,
            "product_type": product.product_type,
            "vendor": product.vendor,
            "status": "active",
            "created_at": self.timestamp(product.created_at),
            "updated_at": self.timestamp(product.created_at),
            "variants": [
                {
                    "id": variant.variant_id,
                    "product_id": product.product_id,
                    "title": variant.title,
                    "sku": variant.sku,
                    "price": self.money(variant.price),
                    "position": position,
                }
                for position, variant in enumerate(product.variants, start=1)
            ],
        }

    def checkout(self, checkout: AbandonedCheckout) -> dict[str, Any]:
        """One abandoned checkout, as `GET /checkouts.json` lists it."""
        landing = urlsplit(checkout.visit.landing_url)
        return {
            "id": checkout.checkout_id,
            "token": checkout.token,
            "cart_token": checkout.token[::-1],
            "created_at": self.timestamp(checkout.created_at),
            "updated_at": self.timestamp(checkout.created_at),
            "completed_at": None,
            "currency": self.currency,
            "subtotal_price": self.money(checkout.subtotal),
            "total_price": self.money(checkout.subtotal),
            "landing_site": landing.path + (f"?{landing.query}" if landing.query else ""),
            "referring_site": checkout.visit.referrer,
            "abandoned_checkout_url": f"https://{self.domain}/checkouts/{checkout.token}/recover",
            "line_items": [self.line_item(line) for line in checkout.visit.line_items],
        }
