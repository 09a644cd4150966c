"""Running one stream for one workspace: fetch every account, normalise, quarantine, write.

Plain Python: the Dagster asset calls `sync_stream` and turns the result into metadata. Each
requested partition is written exactly once, with the rows of all the workspace's accounts on
that platform, so a re-run replaces it whole.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from ownlay_pipelines.connectors.restatements import record_restatements
from ownlay_pipelines.connectors.streams import FetchRequest, Partitioning, StreamSpec
from ownlay_pipelines.connectors.wire_values import RowError, dig, to_date
from ownlay_pipelines.http.client import ApiClient
from ownlay_pipelines.lake.quarantine import QuarantinedRow, quarantine_ref, quarantine_table
from ownlay_pipelines.lake.writer import WrittenPartition, write_partition
from ownlay_pipelines.registry.workspaces import Connection, Workspace
from ownlay_pipelines.schema.date_range import DateRange

ClientOpener = Callable[[Connection], ApiClient]


@dataclass
class StreamRunResult:
    """What one stream run did for one workspace: files written, rows kept and refused, HTTP use."""

    written: list[WrittenPartition] = field(default_factory=list)
    rows: int = 0
    quarantined: int = 0
    duplicates_dropped: int = 0
    restated_accounts: int = 0
    """Account-days whose numbers moved since the previous sync (rows added to the ledger)."""
    quarantine_reasons: Counter[str] = field(default_factory=Counter)
    http: Counter[str] = field(default_factory=Counter)
    preview: list[dict[str, Any]] = field(default_factory=list)


def contiguous_ranges(days: Iterable[date]) -> list[DateRange]:
    """Group days into the fewest inclusive ranges of consecutive days."""
    ordered = sorted(set(days))
    ranges: list[DateRange] = []
    for day in ordered:
        if ranges and ranges[-1].end + timedelta(days=1) == day:
            ranges[-1] = DateRange(ranges[-1].start, day)
        else:
            ranges.append(DateRange.single(day))
    return ranges


def sync_stream(
    spec: StreamSpec,
    *,
    workspace: Workspace,
    open_client: ClientOpener,
    lake_root: Path,
    days: Sequence[date] = (),
    synced_at: datetime | None = None,
) -> StreamRunResult:
    """Fetch `spec` for every `workspace` account on its platform and replace the partitions.

    For date-partitioned streams `days` lists the report dates to replace (each gets a file, empty
    if the platform had no rows); entity snapshots ignore `days` and replace the workspace file.
    """
    dated = spec.partitioning is Partitioning.DATE_AND_WORKSPACE
    if dated and not days:
        raise ValueError(f"{spec.ref}: a date-partitioned stream needs the days to sync")
    ranges: list[DateRange | None] = list(contiguous_ranges(days)) if dated else [None]
    result = StreamRunResult()
    kept: list[dict[str, Any]] = []
    refused: list[QuarantinedRow] = []
    for connection in workspace.connections_for(spec.platform):
        with open_client(connection) as client:
            for date_range in ranges:
                request = FetchRequest(workspace, connection, date_range)
                _normalise_into(spec, client, request, kept, refused)
            for key, value in client.stats.as_metadata().items():
                result.http[key] += value
    kept, result.duplicates_dropped = _deduplicate(kept, spec.primary_key)
    result.rows = len(kept)
    result.quarantined = len(refused)
    result.quarantine_reasons.update(f"{r.field}: {r.reason}" for r in refused)
    partitions = sorted(set(days)) if dated else [None]
    stamp = synced_at or datetime.now(UTC)
    for report_date in partitions:
        _write(spec, lake_root, workspace.id, report_date, kept, refused, result, stamp)
    result.preview = kept[:10]
    return result


def _normalise_into(
    spec: StreamSpec,
    client: ApiClient,
    request: FetchRequest,
    kept: list[dict[str, Any]],
    refused: list[QuarantinedRow],
) -> None:
    wanted = request.date_range
    for record in spec.fetch(client, request):
        try:
            row = spec.normalise(record, request)
            if wanted is not None and not wanted.start <= row["report_date"] <= wanted.end:
                raise RowError(
                    "report_date", f"{row['report_date']} is outside the requested {wanted}"
                )
        except RowError as error:
            refused.append(
                QuarantinedRow.of(
                    record,
                    workspace_id=request.workspace.id,
                    account_id=request.connection.account_id,
                    field=error.field,
                    reason=error.reason,
                    report_date=_refused_row_date(spec, record, wanted),
                )
            )
            continue
        kept.append(row)


def _refused_row_date(spec: StreamSpec, record: Any, wanted: DateRange | None) -> date | None:
    """The day a refused record belongs to: its own date when readable, else the range start."""
    if wanted is None:
        return None
    if spec.wire_date_path is not None:
        try:
            day = to_date(dig(record, spec.wire_date_path), spec.wire_date_path)
        except RowError:
            return wanted.start
        if wanted.start <= day <= wanted.end:
            return day
    return wanted.start


def _deduplicate(
    rows: list[dict[str, Any]], primary_key: tuple[str, ...]
) -> tuple[list[dict[str, Any]], int]:
    """Keep the last row per primary key (a later page restates an earlier one), sorted by key."""
    by_key = {tuple(row[name] for name in primary_key): row for row in rows}
    ordered = [by_key[key] for key in sorted(by_key, key=lambda k: tuple(map(str, k)))]
    return ordered, len(rows) - len(by_key)


def _write(
    spec: StreamSpec,
    lake_root: Path,
    workspace_id: str,
    report_date: date | None,
    kept: list[dict[str, Any]],
    refused: list[QuarantinedRow],
    result: StreamRunResult,
    synced_at: datetime,
) -> None:
    rows = [r for r in kept if report_date is None or r["report_date"] == report_date]
    if spec.feeds_campaign_metrics and report_date is not None:
        result.restated_accounts += record_restatements(
            lake_root,
            spec.ref,
            platform=spec.platform.value,
            workspace_id=workspace_id,
            report_date=report_date,
            new_rows=rows,
            synced_at=synced_at,
        )
    bad = [r for r in refused if report_date is None or r.report_date == report_date]
    table = pa.Table.from_pylist(rows, schema=spec.schema)
    result.written.append(
        write_partition(
            lake_root, spec.ref, table, workspace_id=workspace_id, report_date=report_date
        )
    )
    write_partition(
        lake_root,
        quarantine_ref(spec.ref),
        quarantine_table(bad),
        workspace_id=workspace_id,
        report_date=report_date,
    )
