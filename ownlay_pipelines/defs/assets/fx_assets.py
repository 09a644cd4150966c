"""`raw/fx/daily_rates`: the ECB's euro reference rates, fetched daily after their release.

Thin wiring over `models/fx_feed.py` (fetch and parse) and `models/fx.py` (merge into the one
unpartitioned file). The 90-day history is read when the table is new or has fallen behind, the
one-day file otherwise.
"""

from datetime import timedelta

import dagster as dg
import httpx

from ownlay_pipelines.defs.column_schema import table_schema
from ownlay_pipelines.defs.resources import LakeResource, PlatformClientsResource
from ownlay_pipelines.models.fx import FX_RATES, FX_SCHEMA, merge_rates, newest_rate_date
from ownlay_pipelines.models.fx_feed import FxFeedError, fetch_rates

CATCH_UP_AFTER_DAYS = 4
"""A newest stored rate older than this (a long weekend is 4 days) makes the run read the
90-day history instead of the daily file."""
RELEASE_CRON = "30 16 * * 1-5"
"""Half an hour after the ECB's ~16:00 Frankfurt release, on weekdays."""


@dg.asset(
    key=FX_RATES.parts,
    description=(
        "One row per ECB business day and currency: units of the currency per euro (the ECB's "
        "euro foreign exchange reference rates; EUR = 1 included). Marts convert money into "
        "each workspace's reporting currency against it, at the latest rate on or before the "
        "day (weekends and TARGET holidays use the previous business day)."
    ),
    group_name="raw_fx",
    kinds={"parquet"},
    metadata={
        "lake_table": str(FX_RATES),
        "dagster/column_schema": table_schema(FX_SCHEMA),
    },
)
def fx_daily_rates(
    context: dg.AssetExecutionContext, lake: LakeResource, platforms: PlatformClientsResource
) -> dg.MaterializeResult:
    """Fetch the ECB feed and merge it into the FX table."""
    newest = newest_rate_date(lake.lake_root)
    transport = platforms.http_transport() or httpx.HTTPTransport(retries=3)
    with httpx.Client(transport=transport, timeout=30.0) as client:
        try:
            history = newest is None
            rates = fetch_rates(client, history=history)
            behind = newest is not None and rates[-1].rate_date - newest > timedelta(
                days=CATCH_UP_AFTER_DAYS
            )
            if behind:
                history = True
                rates = fetch_rates(client, history=True)
        except FxFeedError as exc:
            raise dg.Failure(description=str(exc)) from exc
    table = merge_rates(lake.lake_root, rates)
    context.log.info(f"{FX_RATES}: merged {len(rates)} rates, {table.num_rows} stored")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": table.num_rows,
            "fetched_rates": len(rates),
            "latest_rate_date": str(rates[-1].rate_date),
            "read_history": history,
        }
    )


fx_rates_job = dg.define_asset_job("fx_rates", selection=[fx_daily_rates])
fx_rates_schedule = dg.ScheduleDefinition(
    name="fx_rates_after_ecb_release",
    job=fx_rates_job,
    cron_schedule=RELEASE_CRON,
    execution_timezone="Europe/Berlin",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
