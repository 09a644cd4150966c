"""The restatement ledger: how much each re-sync of a day moved an ad platform's numbers.

Platforms keep changing recent days — conversions arrive for the whole attribution window, late
delivery settles — and every scheduled sync re-reads its lookback. Before a campaign-metrics
partition is replaced, the rows the lake held are compared with the new ones per account; when
spend, clicks, conversions or conversion value moved, one ledger row records before, after and
the change. A re-sync that moves nothing adds nothing, so re-running a partition leaves the
ledger as it was. Table `ledger/restatements`, one file per workspace and report date holding
that day's history; the warehouse shows it as `ledger_restatements`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa

from ownlay_pipelines.lake.tables import TableRef
from ownlay_pipelines.lake.writer import read_partition, write_partition
from ownlay_pipelines.schema.campaign_metrics import MONEY

RESTATEMENTS = TableRef.of("ledger", "restatements")
MEASURES = ("spend", "clicks", "conversions", "conversion_value")

RESTATEMENTS_SCHEMA = pa.schema(
    [
        pa.field("workspace_id", pa.string(), nullable=False),
        pa.field("platform", pa.string(), nullable=False),
        pa.field("account_id", pa.string(), nullable=False),
        pa.field("report_date", pa.date32(), nullable=False),
        pa.field("synced_at", pa.timestamp("us", tz="UTC"), nullable=False),
        *(
            pa.field(f"{measure}_{when}", pa.int64() if measure == "clicks" else MONEY)
            for measure in MEASURES
            for when in ("before", "after", "change")
        ),
        pa.field("currency", pa.string()),
    ]
)
"""Money columns are in the ad account's `currency` (the currency of its metrics rows)."""


def _totals(rows: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Decimal]]:
    """Account id → the sum of each measure over its rows."""
    totals: dict[str, dict[str, Decimal]] = {}
    for row in rows:
        account = totals.setdefault(row["account_id"], {m: Decimal(0) for m in MEASURES})
        for measure in MEASURES:
            account[measure] += Decimal(row[measure])
    return totals


def _currencies(rows: Iterable[Mapping[str, Any]]) -> dict[str, str | None]:
    """Account id → the currency its rows are in."""
    return {row["account_id"]: row.get("currency") for row in rows}


def record_restatements(
    lake_root: Path,
    metrics_ref: TableRef,
    *,
    platform: str,
    workspace_id: str,
    report_date: date,
    new_rows: list[Mapping[str, Any]],
    synced_at: datetime,
) -> int:
    """Compare the partition the lake holds with `new_rows` (call before replacing it); append a
    ledger row per account whose numbers moved. Returns how many rows were added."""
    held = read_partition(
        lake_root, metrics_ref, workspace_id=workspace_id, report_date=report_date
    )
    if held is None:
        return 0  # a first sync restates nothing
    held_rows = held.to_pylist()
    before, after = _totals(held_rows), _totals(new_rows)
    currencies = {**_currencies(held_rows), **_currencies(new_rows)}
    zero = {m: Decimal(0) for m in MEASURES}
    entries = []
    for account_id in sorted(before.keys() | after.keys()):
        old, new = before.get(account_id, zero), after.get(account_id, zero)
        if old == new:
            continue
        entry: dict[str, Any] = {
            "workspace_id": workspace_id,
            "platform": platform,
            "account_id": account_id,
            "report_date": report_date,
            "synced_at": synced_at,
        }
        for measure in MEASURES:
            entry[f"{measure}_before"] = old[measure]
            entry[f"{measure}_after"] = new[measure]
            entry[f"{measure}_change"] = new[measure] - old[measure]
        entry["currency"] = currencies.get(account_id)
        entries.append(entry)
    if not entries:
        return 0
    ledger = read_partition(
        lake_root, RESTATEMENTS, workspace_id=workspace_id, report_date=report_date
    )
    history = ledger.to_pylist() if ledger is not None else []
    table = pa.Table.from_pylist(history + entries, schema=RESTATEMENTS_SCHEMA)
    write_partition(
        lake_root, RESTATEMENTS, table, workspace_id=workspace_id, report_date=report_date
    )
    return len(entries)
