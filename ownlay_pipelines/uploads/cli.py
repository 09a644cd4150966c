"""`ownlay upload FILE --workspace W --kind costs|orders|events`: load a file into the lake.

Exit status 0 when the file was loaded (bad rows are quarantined, not fatal), 2 when it was
refused as a whole (too large, unknown workspace, no header, unmappable columns), with the
reason on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

KINDS = ("costs", "orders", "events")


def register_cli(commands: Any) -> None:
    """Add the `upload` command to the `ownlay` parser."""
    upload = commands.add_parser("upload", help="load a CSV, TSV or XLSX file into the lake")
    upload.add_argument("file", type=Path, help="the file (.csv, .tsv, .txt, .xlsx, .xls, .ods)")
    upload.add_argument("--workspace", required=True, help="workspace slug from the registry")
    upload.add_argument("--kind", required=True, choices=KINDS, help="what the file holds")
    upload.add_argument("--mapping", type=Path, help="YAML mapping file overriding suggestions")
    sheets = upload.add_mutually_exclusive_group()
    sheets.add_argument("--sheet", help="spreadsheet sheet to load (default: the first)")
    sheets.add_argument("--all-sheets", action="store_true", help="load every sheet")
    upload.add_argument(
        "--json",
        action="store_true",
        help='print {"rows": N, "quarantined": M, "reasons": {…}, "skipped": K, '
        '"skipped_reasons": {…}} and, when the file replaced earlier loads, "replaced": '
        '{source name: "same content" or "same name"}',
    )
    upload.set_defaults(handler=_upload)


def _upload(args: argparse.Namespace) -> int:
    from ownlay_pipelines.registry.workspaces import RegistryError
    from ownlay_pipelines.settings import Settings
    from ownlay_pipelines.uploads.load import UploadError, replaced_sources, sheets_passed_over
    from ownlay_pipelines.uploads.mapping import MappingError

    try:
        results, reported = upload_file(
            Settings.from_env(),
            args.file,
            workspace_id=args.workspace,
            kind=args.kind,
            mapping_path=args.mapping,
            sheet=args.sheet,
            all_sheets=args.all_sheets,
        )
    except (UploadError, MappingError, RegistryError, KeyError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"ownlay upload: {message}", file=sys.stderr)
        return 2
    reasons: dict[str, int] = {}
    skipped: dict[str, int] = {}
    for result in results:
        for reason, count in result.reasons.items():
            reasons[reason] = reasons.get(reason, 0) + count
        for reason, count in result.skipped.items():
            skipped[reason] = skipped.get(reason, 0) + count
    summary = {
        "rows": sum(r.rows for r in results),
        "quarantined": sum(r.quarantined for r in results),
        "reasons": dict(sorted(reasons.items())),
        "skipped": sum(sum(r.skipped.values()) for r in results),
        "skipped_reasons": dict(sorted(skipped.items())),
    }
    replaced = replaced_sources(results)
    if replaced:
        summary["replaced"] = replaced
    passed_over = sheets_passed_over(results)
    if passed_over:
        summary["sheets_passed_over"] = passed_over
    if args.json:
        print(json.dumps(summary))
        return 0
    for result in results:
        print(
            f"{result.source_name}: {result.rows} rows loaded, {result.quarantined} quarantined "
            f"(upload {result.upload_id})"
        )
        for source, why in result.replaced_sources.items():
            print(f"  replaced the earlier load of {source} ({why})")
        for name, value in result.detected.items():
            print(f"  {name}: {value}")
        for reason, count in result.reasons.items():
            print(f"  quarantined {count} × {reason}")
        for reason, count in result.skipped.items():
            print(f"  skipped {count} × {reason} (not data, not an error)")
    for name, reason in passed_over.items():
        print(f"passed over sheet {name!r}, which has no table to load: {reason}")
    if not os.environ.get("DAGSTER_HOME"):
        print(
            "DAGSTER_HOME is not set: the unified table picks this up when its days next rebuild."
        )
        return 0
    if reported:
        print(f"Reported {reported} updated day(s) to Dagster; the models rebuild them.")
    from ownlay_pipelines.defs.uploads import partition_days

    start, last = partition_days(datetime.now(UTC).date())
    days = {day for result in results for day in result.days}
    early, late = sorted(d for d in days if d < start), sorted(d for d in days if d > last)
    if early:
        print(
            f"{len(early)} day(s) ({early[0]} … {early[-1]}) lie before the first partition "
            f"({start}): the unified table does not cover them (OWNLAY_HISTORY_START moves it)."
        )
    if late:
        print(
            f"{len(late)} day(s) ({late[0]} … {late[-1]}) lie after tomorrow, the last "
            "partition: the unified table does not cover them (a mistyped year?)."
        )
    return 0


def upload_file(
    settings: Any,
    path: Path,
    *,
    workspace_id: str,
    kind: str,
    mapping_path: Path | None = None,
    sheet: str | None = None,
    all_sheets: bool = False,
) -> tuple[list[Any], int]:
    """What `ownlay upload` does (also `ownlay demo`): load the file into the lake of `settings`
    and report the days it touched to Dagster; returns (results, days reported).

    Raises UploadError, MappingError, RegistryError or KeyError (unknown workspace).
    """
    from ownlay_pipelines.registry.workspaces import load_registry
    from ownlay_pipelines.uploads.kinds import UploadKind
    from ownlay_pipelines.uploads.load import load_upload
    from ownlay_pipelines.uploads.mapping import read_mapping_file

    workspace = load_registry(settings.registry_file).get(workspace_id)
    results = load_upload(
        path,
        workspace=workspace,
        kind=UploadKind(kind),
        lake_root=settings.lake_dir,
        mapping=read_mapping_file(mapping_path) if mapping_path else None,
        sheet=sheet,
        all_sheets=all_sheets,
    )
    return results, _report_to_dagster(UploadKind(kind), workspace.id, results)


def _report_to_dagster(kind: Any, workspace_id: str, results: list[Any]) -> int:
    """Tell the Dagster instance (when DAGSTER_HOME is set) which days the upload touched."""
    if not os.environ.get("DAGSTER_HOME"):
        return 0
    import dagster as dg

    from ownlay_pipelines.defs.uploads import report_to_instance

    return report_to_instance(dg.DagsterInstance.get(), kind, workspace_id, results)
