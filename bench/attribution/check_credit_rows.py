"""Compare this checkout's attribution credit rows with a reference checkout's, row for row.

Runs `models.attribution.credit_sql` of this checkout and of `--reference` (another checkout,
e.g. main's) on the same tables and counts the rows each has that the other lacks (`EXCEPT ALL`
both ways, every column: model, ids, channel, platform, campaign, touches, credit, revenue
credit), per data set × model subset × thread count. Data sets:

- `bench`: run_last_click_bench.py's 1M orders × 10M clicks (`--bench-scale` shrinks it);
- `ties-*`: tie-heavy sets — visitors clicking on a coarse time grid ± a few microseconds (many
  same-microsecond clicks of different campaigns, orders at exactly a click's time or the
  window's start), NULL campaigns and platforms, several channels per platform, orders without a
  visitor, and duplicated order ids (same revenue: main's `any_value(revenue)` is then
  deterministic). Event ids are unique and unrelated to time order.

Differing rows are printed (up to `--show` per comparison). Run on demand:

    .venv/bin/python bench/attribution/check_credit_rows.py --reference /work/main
    .venv/bin/python bench/attribution/check_credit_rows.py --reference /work/main --no-bench
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import duckdb

from ownlay_pipelines.models.attribution import MODELS, PATH_MODELS, AttributionSettings, credit_sql

sys.path.insert(0, str(Path(__file__).parent))
from run_last_click_bench import MICROS_PER_DAY, START_US, generate

CreditSql = Callable[[AttributionSettings, Sequence[str]], str]
MODEL_SUBSETS: tuple[tuple[str, ...], ...] = (
    MODELS,
    PATH_MODELS,
    ("last_click",),
    ("first_touch",),
    ("linear",),
    ("position_based",),
    ("time_decay",),
    ("last_click", "first_touch"),
    ("linear", "time_decay"),
    ("last_click", "position_based", "landing_utm"),
)
TIE_SETS = {  # name: (visitors, clicks, orders, grid hours, jitter µs)
    "ties-dense": (300, 6_000, 2_000, 3, 2),
    "ties-grid": (2_000, 20_000, 5_000, 6, 3),
    "ties-exact": (500, 10_000, 3_000, 12, 0),
    "ties-wide": (5_000, 40_000, 8_000, 24, 1),
}


def reference_credit_sql(checkout: Path) -> CreditSql:
    """`credit_sql` of another checkout's `models/attribution.py` (its imports resolve here)."""
    path = checkout / "ownlay_pipelines" / "models" / "attribution.py"
    spec = importlib.util.spec_from_file_location("reference_attribution", path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"no attribution module at {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module.credit_sql


def generate_ties(
    connection: duckdb.DuckDBPyConnection,
    visitors: int,
    clicks: int,
    orders: int,
    grid_h: int,
    jitter_us: int,
) -> None:
    """`touchpoints` and `conversions` with many equal click times per visitor (seeded)."""
    grid_us = grid_h * 3_600_000_000
    slots = 30 * MICROS_PER_DAY // grid_us
    at = (
        f"{START_US} + (hash('{{tag}}-slot', i) % {slots})::BIGINT * {grid_us}"
        f" + (hash('{{tag}}-jitter', i) % {2 * jitter_us + 1})::BIGINT - {jitter_us}"
    )
    connection.execute(f"""
        CREATE OR REPLACE TABLE touchpoints AS
        SELECT 'e' || lpad((hash('event', i) % 1000000000)::VARCHAR, 9, '0') || '-' || i
                   AS event_id,
               'v' || (hash('click-visitor', i) % {visitors}) AS identity,
               {at.format(tag="click")} AS touch_us,
               CASE hash('platform', i) % 5 WHEN 0 THEN NULL WHEN 1 THEN 'google_ads'
                    WHEN 2 THEN 'tiktok_ads' ELSE 'meta_ads' END AS platform,
               CASE WHEN hash('campaign-null', i) % 5 = 0 THEN NULL
                    ELSE 'c' || (hash('campaign', i) % 6) END AS campaign_id,
               CASE hash('channel', i) % 7 WHEN 0 THEN 'email' WHEN 1 THEN 'other' END AS utm
        FROM range({clicks}) t(i)
    """)
    connection.execute("""
        CREATE OR REPLACE TABLE touchpoints AS
        SELECT event_id, identity, touch_us, coalesce(platform, utm, 'other') AS channel,
               platform, campaign_id
        FROM touchpoints
    """)
    # Every 13th order id repeats an earlier one (same revenue); every 17th order has no visitor.
    connection.execute(f"""
        CREATE OR REPLACE TABLE conversions AS
        SELECT 'o' || CASE WHEN i % 13 = 12 THEN i - 5 ELSE i END AS conversion_id,
               CASE WHEN i % 17 = 16 THEN NULL
                    ELSE 'v' || (hash('order-visitor', i) % {visitors}) END AS identity,
               {at.format(tag="order")} AS conversion_us,
               CAST(round(5 + (hash('revenue', CASE WHEN i % 13 = 12 THEN i - 5 ELSE i END)
                    % 20000) / 100.0, 2) AS DECIMAL(20, 6)) AS revenue,
               'unattributed' AS landing_channel, NULL::VARCHAR AS landing_platform,
               NULL::VARCHAR AS landing_campaign_id
        FROM range({orders}) t(i)
    """)


def differing(
    connection: duckdb.DuckDBPyConnection, ours: str, reference: str, show: int
) -> tuple[int, int, int, list[tuple]]:
    """(rows only ours has, rows only the reference has, reference rows, a few of each)."""
    connection.execute(f"CREATE OR REPLACE TEMP TABLE ours AS {ours}")
    connection.execute(f"CREATE OR REPLACE TEMP TABLE reference AS {reference}")
    only_ours = connection.sql("FROM ours EXCEPT ALL FROM reference")
    only_reference = connection.sql("FROM reference EXCEPT ALL FROM ours")
    sample = connection.sql(f"""
        SELECT * FROM (SELECT 'ours' AS side, * FROM ({only_ours.sql_query()}) LIMIT {show})
        UNION ALL
        SELECT * FROM (SELECT 'reference', * FROM ({only_reference.sql_query()}) LIMIT {show})
        ORDER BY conversion_id, model, channel, platform, campaign_id, side
    """).fetchall()
    [(count,)] = connection.sql("SELECT count(*) FROM reference").fetchall()
    return len(only_ours.fetchall()), len(only_reference.fetchall()), count, sample


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, required=True, help="the other checkout")
    parser.add_argument("--no-bench", action="store_true", help="tie-heavy sets only")
    parser.add_argument("--bench-scale", type=float, default=1.0)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--show", type=int, default=5)
    args = parser.parse_args()
    reference_sql = reference_credit_sql(args.reference)
    settings = AttributionSettings()

    sets: dict[str, Callable[[duckdb.DuckDBPyConnection], None]] = {
        name: (lambda c, shape=shape: generate_ties(c, *shape)) for name, shape in TIE_SETS.items()
    }
    if not args.no_bench:
        scale = args.bench_scale
        sets["bench"] = lambda c: generate(
            c, int(10_000_000 * scale), int(1_000_000 * scale), int(1_000_000 * scale), 30
        )
    failures = 0
    for name, build in sets.items():
        connection = duckdb.connect()
        connection.execute("SET asof_loop_join_threshold = 0")
        build(connection)
        for threads in args.threads:
            connection.execute(f"SET threads = {threads}")
            for models in MODEL_SUBSETS if name != "bench" else (MODELS, ("last_click",)):
                only_ours, only_reference, count, sample = differing(
                    connection,
                    credit_sql(settings, models),
                    reference_sql(settings, models),
                    args.show,
                )
                failures += only_ours + only_reference > 0
                print(
                    f"{name}, {threads} thread(s), {'+'.join(models)}: {count:,} rows, "
                    f"{only_ours} only ours, {only_reference} only the reference",
                    flush=True,
                )
                for row in sample:
                    print("    ", row)
        connection.close()
    print(f"\n{failures} comparison(s) with differing rows")


if __name__ == "__main__":
    main()
