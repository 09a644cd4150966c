"""Last-click attribution, 1M conversions × 10M clicks, 7-day window: our SQL against the anchor.

Generates the data set of reference/perf_reliability.md §1.2 (random users and times over 30 days,
VARCHAR visitor ids) in DuckDB, then times, in the same run and on the same tables:

- `anchor`: §1.4's fastest plan and the budget's yardstick (issue 12: ours ≤ 2× it), a range
  join on the visitor + `GROUP BY conversion` with `arg_max(campaign, click time)`;
- `ours`: `models.attribution.credit_sql(last_click)`, the production query (range join on the
  visitor, tie-break, unattributed rows, exact reconciliation), materialised as a temp table;
  timed alternately with the anchor so a change in the machine's load hits both;
- `ours, all five path models`: the same query for every click-path model at once;
- `duckdb asof`: the plain ASOF shape of §1.4 (latest click at or before, then the window check);
- `pandas merge_asof`: `pd.merge_asof(by=visitor, direction="backward", tolerance=7 days)`
  including both sorts, the naive reference.

Every variant must attribute the same conversions to the same clicks' campaigns; the script
checks that before printing. Run on demand, never in CI:

    .venv/bin/python bench/attribution/run_last_click_bench.py               # ~2 minutes
    .venv/bin/python bench/attribution/run_last_click_bench.py --without-pandas   # ~1 minute
    .venv/bin/python bench/attribution/run_last_click_bench.py --clicks 1000000 --conversions 100000
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable
from typing import NamedTuple

import duckdb
import pandas as pd

from ownlay_pipelines.models.attribution import PATH_MODELS, AttributionSettings, credit_sql

MICROS_PER_DAY = 86_400_000_000
START_US = 1_735_689_600_000_000
"""2025-01-01 00:00 UTC."""


def generate(
    connection: duckdb.DuckDBPyConnection, clicks: int, conversions: int, users: int, days: int
) -> None:
    """`touchpoints` and `conversions` with random visitors and times (seeded, repeatable)."""
    span = days * MICROS_PER_DAY
    connection.execute("SELECT setseed(0.42)")
    connection.execute(f"""
        CREATE OR REPLACE TABLE touchpoints AS
        SELECT 'e' || lpad(i::VARCHAR, 9, '0') AS event_id,
               'user_' || lpad((hash('click-user', i) % {users})::VARCHAR, 7, '0') AS identity,
               {START_US} + (hash('click-time', i) % {span})::BIGINT AS touch_us,
               CASE hash('click-platform', i) % 3 WHEN 0 THEN 'meta_ads' WHEN 1 THEN 'google_ads'
                    ELSE 'tiktok_ads' END AS platform,
               'cmp_' || lpad((hash('click-campaign', i) % 500)::VARCHAR, 3, '0') AS campaign_id
        FROM range({clicks}) t(i)
    """)
    connection.execute("ALTER TABLE touchpoints ADD COLUMN channel VARCHAR")
    connection.execute("UPDATE touchpoints SET channel = platform")
    connection.execute(f"""
        CREATE OR REPLACE TABLE conversions AS
        SELECT 'o' || lpad(i::VARCHAR, 8, '0') AS conversion_id,
               'user_' || lpad((hash('conversion-user', i) % {users})::VARCHAR, 7, '0') AS identity,
               {START_US} + (hash('conversion-time', i) % {span})::BIGINT AS conversion_us,
               CAST(round(5 + (hash('conversion-revenue', i) % 20000) / 100.0, 2)
                    AS DECIMAL(20, 6)) AS revenue,
               'unattributed' AS landing_channel, NULL::VARCHAR AS landing_platform,
               NULL::VARCHAR AS landing_campaign_id
        FROM range({conversions}) t(i)
    """)


class Timing(NamedTuple):
    """Seconds of wall clock and of this process's CPU (all DuckDB threads): on a machine others
    load, the CPU figure moves much less than the wall clock."""

    wall: float
    cpu: float


def best_of(repeat: int, run: Callable[[], None]) -> Timing:
    """The least wall clock and the least CPU time of `repeat` runs."""
    timings = []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        timings.append(Timing(time.perf_counter() - wall, time.process_time() - cpu))
    return Timing(min(t.wall for t in timings), min(t.cpu for t in timings))


def best_alternating(repeat: int, runs: dict[str, Callable[[], None]]) -> dict[str, Timing]:
    """`best_of` per run over `repeat` rounds, the runs taking turns within each round."""
    rounds = [{name: best_of(1, run) for name, run in runs.items()} for _ in range(repeat)]
    return {
        name: Timing(min(r[name].wall for r in rounds), min(r[name].cpu for r in rounds))
        for name in runs
    }


def anchor_sql(window_us: int) -> str:
    """§1.4's range join + `arg_max` plan: the last click's campaign, nothing else."""
    return f"""
        CREATE OR REPLACE TEMP TABLE anchor_result AS
        SELECT c.conversion_id, arg_max(t.campaign_id, t.touch_us) AS campaign_id
        FROM conversions c LEFT JOIN touchpoints t
          ON t.identity = c.identity
         AND t.touch_us BETWEEN c.conversion_us - {window_us} AND c.conversion_us
        GROUP BY c.conversion_id
    """


def asof_sql(window_us: int) -> str:
    return f"""
        CREATE OR REPLACE TEMP TABLE asof_result AS
        SELECT c.conversion_id,
               CASE WHEN t.touch_us >= c.conversion_us - {window_us} THEN t.campaign_id END
                   AS campaign_id
        FROM conversions c ASOF LEFT JOIN touchpoints t
          ON c.identity = t.identity AND c.conversion_us >= t.touch_us
    """


def pandas_last_click(
    conversions: pd.DataFrame, clicks: pd.DataFrame, window_us: int
) -> pd.DataFrame:
    return pd.merge_asof(
        conversions.sort_values("conversion_us"),
        clicks.sort_values("touch_us"),
        left_on="conversion_us",
        right_on="touch_us",
        by="identity",
        direction="backward",
        tolerance=window_us,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversions", type=int, default=1_000_000)
    parser.add_argument("--clicks", type=int, default=10_000_000)
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--without-pandas", action="store_true", help="skip merge_asof")
    args = parser.parse_args()

    settings = AttributionSettings()
    window_us = settings.window_days * MICROS_PER_DAY
    connection = duckdb.connect()
    connection.execute("SET asof_loop_join_threshold = 0")
    started = time.perf_counter()
    generate(connection, args.clicks, args.conversions, args.users, args.days)
    print(
        f"generated {args.clicks:,} clicks and {args.conversions:,} conversions "
        f"in {time.perf_counter() - started:.1f} s"
    )

    last_click = credit_sql(settings, ("last_click",))
    every_model = credit_sql(settings, PATH_MODELS)

    def run(sql: str) -> Callable[[], None]:
        def execute() -> None:
            connection.execute(sql)

        return execute

    anchor, ours = "anchor: range join + arg_max (§1.4)", "ours: last click (production SQL)"
    results = best_alternating(
        args.repeat,
        {
            anchor: run(anchor_sql(window_us)),
            ours: run(f"CREATE OR REPLACE TEMP TABLE ours AS {last_click}"),
        },
    )
    results["ours: all five path models"] = best_of(
        1, run(f"CREATE OR REPLACE TEMP TABLE ours_all AS {every_model}")
    )
    results["duckdb ASOF, bare (§1.4 shape)"] = best_of(args.repeat, run(asof_sql(window_us)))

    pandas_result = "SELECT conversion_id, NULL::VARCHAR AS campaign_id FROM conversions"
    if not args.without_pandas:
        conversions = connection.sql(
            "SELECT conversion_id, identity, conversion_us FROM conversions"
        ).df()
        clicks = connection.sql("SELECT identity, touch_us, campaign_id FROM touchpoints").df()
        merged: list[pd.DataFrame] = []
        results["pandas merge_asof (incl. sorts)"] = best_of(
            args.repeat, lambda: merged.append(pandas_last_click(conversions, clicks, window_us))
        )
        connection.register("pandas_frame", merged[-1][["conversion_id", "campaign_id"]])
        pandas_result = "SELECT * FROM pandas_frame"
    connection.execute(f"CREATE OR REPLACE TEMP VIEW pandas_result AS {pandas_result}")

    checks = connection.sql("""
        SELECT count(*) FILTER (WHERE o.channel <> 'unattributed') AS ours_attributed,
               count(*) FILTER (WHERE n.campaign_id IS NOT NULL) AS anchor_attributed,
               count(*) FILTER (WHERE p.campaign_id IS NOT NULL) AS pandas_attributed,
               count(*) FILTER (WHERE a.campaign_id IS NOT NULL) AS asof_attributed,
               count(*) FILTER (WHERE o.campaign_id IS DISTINCT FROM n.campaign_id)
                   AS differ_anchor,
               count(*) FILTER (WHERE o.campaign_id IS DISTINCT FROM p.campaign_id)
                   AS differ_pandas,
               count(*) FILTER (WHERE o.campaign_id IS DISTINCT FROM a.campaign_id) AS differ_asof,
               sum(o.revenue_credit) = (SELECT sum(revenue) FROM conversions) AS revenue_reconciles
        FROM ours o JOIN anchor_result n USING (conversion_id)
        JOIN pandas_result p USING (conversion_id)
        JOIN asof_result a USING (conversion_id)
    """).fetchall()[0]
    ours_n, anchor_n, pandas_n, asof_n, differ_anchor, differ_pandas, differ_asof, reconciles = (
        checks
    )

    print(
        f"\nmachine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"duckdb {duckdb.__version__}, pandas {pd.__version__}; best of {args.repeat}; "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    print("\n| approach | seconds | × anchor | CPU s | CPU × anchor |\n|---|---|---|---|---|")
    base = results[anchor]
    for name, (wall, cpu) in results.items():
        print(
            f"| {name} | {wall:.2f} | {wall / base.wall:.2f} | {cpu:.2f} | {cpu / base.cpu:.2f} |"
        )
    pandas_counts = "skipped" if args.without_pandas else f"{pandas_n:,}"
    pandas_differ = "skipped" if args.without_pandas else f"{differ_pandas:,}"
    print(
        f"\nattributed: ours {ours_n:,}, anchor {anchor_n:,}, pandas {pandas_counts}, "
        f"ASOF {asof_n:,} of {args.conversions:,}; campaigns differing from ours: "
        f"anchor {differ_anchor:,}, pandas {pandas_differ}, ASOF {differ_asof:,} "
        f"(ties on equal timestamps); revenue reconciles: {reconciles}"
    )


if __name__ == "__main__":
    main()
