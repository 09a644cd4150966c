"""Currency facts the connectors need: how many decimal places an amount's minor unit has.

Meta budgets and Stripe amounts arrive in the currency's minor unit (cents for USD, whole yen for
JPY). The zero-decimal list is the one Meta and Stripe document for their APIs.
"""

from decimal import Decimal

ZERO_DECIMAL_CURRENCIES = frozenset(
    {
        "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "MGA", "PYG",
        "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF",
    }
)  # fmt: skip


def minor_units_to_amount(minor_units: int, currency: str) -> Decimal:
    """An amount in minor units (e.g. "5000" cents) as a decimal amount in `currency` (50.00)."""
    if currency.upper() in ZERO_DECIMAL_CURRENCIES:
        return Decimal(minor_units)
    return Decimal(minor_units) / 100
