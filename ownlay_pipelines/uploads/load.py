"""Load one uploaded file (or each chosen sheet) into `raw/uploads/<kind>` and its quarantine.

**What a load is and how re-uploading replaces it.** A load is identified by workspace, kind and
*source name* (the file's base name, plus `#<sheet>` for a spreadsheet sheet): its rows live in
one file `raw/uploads/<kind>/workspace_id=<ws>/upload_id=<id>/data.parquet` with
`id = sha256(kind, source name)[:16]`, and its refused rows beside it under `quarantine/`.
Loading a file of the same name again replaces both files atomically, so the rows never double
and rows the new version no longer has disappear. The load's content hash is kept in the Parquet
metadata: a text file's SHA-256 from its header line on (`preamble_bytes`), or a sheet's
fingerprint (the SHA-256 of its header and data rows as text, `SheetCells.content_sha256`). A
load with the content of an earlier one is the same load whatever its name (a copy, a browser's
`costs (1).csv`, a report run again, a renamed sheet, a workbook saved again) and replaces it
instead of adding to it, and answers to its name too (`SOURCE_NAMES`); the result names what it
replaced and why (`UploadResult.replaced_sources`). Two *different* files are two loads and
both count.

**Bad rows never stop a file.** A row DuckDB cannot split into the header's columns, a value
that does not fit its column's decided format, an empty required value: each goes to the
quarantine with its line number (1-based, counting every line of the file, preamble included;
for a sheet, the spreadsheet row), the column, the reason and the row as read, its personal data
hashed, removed or masked (`quarantine_record`). Line numbers count
records, so they are file lines unless a quoted field spans lines. Refused rows that are not data
at all (a totals line, a Shopify export's further line items: `skipped`) are counted apart
instead, by reason, and kept out of the quarantine.

**One pass, bounded memory.** Formats are decided on a sample spread over the file (`sample`),
then DuckDB's parallel CSV reader and one query type every row (`convert`) into a temp table that
keeps the cells only of refused rows; a kept row's line is its row id in that table (insertion
order is preserved) plus the lines the reader refused before it. DuckDB runs under a memory
limit, spilling to a temporary folder; nothing is held in Python per row. Files other than UTF-8
are first transcoded to a temporary UTF-8 copy in 1 MiB chunks. A sheet's rows go to a DuckDB
table a batch at a time (`_fill_sheet_rows`), and are their own sample.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import mmap
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from ownlay_pipelines.lake.tables import DATA_FILE, TableRef, table_dir
from ownlay_pipelines.lake.writer import replace_file_atomically
from ownlay_pipelines.privacy.keyed_hash import PiiHasher, PiiKeyMissing
from ownlay_pipelines.registry.tenant import TENANT_COLUMN, validate_workspace_id
from ownlay_pipelines.registry.workspaces import Workspace
from ownlay_pipelines.uploads.convert import (
    CHECKED,
    IDENTIFIER_CHECK,
    REFUSED,
    Decisions,
    create_checked,
    decide,
    identifier_refusal,
    plan_columns,
    plan_dictionaries,
    recheck,
    trimmed_sql,
    unstored_sql,
)
from ownlay_pipelines.uploads.dictionary import Dictionary, output_sql, overflow, text_sql
from ownlay_pipelines.uploads.formats import quote
from ownlay_pipelines.uploads.free_text_values import (
    distinct_candidates,
    masked_values,
    masking_transform,
)
from ownlay_pipelines.uploads.kinds import (
    COLUMNS_BY_KIND,
    DAY_COLUMN_BY_KIND,
    FREE_TEXT_BY_KIND,
    IDENTIFIERS_BY_KIND,
    UploadKind,
    ValueType,
    upload_quarantine_table,
    upload_table,
)
from ownlay_pipelines.uploads.layouts import ExportLayout, detect_layout
from ownlay_pipelines.uploads.mapping import (
    MappingError,
    MappingFile,
    normalise_header,
    resolve_mapping,
    with_header_currency,
)
from ownlay_pipelines.uploads.projections import (
    PROJECTIONS,
    VALUE_TRANSFORMS,
    dictionary_targets,
)
from ownlay_pipelines.uploads.quarantine_record import (
    LINE_FUNCTION,
    RECORD_FUNCTION,
    record_policy,
)
from ownlay_pipelines.uploads.repeated_orders import KEEP_CELLS as REPEATED_ORDER_CELLS
from ownlay_pipelines.uploads.repeated_orders import find_repeated_orders, mark_repeated_orders
from ownlay_pipelines.uploads.sample import text_sample
from ownlay_pipelines.uploads.skipped import SKIPPED, mark_skipped
from ownlay_pipelines.uploads.sniff import (
    NO_VALUE_TEXTS,
    SAMPLE_BYTES,
    SniffError,
    TextLayout,
    detect_encoding,
    detect_text_layout,
)
from ownlay_pipelines.uploads.xlsx import (
    XLSX_SUFFIXES,
    EmptySheet,
    SheetCells,
    read_sheet,
    sheet_names,
)

MAX_UPLOAD_BYTES = 100 * 1024 * 1024
"""Seed 000's limit; a larger file is refused before a byte of it is read."""
UPLOAD_ID_COLUMN = "upload_id"
TRANSCODE_CHUNK = 1024 * 1024
BLANK_LINE = re.compile(rb"\n(?=\r?\n)")
"""The newline ending the line before an empty one."""
NON_ASCII_TEXT = re.compile("[^\x00-\x7f\ufffd]")
"""A character that UTF-8 decoding found beyond ASCII (not the replacement of a bad byte)."""
DUCKDB_MEMORY_LIMIT = "1GB"


class UploadError(ValueError):
    """The file cannot be loaded at all (too large, unreadable layout, unmappable header)."""


class _NotUtf8Text(Exception):
    """The reader met bytes that are not UTF-8 in a file whose ASCII head made UTF-8 a guess:
    the load starts again in the encoding of the whole file (`_whole_file_encoding`)."""


@dataclass
class UploadResult:
    """What one load did: rows kept, rows quarantined by reason, days it touched, what was detected."""

    source_name: str
    upload_id: str
    rows: int
    quarantined: int
    reasons: dict[str, int]
    days: list[date]
    """Days (workspace-local) with rows now or before this load replaced an earlier one."""
    skipped: dict[str, int] = field(default_factory=dict)
    """Rows that are neither data nor errors (`skipped`: totals lines, an order's further line
    items), by reason; not in the quarantine and not counted in `quarantined`."""
    detected: dict[str, str] = field(default_factory=dict)
    replaced: list[str] = field(default_factory=list)
    """Ids of the earlier loads this load replaced, but its own earlier version's (the same id):
    loads of the same content, or that had taken over this file's name."""
    replaced_sources: dict[str, str] = field(default_factory=dict)
    """Every earlier load this one replaced, by source name: `same content` (the file, or for a
    sheet its table, is the same as that load's: nothing changed but maybe the name) or `same
    name` (a new version of the file)."""
    sheets_passed_over: dict[str, str] = field(default_factory=dict)
    """With --all-sheets (and the drop folder): the workbook's sheets that hold values but no
    table of the kind, by name, with the reason; the same on every result of the workbook. Empty
    sheets are passed over without a word."""


def sheets_passed_over(results: list[UploadResult]) -> dict[str, str]:
    """The sheets a workbook's load passed over, by name, with the reason (empty for a text
    file or a single sheet)."""
    return {name: why for result in results for name, why in result.sheets_passed_over.items()}


def replaced_sources(results: list[UploadResult]) -> dict[str, str]:
    """The earlier loads a file's load replaced, by source name, with why (`same content` or
    `same name`), sorted by name."""
    return dict(sorted((n, why) for r in results for n, why in r.replaced_sources.items()))


def upload_id_for(kind: UploadKind, source_name: str) -> str:
    """Stable id of a load: the same kind and source name always give the same id."""
    return hashlib.sha256(f"{kind.value}\0{source_name}".encode()).hexdigest()[:16]


def load_dir(lake_root: Path, ref: TableRef, workspace_id: str, upload_id: str) -> Path:
    """Folder of one load's file in table `ref`."""
    validate_workspace_id(workspace_id)
    return (
        table_dir(lake_root, ref)
        / f"{TENANT_COLUMN}={workspace_id}"
        / f"{UPLOAD_ID_COLUMN}={upload_id}"
    )


def workspace_load_files(lake_root: Path, ref: TableRef, workspace_id: str) -> list[Path]:
    """Every load file of one workspace in table `ref`, sorted."""
    validate_workspace_id(workspace_id)
    folder = table_dir(lake_root, ref) / f"{TENANT_COLUMN}={workspace_id}"
    return sorted(folder.glob(f"{UPLOAD_ID_COLUMN}=*/{DATA_FILE}"))


def file_sha256(path: Path, start: int = 0) -> str:
    """SHA-256 of the file's bytes from byte `start` on."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        handle.seek(start)
        while chunk := handle.read(TRANSCODE_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def preamble_bytes(head: bytes, layout: TextLayout) -> int:
    """How many bytes of a text file, whose first bytes are `head`, its preamble takes (the
    lines above its header: a report's title, its date range, the time it was run); 0 when it
    has none, or when its end cannot be told for sure (UTF-16; a line break other than LF or
    CRLF)."""
    if layout.skip_lines == 0 or layout.encoding.startswith("utf-16"):
        return 0
    offset = 0
    for _ in range(layout.skip_lines):
        end = head.find(b"\n", offset)
        if end < 0:
            return 0
        offset = end + 1
    lines = head[:offset].decode(layout.encoding, errors="replace").splitlines()
    return offset if len(lines) == layout.skip_lines else 0


def load_upload(
    path: Path,
    *,
    workspace: Workspace,
    kind: UploadKind,
    lake_root: Path,
    mapping: MappingFile | None = None,
    sheet: str | None = None,
    all_sheets: bool = False,
    hasher: PiiHasher | None = None,
) -> list[UploadResult]:
    """Load `path` for `workspace` as `kind`; one result per load (one per sheet for --all-sheets).

    Raises UploadError (naming the reason) when the file as a whole cannot be loaded.
    """
    try:
        size = path.stat().st_size
    except OSError as error:
        raise UploadError(f"cannot read {path}: {error.strerror}") from error
    if not path.is_file():
        raise UploadError(f"{path} is not a file")
    if size > MAX_UPLOAD_BYTES:
        raise UploadError(
            f"{path.name} is {size / 1024 / 1024:.1f} MiB; uploads are limited to "
            f"{MAX_UPLOAD_BYTES // 1024 // 1024} MiB (split the file or load it by date range)"
        )
    # The hash is needed only once the rows are converted: it is computed beside the conversion
    # (hashlib releases the GIL), which takes it off the wall time of a large load; so is a text
    # file's search for blank lines (`_blank_lines`), queued behind it.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="upload-sha256") as pool:
        content_hash = pool.submit(file_sha256, path).result
        try:
            if path.suffix.lower() in XLSX_SUFFIXES:
                names = sheet_names(path)
                sheet_args = (workspace, kind, lake_root, mapping, hasher, content_hash)
                if not all_sheets:
                    return [_load_sheet(path, sheet or names[0], *sheet_args)]
                results = []
                passed_over: dict[str, str] = {}
                for name in names:
                    try:
                        result = _load_sheet(path, name, *sheet_args)
                    except EmptySheet:
                        continue  # an unused sheet holds no rows to load
                    except (SniffError, MappingError) as error:
                        passed_over[name] = str(error)  # a sheet of notes, a chart's data…
                        continue
                    results = _without_copies_of(result, results, passed_over)
                if not results and passed_over:
                    reasons = "; ".join(f"sheet {n!r}: {r}" for n, r in passed_over.items())
                    raise UploadError(f"{path.name}: no sheet has a table to load ({reasons})")
                if not results:
                    raise UploadError(f"{path.name}: every sheet is empty")
                for result in results:
                    result.sheets_passed_over = dict(passed_over)
                return results
            if sheet or all_sheets:
                raise UploadError(
                    "--sheet and --all-sheets apply to spreadsheets (.xlsx, .xls, .ods)"
                )
            return [
                _load_text(
                    path, workspace, kind, lake_root, mapping, hasher, content_hash, pool.submit
                )
            ]
        except (SniffError, MappingError, PiiKeyMissing) as error:
            raise UploadError(f"{path.name}: {error}") from error


def _without_copies_of(
    result: UploadResult, results: list[UploadResult], passed_over: dict[str, str]
) -> list[UploadResult]:
    """`results` of a workbook's earlier sheets and then `result`, less the sheets whose table
    `result`'s sheet repeats: its load replaced theirs (same content), so they are named in
    `passed_over` instead of being counted twice."""
    kept = []
    for earlier in results:
        if earlier.upload_id in result.replaced:
            sheet = result.detected["sheet"]
            passed_over[earlier.detected["sheet"]] = (
                f"the same rows as sheet {sheet!r}, loaded once"
            )
            # What the earlier sheet's load had replaced, this one has now.
            result.replaced_sources = {
                **earlier.replaced_sources,
                **result.replaced_sources,
            }
            result.replaced_sources.pop(earlier.source_name, None)
            result.replaced = [
                i
                for i in [*earlier.replaced, *result.replaced]
                if i not in (earlier.upload_id, result.upload_id)
            ]
            result.days = sorted(set(earlier.days) | set(result.days))
        else:
            kept.append(earlier)
    return [*kept, result]


def _connection(workspace: Workspace, scratch: Path) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(
        config={
            "memory_limit": DUCKDB_MEMORY_LIMIT,
            "temp_directory": str(scratch),
            "preserve_insertion_order": True,
        }
    )
    # Timestamps without an offset are the workspace's wall-clock time; dates of timestamps are
    # the workspace's local day.
    connection.execute(f"SET TimeZone = {quote(workspace.timezone)}")
    return connection


@dataclass(frozen=True)
class _Cells:
    """Where a load reads its cells (text columns `c0 … cN`).

    `sample` decides the formats and `whole` is every row (for a whole-column decision), both
    with the mapped cells trimmed as `t_<target>` (`convert.trimmed_sql`); `rows(n)`
    the relation the n-th pass converts, and `lines(connection, n)` the SQL of a converted row's
    file line, given the SQL of its row id in `upload_checked`, once that pass has run (it also
    fills `upload_bad_lines`, the rows the reader itself refused).
    """

    sample: str
    whole: str
    rows: Callable[[int], str]
    lines: Callable[[duckdb.DuckDBPyConnection, int], Callable[[str], str]]
    sampled_all: bool
    """The sample is every row: the decisions are whole-column ones already."""
    keep: tuple[str, ...] = ()


def _load_text(
    path: Path,
    workspace: Workspace,
    kind: UploadKind,
    lake_root: Path,
    mapping: MappingFile | None,
    hasher: PiiHasher | None,
    content_hash: Callable[[], str],
    in_background: Callable[..., Future],
) -> UploadResult:
    with open(path, "rb") as handle:
        head = handle.read(SAMPLE_BYTES)
    layout = detect_text_layout(head)
    export = detect_layout(kind, [normalise_header(h) for h in layout.header])
    columns = resolve_mapping(kind, layout.header, mapping, export)
    mapping = with_header_currency(kind, layout.header, columns, mapping)
    # The load's content is the file from its header on: a report downloaded again whose
    # preamble says when it was run is the same content. (The whole file's SHA-256 is what a
    # load kept before; it still recognises those.)
    preamble = preamble_bytes(head, layout)
    table_hash = in_background(file_sha256, path, preamble).result if preamble else content_hash

    def load(layout: TextLayout, *, refuse_non_utf8: bool) -> UploadResult:
        with tempfile.TemporaryDirectory(prefix="ownlay-upload-") as scratch_name:
            scratch = Path(scratch_name)
            source = path
            if layout.encoding not in ("utf-8", "utf-8-sig"):
                source = scratch / "utf8.csv"
                _transcode(path, layout.encoding, source)
            sample = text_sample(source, scratch / "sample.csv", layout.skip_lines + 1)
            connection = _connection(workspace, scratch)
            try:
                # Only the trimmed cells, which is all the decisions read: each stored column of
                # a table costs ~1 ms here (the sample table with the raw cells too took
                # 0.025–0.03 s).
                connection.execute(
                    f"CREATE TEMP TABLE upload_sample AS SELECT {trimmed_sql(columns)} "
                    f"FROM {_read_csv(sample, layout)}"
                )
                first_data_line = layout.skip_lines + 2
                blank = in_background(_blank_lines, source, after=first_data_line - 1).result
                cells = _Cells(
                    sample="upload_sample",
                    whole=f"(SELECT *, {trimmed_sql(columns)} FROM {_read_csv(source, layout)})",
                    rows=lambda attempt: _read_csv(
                        source, layout, rejects=f"upload_rejects{attempt}"
                    ),
                    lines=lambda conn, attempt: _number_lines(
                        conn,
                        f"upload_rejects{attempt}",
                        first_data_line,
                        blank(),
                        refuse_non_utf8=refuse_non_utf8,
                    ),
                    sampled_all=sample == source,
                )
                detected = {
                    "encoding": layout.encoding,
                    "delimiter": {"\t": "tab"}.get(layout.delimiter, layout.delimiter),
                    "header_line": str(layout.skip_lines + 1),
                }
                return _convert_and_write(
                    connection,
                    cells,
                    path=path,
                    source_name=path.name,
                    header=layout.header,
                    columns=columns,
                    workspace=workspace,
                    kind=kind,
                    lake_root=lake_root,
                    mapping=mapping or MappingFile(),
                    hasher=hasher,
                    content_hash=lambda: [table_hash(), content_hash()],
                    european_hint=layout.delimiter == ";",
                    detected=detected,
                    export=export,
                    delimiter=layout.delimiter,
                )
            finally:
                connection.close()

    try:
        # UTF-8 is a guess when the head is ASCII: a Windows export's first accent may come later.
        return load(layout, refuse_non_utf8=layout.encoding == "utf-8" and head.isascii())
    except _NotUtf8Text:
        return load(replace(layout, encoding=_whole_file_encoding(path)), refuse_non_utf8=False)


def _read_csv(source: Path, layout: TextLayout, rejects: str | None = None) -> str:
    """DuckDB's parallel CSV reader over `source`, every column as text `c<i>` (NULL for a
    `NO_VALUE_TEXTS` cell); rows it cannot split into the header's columns go to the `rejects`
    table (or are skipped without one)."""
    struct = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(layout.header))) + "}"
    refused = (
        f"store_rejects=true, rejects_table='{rejects}', rejects_scan='{rejects}_scans'"
        if rejects
        else "store_rejects=false"
    )
    return (
        f"read_csv({quote(str(source))}, delim={quote(layout.delimiter)}, quote='\"', "
        f"escape='\"', header=true, skip={layout.skip_lines}, auto_detect=false, "
        f"nullstr=[{', '.join(quote(text) for text in NO_VALUE_TEXTS)}], "
        f"columns={struct}, {refused}, ignore_errors=true, encoding='utf-8')"
    )


def _transcode(path: Path, encoding: str, target: Path) -> None:
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    with open(path, "rb") as source, open(target, "w", encoding="utf-8", newline="") as sink:
        while chunk := source.read(TRANSCODE_CHUNK):
            sink.write(decoder.decode(chunk))
        sink.write(decoder.decode(b"", final=True))


def _blank_lines(source: Path, *, after: int) -> list[int]:
    """The empty lines of `source` below line `after` (1-based), which the CSV reader skips
    without a trace. One search of the file (0.07 s at 100 MiB) finds none in the usual case;
    only a file that has some has its newlines counted up to each."""
    with (
        open(source, "rb") as handle,
        mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data,
    ):
        lines: list[int] = []
        line, counted = 1, 0
        for match in BLANK_LINE.finditer(data):
            line += data[counted : match.end()].count(b"\n")
            counted = match.end()
            if line > after:
                lines.append(line)
        return lines


def _whole_file_encoding(path: Path) -> str:
    """The encoding of a file whose ASCII head decoded as UTF-8 but whose body did not: UTF-8
    still when the body has valid multi-byte characters too (a UTF-8 file with damaged bytes,
    whose rows with them stay quarantined), else as `detect_encoding` decides (Windows-1252, or
    Latin-1)."""
    data = path.read_bytes()
    if NON_ASCII_TEXT.search(data.decode("utf-8", errors="replace")):
        return "utf-8"
    return detect_encoding(data)


def _number_lines(
    connection: duckdb.DuckDBPyConnection,
    rejects: str,
    first_data_line: int,
    blank: list[int],
    *,
    refuse_non_utf8: bool = False,
) -> Callable[[str], str]:
    """Fill `upload_bad_lines` from the reader's `rejects`; return the SQL of a converted row's
    line given the SQL of its row id. With `refuse_non_utf8`, a line the reader refused as
    invalid UTF-8 raises `_NotUtf8Text` instead (before anything is written).

    The reader's refused rows and the `blank` lines it skips are missing from `upload_checked`,
    whose row ids count the rows it kept in file order; a kept row's line is its row id plus the
    missing lines before it: a step function of the row id with one step per `gap` (kept rows
    before a missing line), `shift` the missing lines up to it. It is written as a binary search
    in CASE expressions, so the line stays a projection: the rows keep the file's order and each
    costs a few comparisons. (A
    correlated `max(shift) WHERE gap <= rowid` became a join and an aggregate over every row:
    rows out of order, 0.7 CPU-s more at 1.5 M rows with two refused lines, 70 with 5,000.)
    """
    connection.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE upload_bad_lines AS
        SELECT line, first(error_message ORDER BY column_idx) AS reason,
               first(csv_line ORDER BY column_idx) AS csv_line
        FROM {rejects} GROUP BY line
        """
    )
    if refuse_non_utf8:
        invalid = connection.execute(
            f"SELECT count(*) FROM {rejects} WHERE error_type = 'INVALID ENCODING'"
        ).fetchone()
        if invalid and invalid[0]:
            raise _NotUtf8Text
    steps = connection.execute(
        f"""
        SELECT gap, CAST(sum(count(*)) OVER (ORDER BY gap) AS BIGINT) AS shift
        FROM (
            SELECT line - {first_data_line} - (row_number() OVER (ORDER BY line) - 1) AS gap
            FROM (SELECT line FROM upload_bad_lines UNION ALL SELECT unnest($1::BIGINT[]))
        )
        GROUP BY gap ORDER BY gap
        """,
        [blank],
    ).fetchall()
    return lambda row_id: f"{first_data_line} + {row_id} + {_step_sql(row_id, steps, 0)}"


def _step_sql(value: str, steps: list[tuple[int, int]], below: int) -> str:
    """SQL of the height of the step `value` stands on: `steps` are (start, height) sorted by
    start, `below` the height before the first. Nested CASEs halve the steps at each level, so a
    row is compared about log2(len(steps)) times."""
    if not steps:
        return str(below)
    middle = len(steps) // 2
    start, height = steps[middle]
    return (
        f"CASE WHEN {value} < {start} THEN {_step_sql(value, steps[:middle], below)} "
        f"ELSE {_step_sql(value, steps[middle + 1 :], height)} END"
    )


def _load_sheet(
    path: Path,
    sheet: str,
    workspace: Workspace,
    kind: UploadKind,
    lake_root: Path,
    mapping: MappingFile | None,
    hasher: PiiHasher | None,
    content_hash: Callable[[], str],
) -> UploadResult:
    cells = read_sheet(path, sheet)
    try:
        export = detect_layout(kind, [normalise_header(h) for h in cells.header])
        columns = resolve_mapping(kind, cells.header, mapping, export)
        mapping = with_header_currency(kind, cells.header, columns, mapping)
    except BaseException:
        cells.close()
        raise
    with tempfile.TemporaryDirectory(prefix="ownlay-upload-") as scratch_name:
        connection = _connection(workspace, Path(scratch_name))
        try:
            _fill_sheet_rows(connection, cells)
            connection.execute(
                "CREATE TEMP TABLE upload_bad_lines (line BIGINT, reason VARCHAR, csv_line VARCHAR)"
            )
            trimmed = f"(SELECT *, {trimmed_sql(columns)} FROM sheet_rows)"
            # A sheet is read whole into `sheet_rows` already: it is its own sample.
            sheet_cells = _Cells(
                sample=trimmed,
                whole=trimmed,
                rows=lambda _: "sheet_rows",
                lines=lambda _conn, _attempt: lambda _row_id: "_line",
                sampled_all=True,
                keep=("_line",),
            )
            return _convert_and_write(
                connection,
                sheet_cells,
                path=path,
                source_name=f"{path.name}#{sheet}",
                header=cells.header,
                columns=columns,
                workspace=workspace,
                kind=kind,
                lake_root=lake_root,
                mapping=mapping or MappingFile(),
                hasher=hasher,
                # Before the sheet's own fingerprint, a sheet's load kept the workbook's
                # SHA-256 and the sheet name: a load of that time is still recognised by it.
                content_hash=lambda: [cells.content_sha256, f"{content_hash()}#{sheet}"],
                european_hint=False,
                detected={"sheet": sheet, "header_line": str(cells.header_row)},
                export=export,
            )
        finally:
            connection.close()


def _fill_sheet_rows(connection: duckdb.DuckDBPyConnection, cells: SheetCells) -> None:
    """Table `sheet_rows` (`_line`, `c0 … cN` as text) of the sheet's data rows, written a batch
    at a time, so that no more than a batch of them is ever in Python (DuckDB spills the table
    past its memory limit)."""
    names = ["_line", *(f"c{i}" for i in range(len(cells.header)))]
    types = ", ".join(f"{n} {'BIGINT' if n == '_line' else 'VARCHAR'}" for n in names)
    connection.execute(f"CREATE TEMP TABLE sheet_rows ({types})")
    try:
        for batch in cells.batches():
            connection.register("sheet_batch", batch)
            connection.execute("INSERT INTO sheet_rows SELECT * FROM sheet_batch")
            connection.unregister("sheet_batch")
    finally:
        cells.close()


def _convert_and_write(
    connection: duckdb.DuckDBPyConnection,
    cells: _Cells,
    *,
    path: Path,
    source_name: str,
    header: tuple[str, ...],
    columns: dict[str, int],
    workspace: Workspace,
    kind: UploadKind,
    lake_root: Path,
    mapping: MappingFile,
    hasher: PiiHasher | None,
    content_hash: Callable[[], list[str]],
    european_hint: bool,
    detected: dict[str, str],
    export: ExportLayout | None,
    delimiter: str = ",",
) -> UploadResult:
    targets = COLUMNS_BY_KIND[kind]
    if export is not None:
        detected = {"export": export.name, **detected}
    pii = None
    if any(t.type is ValueType.EMAIL and t.name in columns for t in targets):
        pii = hasher or PiiHasher.from_env()
        connection.create_function(
            "ownlay_email_hash", pii.hash_email, ["VARCHAR"], "VARCHAR", side_effects=False
        )
    if IDENTIFIERS_BY_KIND.get(kind, frozenset()) & columns.keys():
        connection.create_function(
            IDENTIFIER_CHECK,
            identifier_refusal,
            ["VARCHAR"],
            "VARCHAR",
            null_handling="special",  # it answers NULL for an id without contact data
            side_effects=False,
        )
    record_policy(kind, header, columns, delimiter=delimiter, hasher=pii).register(connection)
    filled = frozenset(columns) | frozenset(mapping.defaults)
    text_targets = dictionary_targets(kind, filled)
    decisions = decide(
        connection,
        cells.sample,
        kind,
        columns,
        mapping,
        european_hint=european_hint,
        dictionary_targets=text_targets | {"currency"},
        complete=cells.sampled_all,
    )
    dictionaries = []

    def run_pass(attempt: int, decided: Decisions, cells_also: str | None = None) -> None:
        planned = plan_columns(header, columns, kind, mapping, decided, detected)
        dictionaries[:] = plan_dictionaries(decided, columns, mapping, workspace, text_targets)
        create_checked(
            connection,
            cells.rows(attempt),
            planned,
            columns=columns,
            width=len(header),
            kind=kind,
            mapping=mapping,
            workspace=workspace,
            keep=cells.keep,
            dictionaries=tuple(dictionaries),
            cells_also=cells_also,
        )

    run_pass(0, decisions)
    attempt = 0
    revised = (
        None
        if cells.sampled_all
        else recheck(connection, cells.whole, cells.sample, kind, columns, mapping, decisions)
    )
    if revised is not None:
        attempt = 1
        run_pass(attempt, revised)
    line = cells.lines(connection, attempt)
    if kind is UploadKind.ORDERS and "order_id" in columns and find_repeated_orders(connection):
        # Again, keeping the cells of the rows about to be refused (a new rejects table: the
        # reader's refusals are the same rows, already counted by `line`).
        run_pass(attempt + 1, revised or decisions, cells_also=REPEATED_ORDER_CELLS)
        mark_repeated_orders(connection, line, header[columns["order_id"]])
    # The refused rows that are not skipped, in `upload_checked` and in `upload_refused`.
    refused, refused_ids = "_reason IS NOT NULL", "TRUE"
    if mark_skipped(connection, kind=kind, header=header, columns=columns, export=export):
        refused_ids = f"row_id NOT IN (SELECT row_id FROM {SKIPPED})"
        refused += f" AND rowid NOT IN (SELECT row_id FROM {SKIPPED})"
    upload_id = upload_id_for(kind, source_name)
    projection = PROJECTIONS[kind](workspace, upload_id, source_name, filled)
    values = _output_values(
        connection, dictionaries, VALUE_TRANSFORMS.get(kind, {}), filled, FREE_TEXT_BY_KIND[kind]
    )
    day_column = DAY_COLUMN_BY_KIND[kind]
    raw_ref, quarantine_ref = upload_table(kind), upload_quarantine_table(kind)
    digest, *older_digests = content_hash()
    previous = _previous_loads(
        lake_root, raw_ref, workspace.id, upload_id, source_name, {digest, *older_digests}
    )
    old_days = _days_in(connection, [p.path for p in previous], day_column)
    names = sorted({source_name}.union(*(p.names for p in previous)))
    metadata = (
        f"KV_METADATA {{content_sha256: {quote(digest)}, source_name: {quote(source_name)}, "
        f"{SOURCE_NAMES}: {quote(json.dumps(names))}}}"
    )
    # upload_checked keeps the file's order (insertion order is preserved), so no sort is needed
    # for the rows' order. But rows the reader refused leave its batches short, and DuckDB then
    # bounds the row groups as its threads happened to merge them: one file gave different bytes
    # from run to run on a busy machine. Sorting on the line (only then) makes every row group
    # whole, and the file the same each time.
    reader_reasons = [
        r for (r,) in connection.execute("SELECT reason FROM upload_bad_lines").fetchall()
    ]
    order = " ORDER BY _line" if reader_reasons else ""
    good_query = (
        f"SELECT {projection} FROM (SELECT *{values}{unstored_sql(kind, columns, mapping)}, "
        f"{line('rowid')} AS _line FROM {CHECKED} WHERE _reason IS NULL){order}"
    )
    good_path = load_dir(lake_root, raw_ref, workspace.id, upload_id) / DATA_FILE
    written: list[int] = []

    def write_good(temp: Path) -> None:
        # COPY answers the rows it wrote (reading them back from the file's footer cost more:
        # pyarrow's first Parquet read is ~15 ms of set-up).
        copied = connection.execute(
            f"COPY ({good_query}) TO {quote(str(temp))} "
            f"(FORMAT parquet, COMPRESSION snappy, {metadata})"
        ).fetchone()
        assert copied is not None
        written.append(copied[0])

    replace_file_atomically(good_path, write_good)
    # The row as read, with personal data hashed, removed or masked (`quarantine_record`).
    # From `upload_checked`, not `upload_refused`: DuckDB marks a Parquet column REQUIRED by the
    # column statistics of what it reads, and the smaller table's would change that flag.
    bad_query = f"""
        SELECT {quote(workspace.id)} AS workspace_id, {quote(upload_id)} AS upload_id,
               {quote(source_name)} AS source_name, CAST({line("rowid")} AS BIGINT) AS line,
               _column AS "column", _reason AS reason, {RECORD_FUNCTION}(_cells) AS raw_record
        FROM {CHECKED} WHERE {refused}
        UNION ALL
        SELECT {quote(workspace.id)}, {quote(upload_id)}, {quote(source_name)},
               CAST(line AS BIGINT), NULL, reason, {LINE_FUNCTION}(csv_line)
        FROM upload_bad_lines
        ORDER BY line
    """
    bad_path = load_dir(lake_root, quarantine_ref, workspace.id, upload_id) / DATA_FILE
    replace_file_atomically(
        bad_path,
        lambda temp: connection.execute(
            f"COPY ({bad_query}) TO {quote(str(temp))} (FORMAT parquet, {metadata})"
        ),
    )
    replaced = [p for p in previous if p.upload_id != upload_id]
    for stale in replaced:
        _remove_load(lake_root, kind, workspace.id, stale.upload_id)
    reasons, skipped = _refusal_counts(connection, refused_ids, reader_reasons)
    new_days = _days_in(connection, [good_path], day_column)
    return UploadResult(
        source_name=source_name,
        upload_id=upload_id,
        rows=written[0],
        quarantined=sum(reasons.values()),
        reasons=dict(sorted(reasons.items())),
        skipped=skipped,
        days=sorted(set(old_days) | set(new_days)),
        detected={**detected, "mapping": json.dumps({t: header[i] for t, i in columns.items()})},
        replaced=[p.upload_id for p in replaced],
        replaced_sources={p.source_name: p.why for p in previous},
    )


def _output_values(
    connection: duckdb.DuckDBPyConnection,
    dictionaries: list[Dictionary],
    transforms: dict[str, Callable[[str], str]],
    filled: frozenset[str],
    free_text: frozenset[str],
) -> str:
    """SELECT-list tail over the kept rows of `upload_checked`: `EXCLUDE` of the dictionary
    columns and their output values as `v_<name>`, and the per-value `transforms` of the others
    (one row at a time). The `free_text` columns get a transform masking the values that hold
    contact data, when some do (`free_text_values`)."""
    found = overflow(connection, CHECKED, dictionaries)
    transforms = dict(transforms)
    by_name = {d.name: d for d in dictionaries}
    for name in sorted(free_text & filled):
        known = by_name.get(name)
        candidates = (
            [*known.values, *found[name].values]
            if known is not None
            else distinct_candidates(connection, CHECKED, f"v_{name}")
        )
        masking = masking_transform(masked_values(candidates))
        if masking is not None:
            transforms[name] = masking
    texts = [d for d in dictionaries if found[d.name].text_needed and d.name not in transforms]
    if texts:
        # Rare (kept rows with values the sample lacked, in a column with no empty value): the
        # table again with those columns as text, in the same order, so the output keeps the
        # Parquet nullability of a text column.
        rebuilt = ", ".join(f"{text_sql(d)} AS {d.value_sql}" for d in texts)
        excluded = ", ".join(f"{x}_{d.name}" for d in texts for x in "eo")
        connection.execute(
            f"CREATE OR REPLACE TEMP TABLE upload_checked_text AS "
            f"SELECT * EXCLUDE ({excluded}), {rebuilt} FROM {CHECKED}"
        )
        connection.execute(f"DROP TABLE {CHECKED}")
        connection.execute(f"ALTER TABLE upload_checked_text RENAME TO {CHECKED}")
        dictionaries = [d for d in dictionaries if d not in texts]
    excluded = [f"{x}_{d.name}" for d in dictionaries for x in "eo"]
    sql = f" EXCLUDE ({', '.join(excluded)})" if excluded else ""
    replaced = [
        f"{transform(f'v_{name}')} AS v_{name}"
        for name, transform in transforms.items()
        if name in filled and name not in {d.name for d in dictionaries}
    ]
    if replaced:
        sql += f" REPLACE ({', '.join(replaced)})"
    for d in dictionaries:
        value = output_sql(connection, d, found[d.name].values, transforms.get(d.name))
        sql += f", {value} AS {d.value_sql}"
    return sql


def _refusal_counts(
    connection: duckdb.DuckDBPyConnection, refused_ids: str, reader_reasons: list[str]
) -> tuple[Counter[str], dict[str, int]]:
    """Quarantined rows by `<column>: <reason>` (`row: …` for the reader's, whose reasons are
    `reader_reasons`), and skipped rows by reason; `refused_ids` is the condition on
    `upload_refused.row_id` of the quarantined ones."""
    reasons = Counter(
        dict(
            connection.execute(
                f"SELECT coalesce(_column || ': ', '') || _reason, count(*) FROM {REFUSED} "
                f"WHERE {refused_ids} GROUP BY ALL"
            ).fetchall()
        )
    )
    for bad_reason in reader_reasons:
        reasons[f"row: {_short_reader_reason(bad_reason)}"] += 1
    skipped = dict(
        connection.execute(
            f"SELECT reason, count(*) FROM {SKIPPED} GROUP BY reason ORDER BY reason"
        ).fetchall()
    )
    return reasons, skipped


def _short_reader_reason(message: str) -> str:
    """DuckDB's reader message without the file name and position details."""
    return message.split("\n", 1)[0].strip()


@dataclass(frozen=True)
class _EarlierLoad:
    """A load in the lake that a new load replaces, and why."""

    path: Path
    upload_id: str
    source_name: str
    names: frozenset[str]
    """Its source name and those of the loads it replaced by their content (`SOURCE_NAMES`)."""
    why: str
    """`same content` or `same name` (one of its `names`)."""


SOURCE_NAMES = "source_names"
"""Parquet metadata key of a load's names, a JSON list: its source name and the names of every
load it replaced by content, and theirs. A load that took over a copy answers to both names: a
new version under either replaces it (else `costs.csv`, copied as `costs (1).csv`, then changed,
would count the copy's rows beside the new version's)."""


def _previous_loads(
    lake_root: Path,
    ref: TableRef,
    workspace_id: str,
    upload_id: str,
    source_name: str,
    content_hashes: set[str],
) -> list[_EarlierLoad]:
    """Loads this load replaces: its own earlier version (its id is `upload_id`, or one of its
    names is `source_name`), and any whose content hash (a text file's SHA-256, a sheet's fingerprint) is one of
    `content_hashes`."""
    found = []
    wanted = {h.encode() for h in content_hashes}
    for existing in workspace_load_files(lake_root, ref, workspace_id):
        existing_id = existing.parent.name.split("=", 1)[1]
        metadata = pq.read_schema(existing).metadata or {}
        name = metadata.get(b"source_name", existing_id.encode()).decode()
        names = frozenset(json.loads(metadata.get(SOURCE_NAMES.encode(), b"[]"))) | {name}
        same_content = metadata.get(b"content_sha256") in wanted
        same_name = existing_id == upload_id or source_name in names
        if same_content or same_name:
            why = "same content" if same_content else "same name"
            found.append(_EarlierLoad(existing, existing_id, name, names, why))
    return found


def _days_in(
    connection: duckdb.DuckDBPyConnection, files: list[Path], day_column: str
) -> list[date]:
    if not files:
        return []
    day = f"CAST({day_column} AS DATE)"
    rows = connection.execute(
        f"SELECT DISTINCT {day} FROM read_parquet({[str(f) for f in files]!r}) WHERE {day} IS NOT NULL"
    ).fetchall()
    return [row[0] for row in rows]


def _remove_load(lake_root: Path, kind: UploadKind, workspace_id: str, upload_id: str) -> None:
    for ref in (upload_table(kind), upload_quarantine_table(kind)):
        folder = load_dir(lake_root, ref, workspace_id, upload_id)
        if folder.exists():
            shutil.rmtree(folder)
