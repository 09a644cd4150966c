"""Small real-shaped data for the watchtower tests: record snapshots and a unified view."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import duckdb
import sqlalchemy as sa

from ownlay_pipelines.watchtower.rules import Rule, list_rules
from ownlay_pipelines.watchtower.snapshots import ApiSnapshotLog
from ownlay_pipelines.watchtower.tables import api_record_metrics, api_records


def put_snapshot(
    store: sa.Engine,
    clock,
    provider: str,
    endpoint: str,
    records: Sequence[dict[str, Any]],
    *,
    client_id: str | None = "acme-outdoor",
) -> uuid.UUID:
    """A completed snapshot holding `records`; a record's `metrics` dict goes to api_record_metrics."""
    log = ApiSnapshotLog(store, clock=clock)
    with log.capture(provider, endpoint, client_id=client_id) as run:
        with store.begin() as connection:
            for record in records:
                values = {k: v for k, v in record.items() if k != "metrics"}
                record_id = uuid.uuid4()
                connection.execute(
                    api_records.insert().values(
                        id=record_id,
                        snapshot_id=run.snapshot_id,
                        client_id=client_id,
                        created_at=clock(),
                        **values,
                    )
                )
                for name, value in record.get("metrics", {}).items():
                    connection.execute(
                        api_record_metrics.insert().values(
                            record_id=record_id,
                            metric_name=name,
                            metric_value=Decimal(str(value)),
                            created_at=clock(),
                        )
                    )
        run.total_records = len(records)
    clock.advance(minutes=1)
    return run.snapshot_id


UNIFIED_COLUMNS = (
    "workspace_id VARCHAR, platform VARCHAR, account_id VARCHAR, campaign_id VARCHAR, "
    "campaign_name VARCHAR, campaign_status VARCHAR, report_date DATE, currency VARCHAR, "
    "impressions BIGINT, clicks BIGINT, spend DECIMAL(20,6), conversions DECIMAL(20,6), "
    "conversion_value DECIMAL(20,6), ctr_percent DOUBLE, cpc DOUBLE, cpm DOUBLE, roas DOUBLE"
)


def unified_row(
    day: date,
    *,
    campaign_id: str = "c1",
    workspace_id: str = "acme-outdoor",
    platform: str = "meta_ads",
    account_id: str = "1000000001",
    status: str = "ACTIVE",
    impressions: int = 10_000,
    clicks: int = 200,
    spend: float = 200.0,
    conversions: float = 10.0,
    conversion_value: float = 800.0,
) -> tuple[Any, ...]:
    """One unified row with derived ratios computed as the unified model does (null on zero)."""
    ctr = 100.0 * clicks / impressions if impressions else None
    return (
        workspace_id,
        platform,
        account_id,
        campaign_id,
        f"Campaign {campaign_id}",
        status,
        day,
        "USD",
        impressions,
        clicks,
        spend,
        conversions,
        conversion_value,
        ctr,
        spend / clicks if clicks else None,
        1000 * spend / impressions if impressions else None,
        conversion_value / spend if spend else None,
    )


def unified_warehouse(rows: Sequence[tuple[Any, ...]]) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with `unified_campaign_metrics_daily` as a view over `rows`."""
    connection = duckdb.connect()
    connection.execute(f"CREATE TABLE unified_rows ({UNIFIED_COLUMNS})")
    if rows:
        connection.executemany(f"INSERT INTO unified_rows VALUES ({', '.join('?' * 17)})", rows)
    connection.execute("CREATE VIEW unified_campaign_metrics_daily AS SELECT * FROM unified_rows")
    return connection


def user_rules(store: sa.Engine, *, include_inactive: bool = False) -> list[Rule]:
    """Stored rules other than the shipped ones every ops store starts with."""
    return [r for r in list_rules(store, include_inactive=include_inactive) if not r.is_builtin]
