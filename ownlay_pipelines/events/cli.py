"""`ownlay flush` (buffer → new lake part files) and `ownlay compact` (closed days → ≤ 4 files).

The same functions the Dagster jobs run, for operators and tests; heavy modules are imported in
the handlers so the CLI starts fast.
"""

from __future__ import annotations

import argparse


def register_cli(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `flush` and `compact` to the `ownlay` command's subparsers."""
    flush = subparsers.add_parser(
        "flush", help="move acknowledged events from the ingestion buffer into the event lake"
    )
    flush.set_defaults(handler=_flush)
    compact = subparsers.add_parser(
        "compact", help="compact closed days of the event lake (one row per event id)"
    )
    compact.add_argument(
        "--grace-minutes",
        type=float,
        default=None,
        help="keep replaced files this long for running queries (default 30)",
    )
    compact.set_defaults(handler=_compact)


def _flush(args: argparse.Namespace) -> int:
    from ownlay_pipelines.ingest.config import IngestSettings
    from ownlay_pipelines.ingest.flush import flush_buffer

    settings = IngestSettings.from_env()
    if not settings.buffer_path.exists():
        print(f"no ingestion buffer at {settings.buffer_path}: nothing to flush")
        return 0
    result = flush_buffer(
        settings.buffer_path, settings.lake_dir, dedupe_window=settings.dedupe_window
    )
    if result.flush_id is None:
        print("nothing pending")
    else:
        print(f"flush {result.flush_id}: {result.events_flushed} events")
    for part in result.days:
        print(f"  {part.workspace_id}  {part.day}  {part.rows:>9} rows  {part.path}")
    print(f"{result.pruned_events} event ids left the dedupe window")
    return 0


def _compact(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime, timedelta

    from ownlay_pipelines.events.compaction import DEFAULT_GRACE, compact_closed_days
    from ownlay_pipelines.ingest.config import IngestSettings

    grace = DEFAULT_GRACE if args.grace_minutes is None else timedelta(minutes=args.grace_minutes)
    settings = IngestSettings.from_env()
    run = compact_closed_days(settings.lake_dir, today=datetime.now(UTC).date(), grace=grace)
    for day in run.compacted:
        print(
            f"  {day.workspace_id}  {day.day}  {day.input_files} file(s) -> "
            f"{len(day.files)} file(s), {day.rows} rows"
        )
    print(f"compacted {len(run.compacted)} day(s); deleted {run.deleted_files} replaced file(s)")
    return 0
