"""What a workspace's shop sells and to whom: products, the customer pool, baskets and totals.

Every value comes from a generator named by its identity (seed, workspace, …), like the ad
catalogues, so a product or a customer can be built alone. Prices follow the workspace currency's
price level (a JPY shop charges ~150× a USD one) and end in .95, or in whole yen.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from ownlay_pipelines.sandbox.catalog import slugify
from ownlay_pipelines.sandbox.currency import minor_unit_exponent, price_level
from ownlay_pipelines.sandbox.seeding import rng_for, stable_seed
from ownlay_pipelines.sandbox.shop_entities import LineItem, ShopCustomer, ShopProduct, ShopVariant

PRODUCT_WORDS = (
    ("Classic", "Everyday", "Premium", "Travel", "Signature", "Limited", "Organic", "Essential"),
    ("Gift Box", "Starter Set", "Tote Bag", "Candle", "Blanket", "Bottle", "Sampler", "Journal"),
)
PRODUCT_TYPES = ("Bundles", "Accessories", "Home", "Gifts")
SIZES = ("Small", "Medium", "Large")
FIRST_NAMES = ("Ava", "Ben", "Chloe", "Daniel", "Emma", "Felix", "Hana", "Jonas", "Lea", "Mia")
LAST_NAMES = ("Becker", "Garcia", "Ito", "Johnson", "Klein", "Nguyen", "Sato", "Smith", "Weber")
CUSTOMER_POOL_SIZE = 5000
"""Orders pick their customer from this many people, so some customers come back."""
FREE_SHIPPING_USD = 75.0
SHIPPING_USD = 5.95
TAX_RATES = {"EUR": Decimal("0.19"), "JPY": Decimal("0.10"), "GBP": Decimal("0.20")}
"""VAT included in shelf prices; US shops here sell tax-exempt (no sales tax line)."""


@dataclass(frozen=True)
class Basket:
    """What a checkout adds up to: subtotal, shipping, included tax and the total."""

    subtotal: Decimal
    shipping: Decimal
    tax: Decimal

    @property
    def total(self) -> Decimal:
        """Subtotal plus shipping (tax is included in prices)."""
        return self.subtotal + self.shipping


def shop_id(seed: int, workspace_id: str, kind: str, *path: object, digits: int) -> int:
    """A Shopify-looking numeric id of `digits` digits, fixed by the object's identity."""
    low = 10 ** (digits - 1)
    return low + stable_seed(seed, "shop-id", workspace_id, kind, *path) % (9 * low)


def shop_token(seed: int, workspace_id: str, kind: str, *path: object) -> str:
    """A 32-hex-digit token (Shopify's cart and checkout tokens), fixed by the identity."""
    halves = (stable_seed(seed, "shop-token", workspace_id, kind, *path, half) for half in (0, 1))
    return "".join(f"{half:016x}" for half in halves)


def build_products(seed: int, workspace_id: str, currency: str, anchor: date) -> list[ShopProduct]:
    """The shop's 12 products, each with one to three size variants."""
    rng = rng_for(seed, "shop-products", workspace_id)
    names = rng.sample([(a, n) for a in PRODUCT_WORDS[0] for n in PRODUCT_WORDS[1]], 12)
    products = []
    for index, (adjective, noun) in enumerate(names):
        title = f"{adjective} {noun}"
        base = rng.uniform(10, 60) * price_level(currency)
        sizes = ("Default Title",) if rng.random() < 0.4 else SIZES[: rng.randint(2, 3)]
        variants = tuple(
            ShopVariant(
                variant_id=shop_id(seed, workspace_id, "variant", index, size, digits=14),
                title=size,
                sku=f"{slugify(title).upper()}-{size[0]}",
                price=shelf_price(base * (1 + 0.25 * position), currency),
            )
            for position, size in enumerate(sizes)
        )
        products.append(
            ShopProduct(
                product_id=shop_id(seed, workspace_id, "product", index, digits=10),
                title=title,
                handle=slugify(title),
                product_type=rng.choice(PRODUCT_TYPES),
                vendor=workspace_id,
                created_at=datetime.combine(
                    anchor - timedelta(days=rng.randint(1, 200)), time(9), UTC
                ),
                variants=variants,
            )
        )
    return products


def shelf_price(amount: float, currency: str) -> Decimal:
    """A price as shops set them: x.95 in currencies with cents, whole tens in those without."""
    if minor_unit_exponent(currency) == 0:
        return Decimal(max(10, round(amount, -1)))
    return Decimal(max(1, int(amount))) + Decimal("0.95")


def draw_lines(
    rng: random.Random,
    products: list[ShopProduct],
    *,
    seed: int,
    workspace_id: str,
    identity: tuple[object, ...],
) -> tuple[LineItem, ...]:
    """One to three distinct products, mostly one of each; line item ids follow `identity`."""
    picked = rng.sample(products, rng.choice((1, 1, 1, 2, 2, 3)))
    return tuple(
        LineItem(
            line_item_id=shop_id(seed, workspace_id, "line", *identity, index, digits=14),
            product=product,
            variant=rng.choice(product.variants),
            quantity=1 if rng.random() < 0.8 else 2,
        )
        for index, product in enumerate(picked)
    )


def basket(lines: tuple[LineItem, ...], currency: str) -> Basket:
    """The totals of `lines`: flat shipping below the free-shipping threshold, VAT included."""
    subtotal = sum((line.total for line in lines), Decimal(0))
    level = price_level(currency)
    free = float(subtotal) >= FREE_SHIPPING_USD * level
    shipping = Decimal(0) if free else shelf_price(SHIPPING_USD * level, currency)
    rate = TAX_RATES.get(currency, Decimal(0))
    quantum = Decimal(1).scaleb(-minor_unit_exponent(currency))
    return Basket(subtotal, shipping, (subtotal * rate / (1 + rate)).quantize(quantum))


def customer(seed: int, workspace_id: str, number: int) -> ShopCustomer:
    """Member `number` of the workspace's customer pool."""
    rng = rng_for(seed, "shop-customer", workspace_id, number)
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    return ShopCustomer(
        customer_id=shop_id(seed, workspace_id, "customer", number, digits=13),
        first_name=first,
        last_name=last,
        email=f"{first.lower()}.{last.lower()}.{number}@example.com",
    )


def pick_customer(seed: int, workspace_id: str, order_identity: tuple[object, ...]) -> ShopCustomer:
    """The customer who placed an order: a draw from the pool, so repeat buyers happen."""
    number = stable_seed(seed, "shop-buyer", workspace_id, *order_identity) % CUSTOMER_POOL_SIZE
    return customer(seed, workspace_id, number)
