"""Columns every ad platform's daily campaign metrics table shares, so one model can unify them.

A platform's raw metrics table starts with these columns (its extras follow), all money as exact
decimals in the account currency and `report_date` in the account's own timezone.
"""

import pyarrow as pa

MONEY = pa.decimal128(20, 6)
"""Money and fractional counts: exact, six decimal places covers micros."""

CAMPAIGN_DAY_FIELDS: tuple[pa.Field, ...] = (
    pa.field("workspace_id", pa.string(), nullable=False),
    pa.field("account_id", pa.string(), nullable=False),
    pa.field("campaign_id", pa.string(), nullable=False),
    pa.field("campaign_name", pa.string()),
    pa.field("report_date", pa.date32(), nullable=False),
    pa.field("account_timezone", pa.string()),
    pa.field("currency", pa.string()),
    pa.field("impressions", pa.int64(), nullable=False),
    pa.field("clicks", pa.int64(), nullable=False),
    pa.field("spend", MONEY, nullable=False),
    pa.field("conversions", MONEY, nullable=False),
    pa.field("conversion_value", MONEY, nullable=False),
)

CAMPAIGN_STATUSES: tuple[str, ...] = ("active", "paused", "removed", "other")
"""The shared vocabulary of a campaign snapshot's `status` column, whatever the platform."""

CAMPAIGN_DAY_COLUMNS: tuple[str, ...] = tuple(f.name for f in CAMPAIGN_DAY_FIELDS)


def campaign_day_schema(*extra: pa.Field) -> pa.Schema:
    """The shared campaign-day columns followed by a platform's `extra` columns."""
    return pa.schema([*CAMPAIGN_DAY_FIELDS, *extra])
