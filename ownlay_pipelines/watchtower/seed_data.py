"""Seed 004's reference rows: the data sources and metric definitions every ops store starts with.

Seed 004 leaves `min_value`/`max_value` empty; the ranges below are what each unit can physically
be (a percentage lies in 0–100, counts, amounts and ROAS are never negative), so a rule threshold
or a stored value outside them is refused as a definition error rather than silently compared.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from ownlay_pipelines.watchtower.tables import api_sources, metric_definitions

SEEDED_SOURCES: tuple[dict[str, Any], ...] = (
    {
        "provider": "internal",
        "endpoint": "communication_reports",
        "display_name": "Communications Audit",
        "description": "Discord communication tracking",
        "refresh_interval_minutes": 60,
    },
    {
        "provider": "internal",
        "endpoint": "clients",
        "display_name": "Clients",
        "description": "Client master data",
        "refresh_interval_minutes": 1440,
    },
    {
        "provider": "scraper",
        "endpoint": "cvr",
        "display_name": "CVR Data",
        "description": "Conversion rate data",
        "refresh_interval_minutes": 10080,
    },
    {
        "provider": "scraper",
        "endpoint": "shopify_themes",
        "display_name": "Shopify Themes",
        "description": "Theme data from Shopify",
        "refresh_interval_minutes": 1440,
    },
)
"""Seed 004 "Seeded Data / Data Sources", as given."""

PROJECT_SOURCES: tuple[dict[str, Any], ...] = (
    {
        "provider": "omnisend",
        "endpoint": "campaigns",
        "display_name": "Omnisend Campaigns",
        "description": "E-mail campaigns with their send, open and click counters",
        "refresh_interval_minutes": 60,
    },
    {
        "provider": "omnisend",
        "endpoint": "automations",
        "display_name": "Omnisend Automations",
        "description": "Automated e-mail flows with their send and open counters",
        "refresh_interval_minutes": 60,
    },
)
"""The Omnisend sources seed 004's "add more as needed" example and its first rule example use."""

_PERCENT = (Decimal(0), Decimal(100))
_NON_NEGATIVE = (Decimal(0), None)

SEEDED_METRICS: tuple[
    tuple[str, str, str, str, str | None, tuple[Decimal, Decimal | None]], ...
] = (
    ("open_rate", "Open Rate", "Email open rate percentage", "percent", None, _PERCENT),
    ("click_rate", "Click Rate", "Email click rate percentage", "percent", None, _PERCENT),
    ("bounce_rate", "Bounce Rate", "Email bounce rate percentage", "percent", None, _PERCENT),
    (
        "unsubscribe_rate",
        "Unsubscribe Rate",
        "Unsubscribe rate percentage",
        "percent",
        None,
        _PERCENT,
    ),
    ("revenue", "Revenue", "Total revenue generated", "currency", None, _NON_NEGATIVE),
    ("conversion_rate", "Conversion Rate", "Conversion rate percentage", "percent", None, _PERCENT),
    ("cvr", "CVR", "Conversion rate from scraper", "percent", "scraper", _PERCENT),
    ("roas", "ROAS", "Return on ad spend", "currency", None, _NON_NEGATIVE),
    ("spend", "Ad Spend", "Advertising spend", "currency", None, _NON_NEGATIVE),
    ("sent_count", "Sent Count", "Number of emails sent", "count", None, _NON_NEGATIVE),
    (
        "delivered_count",
        "Delivered Count",
        "Number of emails delivered",
        "count",
        None,
        _NON_NEGATIVE,
    ),
    ("opened_count", "Opened Count", "Number of emails opened", "count", None, _NON_NEGATIVE),
    ("clicked_count", "Clicked Count", "Number of emails clicked", "count", None, _NON_NEGATIVE),
)
"""Seed 004 "Seeded Data / Metric Definitions": name, display name, description, unit, provider
(None = universal) and the valid range."""

PROJECT_METRICS: tuple[
    tuple[str, str, str, str, str | None, tuple[Decimal, Decimal | None]], ...
] = (
    (
        "days_since_team_message",
        "Days Since Team Message",
        "Days since the team last wrote to the client (communications audit)",
        "days",
        "internal",
        _NON_NEGATIVE,
    ),
)
"""The metric seed 004's own "Comms Audit Rule" example watches on `communication_reports`."""


def insert_missing(connection: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """Insert `rows` into `table`, skipping any that collide with a unique key already stored."""
    dialect = {"postgresql": postgresql, "sqlite": sqlite}.get(connection.dialect.name)
    if dialect is None:
        raise NotImplementedError(
            f"the ops store supports SQLite and PostgreSQL, not {connection.dialect.name}"
        )
    connection.execute(dialect.insert(table).on_conflict_do_nothing(), rows)


def seed_reference_rows(connection: sa.Connection) -> None:
    """Insert the seeded sources and metric definitions that are missing; existing rows are kept."""
    insert_missing(connection, api_sources, [*SEEDED_SOURCES, *PROJECT_SOURCES])
    insert_missing(
        connection,
        metric_definitions,
        [
            {
                "metric_name": name,
                "display_name": display,
                "description": description,
                "metric_unit": unit,
                "provider": provider,
                "min_value": low,
                "max_value": high,
            }
            for name, display, description, unit, provider, (low, high) in (
                *SEEDED_METRICS,
                *PROJECT_METRICS,
            )
        ],
    )
