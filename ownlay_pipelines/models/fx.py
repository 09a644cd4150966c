"""`raw/fx/daily_rates` and converting money to a workspace's reporting currency in SQL.

One row per (rate_date, currency) the ECB published: `rate` units of `currency` per euro, EUR
itself included as 1 so every conversion is one join. The table is small (≈ 30 currencies × 255
business days a year) and shared by every workspace, so it is one unpartitioned file that each
run merges the feed into: a day already stored is replaced by the feed's version (the ECB
occasionally corrects a rate), days the feed no longer lists are kept.

Conversion (ARCHITECTURE.md §8: once, in SQL, at the day's rate): an amount in currency C on
local day D becomes `amount × rate(R) / rate(C)` in reporting currency R — a cross rate via EUR —
using the latest publication on or before D. Weekends and TARGET holidays have no publication, so
they use the previous business day's rates (the ECB's own guidance for non-publication days); so
does today before the 16:00 CET release. An amount already in R is never converted (factor 1, no
rate needed). Converted amounts are rounded to 6 decimals, the lake's money scale.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa

from ownlay_pipelines.lake.tables import DATA_FILE, TableRef, table_dir
from ownlay_pipelines.lake.writer import write_parquet_atomically
from ownlay_pipelines.models.fx_feed import FxRate
from ownlay_pipelines.models.mart_inputs import create_view

FX_RATES = TableRef.of("raw", "fx", "daily_rates")
RATE = pa.decimal128(18, 6)
FX_SCHEMA = pa.schema(
    [
        pa.field("rate_date", pa.date32(), nullable=False),
        pa.field("currency", pa.string(), nullable=False),
        pa.field("rate", RATE, nullable=False),
    ]
)
"""`rate` units of `currency` buy one euro on `rate_date` (an ECB business day)."""
FX_VIEW = "fx_rates"
FACTOR_VIEW = "fx_to_reporting"


class FxRateMissing(LookupError):
    """An amount needs a rate the FX table does not have; the message names currency and day."""


def fx_rates_path(lake_root: Path) -> Path:
    """The single file holding every stored rate."""
    return table_dir(lake_root, FX_RATES) / DATA_FILE


def newest_rate_date(lake_root: Path) -> date | None:
    """The latest business day the FX table has rates for; None before the first run."""
    path = fx_rates_path(lake_root)
    if not path.exists():
        return None
    with duckdb.connect() as connection:
        return connection.execute(
            "SELECT max(rate_date) FROM read_parquet(?)", [str(path)]
        ).fetchall()[0][0]


def merge_rates(lake_root: Path, fetched: Iterable[FxRate]) -> pa.Table:
    """Store `fetched` into the FX table (fetched days replace stored ones) and return it all."""
    new = pa.Table.from_pylist(
        [{"rate_date": r.rate_date, "currency": r.currency, "rate": r.rate} for r in fetched],
        schema=FX_SCHEMA,
    )
    path = fx_rates_path(lake_root)
    connection = duckdb.connect()
    connection.register("new_rates", new)
    query = "SELECT * FROM new_rates"
    if path.exists():
        query += (
            f" UNION ALL SELECT * FROM read_parquet('{path}') "
            "WHERE rate_date NOT IN (SELECT rate_date FROM new_rates)"
        )
    merged = connection.sql(f"{query} ORDER BY rate_date, currency").to_arrow_table()
    merged = merged.cast(FX_SCHEMA)
    write_parquet_atomically(path, merged)
    return merged


def create_fx_views(
    connection: duckdb.DuckDBPyConnection,
    lake_root: Path,
    reporting_currency: str,
    first: date,
    last: date,
) -> None:
    """Define `fx_to_reporting(day, currency, rate_date, factor)` for local days [first, last]:
    the factor turning an amount in `currency` into `reporting_currency` on `day`."""
    path = fx_rates_path(lake_root)
    create_view(connection, FX_VIEW, [str(path)] if path.exists() else [], FX_SCHEMA)
    connection.execute(
        f"""
        CREATE OR REPLACE TEMP VIEW {FACTOR_VIEW} AS
        WITH days AS (
            SELECT CAST(d AS DATE) AS day
            FROM range(DATE '{first.isoformat()}', DATE '{last.isoformat()}' + 1, INTERVAL 1 DAY)
                AS t(d)
        ), published AS (SELECT DISTINCT rate_date FROM {FX_VIEW}),
        day_rates AS (
            SELECT days.day, p.rate_date FROM days ASOF JOIN published AS p
            ON days.day >= p.rate_date
        )
        SELECT d.day, c.currency, d.rate_date,
               CAST(r.rate AS DOUBLE) / CAST(c.rate AS DOUBLE) AS factor
        FROM day_rates AS d
        JOIN {FX_VIEW} AS c ON c.rate_date = d.rate_date
        JOIN {FX_VIEW} AS r ON r.rate_date = d.rate_date AND r.currency = '{reporting_currency}'
        """
    )


def converted(amount: str, currency: str, factor: str, reporting_currency: str) -> str:
    """SQL for `amount` (in column `currency`) in the reporting currency, given the joined
    `factor` column of `fx_to_reporting`; NULL only when a needed rate is missing."""
    return (
        f"CAST(round(CASE WHEN {currency} = '{reporting_currency}' THEN {amount} "
        f"ELSE CAST({amount} AS DOUBLE) * {factor} END, 6) AS DECIMAL(20, 6))"
    )


def require_rates(
    connection: duckdb.DuckDBPyConnection,
    relation: str,
    *,
    day: str,
    currency: str,
    reporting_currency: str,
) -> None:
    """Raise FxRateMissing when any row of `relation` needs a rate `fx_to_reporting` lacks."""
    missing = connection.execute(
        f"""
        SELECT DISTINCT x.{currency}, x.{day} FROM {relation} AS x
        LEFT JOIN {FACTOR_VIEW} AS fx ON fx.day = x.{day} AND fx.currency = x.{currency}
        WHERE x.{currency} IS NOT NULL AND x.{currency} <> ? AND fx.factor IS NULL
        ORDER BY 2, 1 LIMIT 5
        """,
        [reporting_currency],
    ).fetchall()
    if missing:
        listed = ", ".join(f"{c} on {d.isoformat()}" for c, d in missing)
        raise FxRateMissing(
            f"no ECB rate to convert into {reporting_currency} for {listed} (table {FX_RATES}: "
            "materialize it for these days, or the currency is not one the ECB publishes)"
        )
