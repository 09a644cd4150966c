"""The derived campaign metrics, each defined exactly once as a SQL expression.

Every model, mart and warehouse view computes ctr, cpc, cpm and roas through these expressions, so
the numbers agree everywhere. A zero denominator gives NULL (not an error, not zero): a campaign
with no impressions has no CTR.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DerivedMetric:
    """A ratio metric: its column name, its SQL over the base columns, its unit and meaning."""

    name: str
    sql: str
    unit: str
    description: str


DERIVED_METRICS: tuple[DerivedMetric, ...] = (
    DerivedMetric(
        "ctr_percent",
        "CAST(clicks AS DOUBLE) * 100 / NULLIF(impressions, 0)",
        "percent",
        "Click-through rate: clicks per 100 impressions (seed 003's checks assume percent).",
    ),
    DerivedMetric(
        "cpc",
        "CAST(spend AS DOUBLE) / NULLIF(clicks, 0)",
        "account currency per click",
        "Cost per click.",
    ),
    DerivedMetric(
        "cpm",
        "CAST(spend AS DOUBLE) * 1000 / NULLIF(impressions, 0)",
        "account currency per 1,000 impressions",
        "Cost per mille.",
    ),
    DerivedMetric(
        "roas",
        "CAST(conversion_value AS DOUBLE) / NULLIF(CAST(spend AS DOUBLE), 0)",
        "ratio (currency units of value per unit of spend)",
        "Platform-reported return on ad spend: conversion value / spend.",
    ),
)


def derived_metrics_sql() -> str:
    """`expr AS name` for every derived metric, comma-separated, for a SELECT list."""
    return ",\n    ".join(f"{m.sql} AS {m.name}" for m in DERIVED_METRICS)
