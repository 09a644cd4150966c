"""Currency facts the sandbox needs: minor units (ISO 4217 exponent) and rough price levels.

Kept inside the sandbox on purpose: the ground truth must not share conversion code with the
connectors it checks, or a bug in that code would cancel out of every comparison.
"""

from __future__ import annotations

from decimal import Decimal

ZERO_DECIMAL_CURRENCIES = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND", "VUV"}
    | {"XAF", "XOF", "XPF"}
)
THREE_DECIMAL_CURRENCIES = frozenset({"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"})

UNITS_PER_US_DOLLAR = {
    "USD": 1.0,
    "EUR": 0.92,
    "GBP": 0.79,
    "CHF": 0.88,
    "CAD": 1.36,
    "AUD": 1.52,
    "JPY": 150.0,
    "KRW": 1350.0,
    "SEK": 10.5,
    "KWD": 0.31,
}
"""Approximate price level of each currency, so a JPY campaign's CPC is ~150× a USD one's."""

MICROS_PER_UNIT = 1_000_000


def minor_unit_exponent(currency: str) -> int:
    """Digits after the decimal point in `currency` (0 for JPY, 2 for USD/EUR, 3 for KWD)."""
    if currency in ZERO_DECIMAL_CURRENCIES:
        return 0
    if currency in THREE_DECIMAL_CURRENCIES:
        return 3
    return 2


def amount_from_minor(amount_minor: int, currency: str) -> Decimal:
    """The amount `amount_minor` minor units stand for, e.g. 1234 USD cents → Decimal('12.34')."""
    return Decimal(amount_minor).scaleb(-minor_unit_exponent(currency))


def minor_from_amount(amount: float, currency: str) -> int:
    """`amount` rounded to whole minor units of `currency` (cents, or whole yen)."""
    return round(amount * 10 ** minor_unit_exponent(currency))


def to_micros(amount: Decimal) -> int:
    """`amount` in millionths of the currency unit, exactly (Google Ads money fields)."""
    micros = amount * MICROS_PER_UNIT
    if micros != micros.to_integral_value():
        raise ValueError(f"{amount} has more than six decimals and has no exact micros value")
    return int(micros)


def price_level(currency: str) -> float:
    """Units of `currency` worth about one US dollar (1.0 for currencies the table lacks)."""
    return UNITS_PER_US_DOLLAR.get(currency, 1.0)
