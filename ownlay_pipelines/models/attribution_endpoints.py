"""Last click and first touch without sorting the path: one aggregation per order.

Both models credit one click of the path, so they need neither the path's order nor its length,
only its last (or first) click under the tie-break of `models.attribution` and the number of clicks
the winner's campaign has in the window (`touches`). One aggregation per order finds the ends
exactly — the least and the greatest `RANK`: on equal times a known campaign comes after an
unknown one, then the lower event id comes last — and counts the order's clicks per hash bucket of (channel, platform, campaign). When the winner is the
only click in its bucket, no other click of the path can share its campaign and `touches` is 1;
the few orders where another click falls in the bucket (the same campaign again, or another
hashing alike) count the winner's clicks exactly over the path, which is kept from the join rather
than joined again (bench/attribution: a second pass over the clicks costs more than the gain).
"""

from __future__ import annotations

from collections.abc import Sequence

from ownlay_pipelines.models.channels import UNATTRIBUTED

ENDPOINT_MODELS = ("last_click", "first_touch")
RANK = """CASE WHEN event_id IS NOT NULL THEN struct_pack(
    time_known := -(2 * touch_us + (campaign_id IS NOT NULL)::BIGINT), id := event_id,
    channel := channel, platform := platform, campaign_id := campaign_id) END"""
"""A click's place in the path, least last: later time, then a known campaign, then the lower
event id (the triple only breaks ties between copies of one event). Time and campaign share one
BIGINT (a struct field less is cheaper to compare); doubling a time overflows only after the year
140,000, and then raises an error rather than a wrong rank."""
WINNER = {"last_click": "min", "first_touch": "max"}
"""The least rank is the path's last click, the greatest its first."""
BUCKETS = 24
"""Click counters per order, 4 bits each, packed into one HUGEINT: 96 bits, so that their sum
cannot overflow the HUGEINT before an order has 2^31 clicks."""
COUNTER_MAX = 15
"""A 4-bit counter counts to 15: an order with more clicks counts its winner's clicks exactly."""


def path_join_sql(window_us: int) -> str:
    """Every conversion `c` with each click `t` of its visitor in the window before it (both ends
    inclusive), or once with `t` all NULL when it has none."""
    return f"""conversions c LEFT JOIN touchpoints t
          ON t.identity = c.identity
         AND t.touch_us BETWEEN c.conversion_us - {window_us} AND c.conversion_us"""


def _counter_shift(triple: str) -> str:
    """The bit offset of the counter of a (channel, platform, campaign)."""
    return f"(4 * (hash({triple}) % {BUCKETS}))::HUGEINT"


def endpoint_credits_sql(window_us: int, models: Sequence[str]) -> str:
    """Credited rows of `models` (a subset of `ENDPOINT_MODELS`): (model, conversion_id, revenue,
    channel, platform, campaign_id, touches, share = 1), one per model and conversion — the rows
    of the path window in `models.attribution`, found without it."""
    triple = "channel, platform, campaign_id"
    winners = " UNION ALL ".join(
        f"""SELECT '{m}' AS model, conversion_id, revenue, n, counters,
                   coalesce({m}.channel, '{UNATTRIBUTED}') AS channel, {m}.platform AS platform,
                   {m}.campaign_id AS campaign_id
            FROM ends"""
        for m in models
    )
    return f"""
        SELECT * FROM (
        WITH path AS MATERIALIZED (
            SELECT c.conversion_id, c.revenue, t.touch_us, t.event_id,
                   coalesce(t.channel, '{UNATTRIBUTED}') AS channel, t.platform, t.campaign_id
            FROM {path_join_sql(window_us)}
        ),
        ends AS (
            SELECT conversion_id, any_value(revenue) AS revenue, count(event_id) AS n,
                   {", ".join(f"{WINNER[m]}({RANK}) AS {m}" for m in models)},
                   sum(CASE WHEN event_id IS NOT NULL
                       THEN 1::HUGEINT << {_counter_shift(triple)} END) AS counters
            FROM path GROUP BY conversion_id
        ),
        -- `touches` is known without the path when the order has at most one click, or when the
        -- winner is alone in its counter.
        counted AS (
            SELECT model, conversion_id, revenue, channel, platform, campaign_id,
                   CASE WHEN n <= 1 THEN n
                        WHEN n <= {COUNTER_MAX} AND (counters >> {_counter_shift(triple)}) & 15 = 1
                        THEN 1
                   END AS touches
            FROM ({winners})
        ),
        recounted AS (
            SELECT w.model, w.conversion_id, any_value(w.revenue) AS revenue,
                   any_value(w.channel) AS channel, any_value(w.platform) AS platform,
                   any_value(w.campaign_id) AS campaign_id,
                   count(p.event_id) FILTER (WHERE p.channel = w.channel
                       AND p.platform IS NOT DISTINCT FROM w.platform
                       AND p.campaign_id IS NOT DISTINCT FROM w.campaign_id) AS touches
            FROM (SELECT * FROM counted WHERE touches IS NULL) w
            JOIN path p ON p.conversion_id IS NOT DISTINCT FROM w.conversion_id
            GROUP BY w.model, w.conversion_id
        )
        SELECT model, conversion_id, revenue, channel, platform, campaign_id, touches,
               CAST(1 AS DOUBLE) AS share
        FROM counted WHERE touches IS NOT NULL
        UNION ALL
        SELECT model, conversion_id, revenue, channel, platform, campaign_id, touches, 1
        FROM recounted
        )
    """
