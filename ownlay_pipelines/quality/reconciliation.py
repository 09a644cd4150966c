"""Reconciliation: the unified campaign table adds up to the raw platform tables it came from.

For each workspace × account-local day × platform of a run, the unified table's impressions,
clicks, spend, conversions and conversion value must equal the sums of the raw metrics table of
that platform — exactly (money is decimal). A difference means the model dropped, duplicated or
altered rows. The totals are recomputed here from the raw files, independently of the model SQL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path

import duckdb

from ownlay_pipelines.lake.tables import DATA_FILE, TableRef, partition_dir
from ownlay_pipelines.quality.outcome import MAX_LISTED, CheckOutcome
from ownlay_pipelines.uploads.load import workspace_load_files

RECONCILED_MEASURES = ("impressions", "clicks", "spend", "conversions", "conversion_value")
"""The additive columns every raw metrics table shares with the unified table."""


def _files(lake_root: Path, ref: TableRef, workspace_id: str, days: Sequence[date]) -> list[str]:
    paths = [partition_dir(lake_root, ref, workspace_id, d) / DATA_FILE for d in days]
    return [str(p) for p in paths if p.exists()]


def _totals(platform_sql: str, files: Sequence[str]) -> str:
    # An uploaded measure the file did not give is NULL in the raw load and 0 in the unified
    # table (models/campaign_metrics.py), so an all-NULL sum is compared as 0.
    sums = ", ".join(f"coalesce(sum({m}), 0) AS {m}" for m in RECONCILED_MEASURES)
    return (
        f"SELECT {platform_sql} AS platform, report_date, {sums} "
        f"FROM read_parquet({list(files)!r}, union_by_name = true) GROUP BY ALL"
    )


def reconcile_unified(
    connection: duckdb.DuckDBPyConnection,
    lake_root: Path,
    *,
    unified: TableRef,
    sources: Sequence[tuple[str, TableRef]],
    partitions: Mapping[str, Sequence[date]],
    load_tables: Sequence[TableRef] = (),
) -> CheckOutcome:
    """Compare unified totals with raw totals per workspace, day and platform of `partitions`.

    `sources` pairs each platform with its raw metrics table (the model's inputs). Platform
    names are code constants, quoted as SQL literals. `load_tables` are tables of uploaded
    loads (one file per load, the platform in a column, e.g. `raw/uploads/costs`); their totals
    count only on the (platform, day)s no source has rows for.
    """
    differences: list[dict[str, str]] = []
    compared = 0
    for workspace_id, days in sorted(partitions.items()):
        raw = [
            _totals("'" + platform.replace("'", "''") + "'", files)
            for platform, ref in sources
            if (files := _files(lake_root, ref, workspace_id, days))
        ]
        # An uploaded (platform, day) a connector has rows for is not in the unified table: the
        # connector's rows win (uploads/campaign_costs.py), so it is not expected here either.
        connector = " UNION ALL ".join(raw) if raw else None
        replaced = (
            f" AND (platform, report_date) NOT IN (SELECT platform, report_date FROM ({connector}))"
            if connector
            else ""
        )
        raw += [
            f"SELECT * FROM ({_totals('platform', files)}) WHERE report_date IN ({wanted}){replaced}"
            for ref in load_tables
            if (files := [str(f) for f in workspace_load_files(lake_root, ref, workspace_id)])
            and (wanted := ", ".join(f"DATE '{d.isoformat()}'" for d in days))
        ]
        unified_files = _files(lake_root, unified, workspace_id, days)
        if not raw and not unified_files:
            continue
        raw_sql = " UNION ALL ".join(raw) if raw else _empty_totals()
        unified_sql = _totals("platform", unified_files) if unified_files else _empty_totals()
        mismatch = " OR ".join(f"u.{m} IS DISTINCT FROM r.{m}" for m in RECONCILED_MEASURES)
        columns = ", ".join(f"r.{m} AS raw_{m}, u.{m} AS unified_{m}" for m in RECONCILED_MEASURES)
        rows = connection.execute(
            f"WITH r AS ({raw_sql}), u AS ({unified_sql}) "
            "SELECT coalesce(r.platform, u.platform) AS platform, "
            f"coalesce(r.report_date, u.report_date) AS report_date, {columns}, "
            f"({mismatch}) AS differs "
            "FROM r FULL OUTER JOIN u USING (platform, report_date) ORDER BY 1, 2"
        ).fetchall()
        compared += len(rows)
        for platform, day, *values, differs in rows:
            if differs:
                differences.append(
                    {
                        "workspace_id": workspace_id,
                        "platform": platform,
                        "report_date": str(day),
                        **{
                            f"{m}": f"raw {values[2 * i]} vs unified {values[2 * i + 1]}"
                            for i, m in enumerate(RECONCILED_MEASURES)
                            if values[2 * i] != values[2 * i + 1]
                        },
                    }
                )
    metadata: dict[str, object] = {
        "compared_workspace_day_platforms": compared,
        "differences": len(differences),
    }
    if differences:
        metadata["examples"] = differences[:MAX_LISTED]
        first = differences[0]
        return CheckOutcome(
            False,
            f"{len(differences)} workspace × day × platform total(s) differ from the raw tables "
            f"(first: {first['workspace_id']} {first['platform']} {first['report_date']})",
            metadata,
        )
    return CheckOutcome(
        True, f"{compared} workspace × day × platform totals equal the raw tables", metadata
    )


def _empty_totals() -> str:
    measures = ", ".join(f"NULL::DECIMAL(38, 6) AS {m}" for m in RECONCILED_MEASURES)
    return f"SELECT NULL::VARCHAR AS platform, NULL::DATE AS report_date, {measures} WHERE false"
