"""File uploads in Dagster: a drop-folder sensor launches a load job; loads report the days they
touched on `raw/uploads/<kind>`, so the unified model rebuilds exactly those days.

Drop folder: `<data_dir>/drops/uploads/<workspace>/<kind>/` (`kind` = costs, orders or events).
Every CSV/TSV/TXT/XLSX file there is loaded once per version (run key = name, size and mtime);
a spreadsheet loads all its sheets. A mapping file `<file name>.mapping.yaml` beside it, or
`mapping.yaml` for the whole folder, overrides the suggested column mapping. The files stay in
the folder: a new version of the same name replaces its earlier load, never adds to it, and so
does a file with the content of an earlier load under another name (a copy, a re-saved
workbook; `uploads/load.py`).

`raw/uploads/<kind>` are the outputs of one asset computation, the load of one file: a run is
launched without a partition (which days a file covers is known only after reading it) and
reports one materialization per day partition of its kind the file touched. `ownlay upload`
reports the same materializations to the Dagster instance when `DAGSTER_HOME` is set.
"""

from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg

from ownlay_pipelines.defs.partitions import PARTITIONS_START_DATE, daily_by_workspace, multi_key
from ownlay_pipelines.defs.resources import LakeResource, RegistryResource
from ownlay_pipelines.uploads.kinds import UploadKind, upload_table
from ownlay_pipelines.uploads.load import (
    UploadError,
    UploadResult,
    load_upload,
    replaced_sources,
    sheets_passed_over,
)
from ownlay_pipelines.uploads.mapping import MappingError, read_mapping_file
from ownlay_pipelines.uploads.xlsx import XLSX_SUFFIXES

UPLOAD_SUFFIXES = frozenset({".csv", ".tsv", ".txt"}) | XLSX_SUFFIXES
NOT_DROPPED_PREFIXES = ("~$", ".")
"""Files the drop folder passes over whatever their suffix: Excel's lock file beside an open
workbook (`~$spend.xlsx`) and hidden files (macOS writes `._spend.csv` on shared folders)."""
FOLDER_MAPPING = "mapping.yaml"
MAPPING_SUFFIX = ".mapping.yaml"

UPLOAD_SPECS = [
    dg.AssetSpec(
        key=list(upload_table(kind).parts),
        description=(
            f"Rows of uploaded {kind.value} files (CSV, TSV, XLSX), one Parquet file per load "
            "(workspace, source file name), replaced when the same name or the same content is "
            "uploaded again; "
            "refused rows are in quarantine/uploads/"
            + kind.value
            + " with line, column and reason."
        ),
        group_name="uploads",
        kinds={"parquet"},
        partitions_def=daily_by_workspace,
        metadata={"lake_table": str(upload_table(kind))},
        # A load writes one kind; the other two are not materialized by its run.
        skippable=True,
    )
    for kind in UploadKind
]


def uploads_root(data_dir: Path) -> Path:
    """`<data_dir>/drops/uploads`: one folder per workspace and kind below it."""
    return data_dir / "drops" / "uploads"


def mapping_file_for(path: Path) -> Path | None:
    """The mapping file that applies to a dropped file, if any."""
    for candidate in (path.with_name(path.name + MAPPING_SUFFIX), path.parent / FOLDER_MAPPING):
        if candidate.exists():
            return candidate
    return None


def partition_days(today: date) -> tuple[date, date]:
    """The first and last day that exist as daily partitions: the start date, and tomorrow."""
    return date.fromisoformat(PARTITIONS_START_DATE), today + timedelta(days=1)


def partition_keys_for(days: Iterable[date], workspace_id: str, today: date) -> list[str]:
    """Partition keys of the days that exist as partitions (`partition_days`)."""
    first, last = partition_days(today)
    return [multi_key(day, workspace_id) for day in sorted(days) if first <= day <= last]


def materializations(
    kind: UploadKind, workspace_id: str, results: list[UploadResult], today: date
) -> Iterator[dg.AssetMaterialization]:
    """One materialization per touched day partition of `raw/uploads/<kind>`."""
    days = {day for result in results for day in result.days}
    sources = ", ".join(r.source_name for r in results)
    for key in partition_keys_for(days, workspace_id, today):
        yield dg.AssetMaterialization(
            asset_key=list(upload_table(kind).parts),
            partition=key,
            metadata={"sources": sources},
        )


class UploadFileConfig(dg.Config):
    """Which file to load, for which workspace and kind."""

    path: str
    workspace: str
    kind: str


@dg.multi_asset(
    name="load_uploaded_file",
    specs=UPLOAD_SPECS,
    can_subset=False,
    description="Load one dropped file into raw/uploads/<kind> and report the days it touched.",
)
def uploaded_files(
    context: dg.AssetExecutionContext,
    config: UploadFileConfig,
    lake: LakeResource,
    registry: RegistryResource,
) -> Iterator[dg.AssetMaterialization]:
    """Load the configured file; one materialization per day partition of its kind it touched,
    the load's row, quarantine and reason counts on each."""
    path = Path(config.path)
    try:
        kind = UploadKind(config.kind)
        workspace = registry.load().get(config.workspace)
        mapping_path = mapping_file_for(path)
        mapping = read_mapping_file(mapping_path) if mapping_path else None
        results = load_upload(
            path,
            workspace=workspace,
            kind=kind,
            lake_root=lake.lake_root,
            mapping=mapping,
            all_sheets=path.suffix.lower() in XLSX_SUFFIXES,
        )
    except (UploadError, MappingError, KeyError, ValueError) as error:
        raise dg.Failure(description=f"{path.name}: {error}", allow_retries=False) from error
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
        "reasons": dg.MetadataValue.json(reasons),
        "skipped": sum(skipped.values()),
        "skipped_reasons": dg.MetadataValue.json(skipped),
        "days": len({d for r in results for d in r.days}),
        # Earlier loads this one replaced (same content under another name, or same name).
        "replaced": dg.MetadataValue.json(replaced_sources(results)),
    }
    passed_over = sheets_passed_over(results)
    if passed_over:
        summary["sheets_passed_over"] = dg.MetadataValue.json(passed_over)
        context.log.warning(
            f"{path.name}: passed over sheet(s) with no table to load: "
            + "; ".join(f"{n!r}: {r}" for n, r in passed_over.items())
        )
    context.log.info(
        f"{path.name}: {summary['rows']} rows into {upload_table(kind)}, "
        f"{summary['quarantined']} quarantined, {summary['skipped']} skipped (totals lines, "
        f"further line items) over {summary['days']} day(s)"
    )
    for source, why in replaced_sources(results).items():
        context.log.info(f"{path.name}: replaced the earlier load of {source} ({why})")
    today = datetime.now(UTC).date()
    for event in materializations(kind, workspace.id, results, today):
        yield dg.AssetMaterialization(
            asset_key=event.asset_key,
            partition=event.partition,
            metadata={**event.metadata, **summary},
        )


file_uploads = dg.define_asset_job(
    name="file_uploads",
    selection=dg.AssetSelection.assets(*(spec.key for spec in UPLOAD_SPECS)),
    description="Load a file dropped into data/drops/uploads/<workspace>/<kind>/.",
)


def dropped_files(data_dir: Path, workspace_ids: Iterable[str]) -> Iterator[tuple[Path, str, str]]:
    """(file, workspace, kind) for every loadable file in the registry workspaces' drop folders."""
    root = uploads_root(data_dir)
    for workspace_id in sorted(workspace_ids):
        for kind in UploadKind:
            folder = root / workspace_id / kind.value
            if not folder.is_dir():
                continue
            for path in sorted(folder.iterdir()):
                if (
                    path.is_file()
                    and path.suffix.lower() in UPLOAD_SUFFIXES
                    and not path.name.startswith(NOT_DROPPED_PREFIXES)
                ):
                    yield path, workspace_id, kind.value


@dg.sensor(
    job=file_uploads,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Launches a load for each new or changed file in data/drops/uploads/<ws>/<kind>/.",
)
def upload_drop_folder(
    context: dg.SensorEvaluationContext, lake: LakeResource, registry: RegistryResource
) -> Iterator[dg.RunRequest]:
    """A run per file version: the run key (path, size, mtime) makes Dagster skip seen versions."""
    data_dir = Path(lake.data_dir).resolve()
    for path, workspace_id, kind in dropped_files(data_dir, registry.load().workspace_ids):
        stat = path.stat()
        yield dg.RunRequest(
            run_key=f"{workspace_id}/{kind}/{path.name}@{stat.st_size}:{stat.st_mtime_ns}",
            run_config=dg.RunConfig(
                ops={
                    "load_uploaded_file": UploadFileConfig(
                        path=str(path), workspace=workspace_id, kind=kind
                    )
                }
            ),
            tags={"ownlay/upload_workspace": workspace_id, "ownlay/upload_kind": kind},
        )


def report_to_instance(
    instance: dg.DagsterInstance, kind: UploadKind, workspace_id: str, results: list[UploadResult]
) -> int:
    """Record a CLI upload's touched days on the instance (no run); returns how many."""
    today = datetime.now(UTC).date()
    count = 0
    for event in materializations(kind, workspace_id, results, today):
        instance.report_runless_asset_event(event)
        count += 1
    return count
