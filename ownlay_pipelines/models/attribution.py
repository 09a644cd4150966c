"""`marts/attribution`: each order's credit, per attribution model, to channels and campaigns.

One row per (model, order, channel, platform, campaign) with the share of the order credited
(`credit`, exact to 12 decimals), the revenue that share stands for (`revenue_credit`) and the
campaign's clicks in the order's window (`touches`; 0 on landing and unattributed rows). Every
model's credits of an order sum to exactly 1 and its revenue credits to exactly the order's
revenue — an order nothing can be credited with gets one `unattributed` row — so every model's
totals reconcile to the orders (reference/analytics.md §1.2, §1.3).

The path of an order is its visitor's ad clicks in the window before it: `order time − window ≤
click time ≤ order time`, both ends inclusive, measured in UTC microseconds (a click after the
order is never in it). The path is ordered by time; on equal times a click whose campaign is
known comes after one whose is not, then the lower event id comes last, so the last click is
deterministic. Models over the path:

- `last_click`: all credit to the last click (the spec's model, 7-day window by default);
- `first_touch`: all credit to the first click;
- `linear`: 1/n to each of the n clicks;
- `position_based`: 40 % first, 40 % last, 20 % shared by the middle (n = 2: 50/50);
- `time_decay`: weight 2^(−age / half-life) per click (half-life 7 days), normalised.

`landing_utm` is seed 003's store attribution: the whole order to the campaign the UTMs of the
order's landing page name (Shopify `landing_site`), whatever the clicks were.

The path is one hash join on the visitor plus a range condition, not an ASOF join: every model
but last click needs every click of the window, and on selective visitor keys the range join was
faster than ASOF anyway (reference/perf_reliability.md §1.4; `bench/attribution`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from ownlay_pipelines.lake.tables import TableRef
from ownlay_pipelines.lake.writer import write_partition
from ownlay_pipelines.models.attribution_inputs import CampaignSources, create_attribution_inputs
from ownlay_pipelines.models.channels import UNATTRIBUTED
from ownlay_pipelines.registry.workspaces import Workspace
from ownlay_pipelines.schema.campaign_metrics import MONEY

ATTRIBUTION = TableRef.of("marts", "attribution")
PATH_MODELS = ("last_click", "first_touch", "linear", "position_based", "time_decay")
LANDING_MODEL = "landing_utm"
MODELS = (*PATH_MODELS, LANDING_MODEL)
MICROS_PER_DAY = 86_400_000_000
CREDIT = pa.decimal128(18, 12)

ATTRIBUTION_SCHEMA = pa.schema(
    [
        pa.field("workspace_id", pa.string(), nullable=False),
        pa.field("report_date", pa.date32(), nullable=False),
        pa.field("model", pa.string(), nullable=False),
        pa.field("conversion_id", pa.string(), nullable=False),
        pa.field("conversion_source", pa.string(), nullable=False),
        pa.field("converted_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("currency", pa.string()),
        pa.field("conversion_revenue", MONEY, nullable=False),
        pa.field("channel", pa.string(), nullable=False),
        pa.field("platform", pa.string()),
        pa.field("campaign_id", pa.string()),
        pa.field("touches", pa.int64(), nullable=False),
        pa.field("credit", CREDIT, nullable=False),
        pa.field("revenue_credit", MONEY, nullable=False),
    ]
)
"""`report_date` is the order's local date (the shop's, or the workspace's for purchase events)."""


@dataclass(frozen=True)
class AttributionSettings:
    """The lookback window (clicks older than this before an order get nothing) and the time
    decay half-life, both in days."""

    window_days: int = 7
    half_life_days: float = 7.0

    def __post_init__(self) -> None:
        if not 1 <= self.window_days <= 90:
            raise ValueError(f"window_days must be 1 to 90, not {self.window_days}")
        if not self.half_life_days > 0:
            raise ValueError(f"half_life_days must be positive, not {self.half_life_days}")


def credit_sql(settings: AttributionSettings, models: Sequence[str] = MODELS) -> str:
    """The query crediting every row of `conversions` over `touchpoints` under `models`.

    Inputs: `conversions(conversion_id, identity, conversion_us, revenue, landing_channel,
    landing_platform, landing_campaign_id)` and `touchpoints(event_id, identity, touch_us,
    channel, platform, campaign_id)`. Output: (model, conversion_id, channel, platform,
    campaign_id, touches, credit, revenue_credit), exact per conversion.
    """
    unknown = sorted(set(models) - set(MODELS))
    if unknown or not models:
        raise ValueError(f"unknown attribution models {unknown}; choose from {MODELS}")
    window_us = settings.window_days * MICROS_PER_DAY
    half_life_us = settings.half_life_days * MICROS_PER_DAY
    path_models = [m for m in PATH_MODELS if m in models]
    weights = {
        "last_click": "CASE WHEN seq = n THEN 1.0 ELSE 0.0 END",
        "first_touch": "CASE WHEN seq = 1 THEN 1.0 ELSE 0.0 END",
        "linear": "1.0 / n",
        "position_based": "CASE WHEN n = 1 THEN 1.0 WHEN n = 2 THEN 0.5 "
        "WHEN seq = 1 OR seq = n THEN 0.4 ELSE 0.2 / (n - 2) END",
        "time_decay": f"{_decay(half_life_us)} / decay_total",
    }
    parts = []
    if path_models:
        # A conversion without a click in its window keeps one row (the LEFT JOIN's), with n = 0:
        # that row is its `unattributed` credit under every path model.
        shares = ", ".join(
            f"CAST(CASE WHEN n = 0 THEN 1.0 ELSE {weights[m]} END AS DOUBLE) AS {m}"
            for m in path_models
        )
        # The order's summed decay comes from the same window (one partitioning of the path, not
        # two), summed in the path's order.
        decay_total = (
            f", sum({_decay(half_life_us, 'c.conversion_us', 't.touch_us')}) OVER per_order"
            " AS decay_total"
            if "time_decay" in path_models
            else ""
        )
        campaigns = f"""
            SELECT conversion_id, any_value(revenue) AS revenue, channel, platform,
                   campaign_id, count(event_id) AS touches,
                   {", ".join(f"sum({m}) AS {m}" for m in path_models)}
            FROM (
                SELECT conversion_id, revenue, event_id, channel, platform, campaign_id,
                       {shares}
                FROM (
                    SELECT c.conversion_id, c.revenue, c.conversion_us, t.touch_us,
                           t.event_id, coalesce(t.channel, '{UNATTRIBUTED}') AS channel,
                           t.platform, t.campaign_id,
                           row_number() OVER (per_order ORDER BY t.touch_us,
                               t.campaign_id IS NOT NULL, t.event_id DESC) AS seq,
                           count(t.event_id) OVER per_order AS n{decay_total}
                    FROM conversions c LEFT JOIN touchpoints t
                      ON t.identity = c.identity
                     AND t.touch_us BETWEEN c.conversion_us - {window_us} AND c.conversion_us
                    WINDOW per_order AS (PARTITION BY c.conversion_id)
                )
            )
            -- One row per campaign of the path: its clicks and each model's summed weight.
            GROUP BY conversion_id, channel, platform, campaign_id
        """
        parts.append(_credits_sql(campaigns, path_models))
    if LANDING_MODEL in models:
        parts.append(f"""
            SELECT '{LANDING_MODEL}' AS model, conversion_id, landing_channel AS channel,
                   landing_platform AS platform, landing_campaign_id AS campaign_id,
                   0 AS touches, {_WHOLE_CREDIT}
            FROM conversions
        """)
    return " UNION ALL ".join(parts)


_WHOLE_ORDER = {
    "credit": "CAST(1 AS DECIMAL(18, 12))",
    "revenue_credit": "CAST(revenue AS DECIMAL(20, 6))",
}
"""A campaign row's credit and revenue credit when it takes its whole order (SQL)."""
_WHOLE_CREDIT = ", ".join(f"{value} AS {name}" for name, value in _WHOLE_ORDER.items())
_WHOLE_CREDIT_STRUCT = (
    "{" + ", ".join(f"'{name}': {value}" for name, value in _WHOLE_ORDER.items()) + "}"
)
_FRACTIONAL_MODELS = ("linear", "position_based", "time_decay")
"""Models whose share of a campaign can lie strictly between 0 and 1; the others sum whole rows."""


def _credits_sql(campaigns: str, path_models: Sequence[str]) -> str:
    """Credit rows (model, conversion_id, channel, platform, campaign_id, touches, credit,
    revenue_credit) of `campaigns`, one row per (order, campaign) with each model's share.

    A share of 1 or more is the whole order; a share between 0 and 1 is rounded to 12 decimals
    (its revenue to 6), and the units rounding leaves over go to the order's last row by row key,
    so each model's credits of an order sum to exactly 1 and its revenue credits to exactly its
    revenue. The comparisons are written as `share > 0`, `share >= 1` so a NaN share counts
    as a whole order, as it always did.
    """
    fractional = [m for m in path_models if m in _FRACTIONAL_MODELS]
    if not fractional:
        return f"""
            SELECT model, conversion_id, channel, platform, campaign_id, touches, {_WHOLE_CREDIT}
            FROM (UNPIVOT ({campaigns}) ON {", ".join(path_models)} INTO NAME model VALUE share)
            WHERE share > 0
        """
    split = {m: f"{m} > 0 AND {m} < 1" for m in fractional}
    rounded = ", ".join(
        f"CASE WHEN {split[m]} THEN CAST(round({m}, 12) AS DECIMAL(18, 12)) END AS credit_{m}, "
        f"CASE WHEN {split[m]} THEN CAST(round(CAST(revenue AS DOUBLE) * {m}, 6) "
        f"AS DECIMAL(20, 6)) END AS revenue_{m}"
        for m in fractional
    )
    gaps = ", ".join(
        f"max(row_key) FILTER (WHERE credit_{m} IS NOT NULL) AS last_key_{m}, "
        f"1 - sum(credit_{m}) AS credit_gap_{m}, "
        f"any_value(revenue) FILTER (WHERE credit_{m} IS NOT NULL) - sum(revenue_{m}) "
        f"AS revenue_gap_{m}"
        for m in fractional
    )

    def credit(m: str) -> str:
        """Model `m`'s credit of a campaign row as a struct (credit, revenue_credit); NULL when
        the model gives the row nothing, which drops it from the UNPIVOT."""
        if m not in fractional:
            return f"CASE WHEN {m} > 0 THEN {_WHOLE_CREDIT_STRUCT} END AS {m}"
        last = f"k.row_key = g.last_key_{m}"
        return (
            f"CASE WHEN {m} >= 1 THEN {_WHOLE_CREDIT_STRUCT} WHEN {m} > 0 THEN {{"
            f"'credit': CAST(credit_{m} + CASE WHEN {last} THEN credit_gap_{m} ELSE 0 END "
            "AS DECIMAL(18, 12)), "
            f"'revenue_credit': CAST(revenue_{m} + CASE WHEN {last} THEN revenue_gap_{m} "
            "ELSE 0 END AS DECIMAL(20, 6))} END AS " + m
        )

    return f"""
        SELECT model, conversion_id, channel, platform, campaign_id, touches,
               credited.credit, credited.revenue_credit
        FROM (UNPIVOT (
            WITH keyed AS MATERIALIZED (
                SELECT *, {rounded},
                       concat_ws('|', channel, coalesce(platform, ''), coalesce(campaign_id, ''))
                           AS row_key
                FROM ({campaigns})
            ),
            -- Rounding leaves a few units of the last decimal over; the order's last row takes
            -- them.
            gaps AS (SELECT conversion_id, {gaps} FROM keyed GROUP BY conversion_id)
            SELECT k.conversion_id, k.channel, k.platform, k.campaign_id, k.touches,
                   {", ".join(credit(m) for m in path_models)}
            FROM keyed k JOIN gaps g USING (conversion_id)
        ) ON {", ".join(path_models)} INTO NAME model VALUE credited)
    """


def _decay(
    half_life_us: float, conversion_us: str = "conversion_us", touch_us: str = "touch_us"
) -> str:
    """A click's time-decay weight: one half per half-life between it and the conversion."""
    return f"pow(0.5, ({conversion_us} - {touch_us}) / {half_life_us!r})"


def compute_attribution(
    connection: duckdb.DuckDBPyConnection,
    lake_root: Path,
    *,
    workspace: Workspace,
    days: Sequence[date],
    campaign_sources: CampaignSources,
    settings: AttributionSettings = AttributionSettings(),
) -> pa.Table:
    """Attribution rows of the workspace's orders placed on local `days`, for every model."""
    create_attribution_inputs(
        connection,
        lake_root,
        workspace=workspace,
        days=days,
        window_days=settings.window_days,
        campaign_sources=campaign_sources,
    )
    query = f"""
        SELECT '{workspace.id}' AS workspace_id, c.report_date, a.model, a.conversion_id,
               c.conversion_source, c.converted_at, c.currency, c.revenue AS conversion_revenue,
               a.channel, a.platform, a.campaign_id, a.touches, a.credit, a.revenue_credit
        FROM ({credit_sql(settings)}) a JOIN conversions c USING (conversion_id)
        ORDER BY c.report_date, a.model, a.conversion_id, a.channel, a.platform, a.campaign_id
    """
    table = connection.sql(query).to_arrow_table()
    return table.select(ATTRIBUTION_SCHEMA.names).cast(ATTRIBUTION_SCHEMA)


def write_attribution(
    connection: duckdb.DuckDBPyConnection,
    lake_root: Path,
    *,
    workspace: Workspace,
    days: Sequence[date],
    campaign_sources: CampaignSources,
    settings: AttributionSettings = AttributionSettings(),
) -> pa.Table:
    """Compute the workspace's attribution for `days` and replace each day's partition."""
    table = compute_attribution(
        connection,
        lake_root,
        workspace=workspace,
        days=days,
        campaign_sources=campaign_sources,
        settings=settings,
    )
    for day in days:
        rows = table.filter(pc.equal(table["report_date"], pa.scalar(day, pa.date32())))
        write_partition(lake_root, ATTRIBUTION, rows, workspace_id=workspace.id, report_date=day)
    return table
