"""Load one uploaded file (or each chosen sheet) into `raw/uploads/<kind>` and its quarantine.

**What a load is and how re-uploading replaces it.** A load is identified by workspace, kind and
*source name* (the file's base name, plus `#<sheet>` for a spreadsheet sheet): its rows live in
one file `raw/uploads/<kind>/workspace_id=<ws>/upload_id=<id>/data.parquet` with
`id = sha256(kind, source name)[:16]`, and its refused rows beside it under `quarantine/`.
Loading a file of the same name again replaces both files atomically, so the rows never double
and rows the new version no longer has disappear. The file's SHA-256 is kept in the Parquet
metadata: the same bytes uploaded under another name are recognised as the same file and replace
the earlier load instead of adding to it. Two *different* files are two loads and both count.

**Bad rows never stop a file.** A row DuckDB cannot split into the header's columns, a value
that does not fit its column's decided format, an empty required value: each goes to the
quarantine with its line number (1-based, counting every line of the file, preamble included;
for a sheet, the spreadsheet row), the column, the reason and the row as read. Line numbers count
records, so they are file lines unless a quoted field spans lines.

**Bounded memory.** Text files are read by DuckDB (parallel CSV reader, memory limit, spilling to
a temporary folder); nothing is held in Python per row. Files other than UTF-8 are first
transcoded to a temporary UTF-8 copy in 1 MiB chunks.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from ownlay_pipelines.lake.tables import DATA_FILE, TableRef, table_dir
from ownlay_pipelines.lake.writer import replace_file_atomically
from ownlay_pipelines.privacy.keyed_hash import PiiHasher, PiiKeyMissing
from ownlay_pipelines.registry.tenant import TENANT_COLUMN, validate_workspace_id
from ownlay_pipelines.registry.workspaces import Workspace
from ownlay_pipelines.uploads import formats
from ownlay_pipelines.uploads.formats import quote
from ownlay_pipelines.uploads.kinds import (
    COLUMNS_BY_KIND,
    DAY_COLUMN_BY_KIND,
    ONE_OF_REQUIRED,
    TargetColumn,
    UploadKind,
    ValueType,
    upload_quarantine_table,
    upload_table,
)
from ownlay_pipelines.uploads.mapping import MappingError, MappingFile, resolve_mapping
from ownlay_pipelines.uploads.projections import PROJECTIONS
from ownlay_pipelines.uploads.sniff import SAMPLE_BYTES, SniffError, detect_text_layout
from ownlay_pipelines.uploads.xlsx import XLSX_SUFFIXES, read_sheet, sheet_names

MAX_UPLOAD_BYTES = 100 * 1024 * 1024
"""Seed 000's limit; a larger file is refused before a byte of it is read."""
UPLOAD_ID_COLUMN = "upload_id"
TRANSCODE_CHUNK = 1024 * 1024
DUCKDB_MEMORY_LIMIT = "1GB"
NON_NEGATIVE = frozenset({"spend", "impressions", "clicks"})
SAMPLE_ROWS = 20_000
"""Rows sampled (uniformly over the file) to decide number and date formats."""


class UploadError(ValueError):
    """The file cannot be loaded at all (too large, unreadable layout, unmappable header)."""


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
    detected: dict[str, str] = field(default_factory=dict)
    replaced: list[str] = field(default_factory=list)


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


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(TRANSCODE_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


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
    if size > MAX_UPLOAD_BYTES:
        raise UploadError(
            f"{path.name} is {size / 1024 / 1024:.1f} MiB; uploads are limited to "
            f"{MAX_UPLOAD_BYTES // 1024 // 1024} MiB (split the file or load it by date range)"
        )
    content_hash = file_sha256(path)
    try:
        if path.suffix.lower() in XLSX_SUFFIXES:
            names = sheet_names(path)
            chosen = names if all_sheets else [sheet or names[0]]
            return [
                _load_sheet(path, name, workspace, kind, lake_root, mapping, hasher, content_hash)
                for name in chosen
            ]
        if sheet or all_sheets:
            raise UploadError("--sheet and --all-sheets apply to spreadsheets (.xlsx, .xls, .ods)")
        return [_load_text(path, workspace, kind, lake_root, mapping, hasher, content_hash)]
    except (SniffError, MappingError, PiiKeyMissing) as error:
        raise UploadError(f"{path.name}: {error}") from error


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


def _load_text(
    path: Path,
    workspace: Workspace,
    kind: UploadKind,
    lake_root: Path,
    mapping: MappingFile | None,
    hasher: PiiHasher | None,
    content_hash: str,
) -> UploadResult:
    with open(path, "rb") as handle:
        layout = detect_text_layout(handle.read(SAMPLE_BYTES))
    columns = resolve_mapping(kind, layout.header, mapping)
    with tempfile.TemporaryDirectory(prefix="ownlay-upload-") as scratch_name:
        scratch = Path(scratch_name)
        source = path
        if layout.encoding not in ("utf-8", "utf-8-sig"):
            source = scratch / "utf8.csv"
            _transcode(path, layout.encoding, source)
        connection = _connection(workspace, scratch)
        try:
            struct = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(layout.header))) + "}"
            first_data_line = layout.skip_lines + 2
            connection.execute(
                f"""
                CREATE TEMP TABLE upload_read AS
                SELECT row_number() OVER () - 1 AS _k, *
                FROM read_csv({quote(str(source))}, delim={quote(layout.delimiter)},
                    quote='"', escape='"', header=true, skip={layout.skip_lines},
                    auto_detect=false, columns={struct}, store_rejects=true,
                    rejects_table='upload_rejects', rejects_scan='upload_reject_scans',
                    ignore_errors=true, encoding='utf-8')
                """
            )
            _number_lines(connection, first_data_line)
            detected = {
                "encoding": layout.encoding,
                "delimiter": {"\t": "tab"}.get(layout.delimiter, layout.delimiter),
                "header_line": str(layout.skip_lines + 1),
            }
            return _convert_and_write(
                connection,
                path=path,
                source_name=path.name,
                header=layout.header,
                columns=columns,
                workspace=workspace,
                kind=kind,
                lake_root=lake_root,
                mapping=mapping or MappingFile(),
                hasher=hasher,
                content_hash=content_hash,
                european_hint=layout.delimiter == ";",
                detected=detected,
            )
        finally:
            connection.close()


def _transcode(path: Path, encoding: str, target: Path) -> None:
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    with open(path, "rb") as source, open(target, "w", encoding="utf-8", newline="") as sink:
        while chunk := source.read(TRANSCODE_CHUNK):
            sink.write(decoder.decode(chunk))
        sink.write(decoder.decode(b"", final=True))


def _number_lines(connection: duckdb.DuckDBPyConnection, first_data_line: int) -> None:
    """`upload_cells`: the read rows with their file line, and `upload_bad_lines` refused by the reader.

    Rows the reader refused are missing from the row count, so a kept row's line is its index
    plus the number of refused lines before it (`gap` = kept rows before each refused line).
    """
    connection.execute(
        """
        CREATE TEMP TABLE upload_bad_lines AS
        SELECT line, first(error_message ORDER BY column_idx) AS reason,
               first(csv_line ORDER BY column_idx) AS csv_line
        FROM upload_rejects GROUP BY line
        """
    )
    connection.execute(
        f"""
        CREATE TEMP TABLE upload_gaps AS
        SELECT line - {first_data_line} - (row_number() OVER (ORDER BY line) - 1) AS gap
        FROM upload_bad_lines
        """
    )
    has_gaps = connection.execute("SELECT count(*) FROM upload_gaps").fetchone()[0]  # type: ignore[index]
    shift = "(SELECT count(*) FROM upload_gaps g WHERE g.gap <= r._k)" if has_gaps else "0"
    connection.execute(
        f"""
        CREATE TEMP VIEW upload_cells AS
        SELECT {first_data_line} + r._k + {shift} AS _line, r.* EXCLUDE (_k)
        FROM upload_read r
        """
    )


def _load_sheet(
    path: Path,
    sheet: str,
    workspace: Workspace,
    kind: UploadKind,
    lake_root: Path,
    mapping: MappingFile | None,
    hasher: PiiHasher | None,
    content_hash: str,
) -> UploadResult:
    cells = read_sheet(path, sheet)
    columns = resolve_mapping(kind, cells.header, mapping)
    arrays = {"_line": pa.array(cells.row_numbers, pa.int64())}
    for index in range(len(cells.header)):
        arrays[f"c{index}"] = pa.array([row[index] for row in cells.rows], pa.string())
    table = pa.table(arrays)
    with tempfile.TemporaryDirectory(prefix="ownlay-upload-") as scratch_name:
        connection = _connection(workspace, Path(scratch_name))
        try:
            connection.register("sheet_rows", table)
            connection.execute("CREATE TEMP TABLE upload_cells AS SELECT * FROM sheet_rows")
            connection.execute(
                "CREATE TEMP TABLE upload_bad_lines (line BIGINT, reason VARCHAR, csv_line VARCHAR)"
            )
            return _convert_and_write(
                connection,
                path=path,
                source_name=f"{path.name}#{sheet}",
                header=cells.header,
                columns=columns,
                workspace=workspace,
                kind=kind,
                lake_root=lake_root,
                mapping=mapping or MappingFile(),
                hasher=hasher,
                content_hash=f"{content_hash}#{sheet}",
                european_hint=False,
                detected={"sheet": sheet, "header_line": "spreadsheet row"},
            )
        finally:
            connection.close()


@dataclass(frozen=True)
class _Column:
    """One mapped target in the conversion query over `upload_cells`.

    The query is built in levels so each expensive expression runs once per row: `t_<name>` is
    the trimmed cell, `n_<name>` the parsed number or date (`parsed_sql`, from `t_`), `v_<name>`
    the value (`value_sql`, from `n_`), `e_<name>` the reason it was refused (`error_sql`).
    Numbers are first tried as plain numbers (`p_`); only the rest are cleaned (`k_`).
    """

    target: TargetColumn
    header: str
    cell: str
    parsed_sql: str
    value_sql: str
    error_sql: str | None
    prepared: tuple[str, ...] = ()
    """Expressions (with aliases) `parsed_sql` reads, computed one level earlier."""


_NUMBER_TYPES = frozenset({ValueType.MONEY, ValueType.INTEGER, ValueType.DECIMAL})
_SQL_TYPES = {
    ValueType.TEXT: "VARCHAR",
    ValueType.EMAIL: "VARCHAR",
    ValueType.DATE: "DATE",
    ValueType.TIMESTAMP: "TIMESTAMPTZ",
    ValueType.MONEY: "DECIMAL(20, 6)",
    ValueType.DECIMAL: "DECIMAL(20, 6)",
    ValueType.INTEGER: "BIGINT",
}


def _trimmed_sql(columns: dict[str, int]) -> str:
    """`t_<target>`: each mapped cell trimmed, NULL when empty."""
    return ", ".join(f"NULLIF(trim(c{i}), '') AS t_{name}" for name, i in columns.items())


def _plan_columns(
    connection: duckdb.DuckDBPyConnection,
    header: tuple[str, ...],
    columns: dict[str, int],
    kind: UploadKind,
    mapping: MappingFile,
    european_hint: bool,
    detected: dict[str, str],
) -> list[_Column]:
    targets = {t.name: t for t in COLUMNS_BY_KIND[kind]}
    numeric = [n for n, t in targets.items() if n in columns and t.type in _NUMBER_TYPES]
    # Formats are read off a random sample spread over the whole file; the day/month order of
    # dates is then decided over the whole column.
    rows = connection.execute("SELECT count(*) FROM upload_cells").fetchone()[0]  # type: ignore[index]
    share = min(100.0, 100.0 * SAMPLE_ROWS / max(rows, 1))
    # System sampling keeps whole vectors of rows chosen across the file: cheap and spread out.
    connection.execute(
        f"CREATE TEMP TABLE upload_sample AS SELECT *, {_trimmed_sql(columns)} FROM "
        f"(SELECT * FROM upload_cells USING SAMPLE {share:.6f} PERCENT (system, 7))"
    )
    sampled = connection.execute("SELECT count(*) FROM upload_sample").fetchone()[0]  # type: ignore[index]
    if sampled < min(rows, SAMPLE_ROWS // 10):
        # Few vectors drawn (a file of a handful of 2,048-row vectors): an exact-size sample.
        connection.execute(
            f"CREATE OR REPLACE TEMP TABLE upload_sample AS SELECT *, {_trimmed_sql(columns)} "
            f"FROM (SELECT * FROM upload_cells USING SAMPLE reservoir({SAMPLE_ROWS} ROWS) "
            "REPEATABLE (7))"
        )
    decided = (
        {}
        if mapping.decimal
        else formats.decide_decimals(connection, "upload_sample", [f"t_{n}" for n in numeric])
    )
    decimals: dict[str, str | None] = {n: mapping.decimal or decided[f"t_{n}"] for n in numeric}
    file_decimal = "," if ("," in decimals.values() or european_hint) else "."
    if mapping.decimal:
        file_decimal = mapping.decimal
    planned: list[_Column] = []
    for name, index in columns.items():
        target = targets[name]
        t, n, v = f"t_{name}", f"n_{name}", f"v_{name}"
        parsed, value = "NULL", n
        prepared: tuple[str, ...] = ()
        error: str | None = None
        if target.type is ValueType.TEXT:
            parsed = t
        elif target.type in (ValueType.DATE, ValueType.TIMESTAMP):
            fmt = (
                formats.DateFormat(formats.DateFamily.FORMAT, mapping.date_format, "mapping file")
                if mapping.date_format
                else formats.decide_date_format(
                    connection,
                    "upload_sample",
                    "upload_trimmed",
                    t,
                    day_first_hint=file_decimal == ",",
                )
            )
            if fmt is not None:
                detected[f"{name} format"] = f"{fmt.describe()} ({fmt.reason})"
            if target.type is ValueType.DATE:
                parsed = formats.date_value_sql(t, fmt) if fmt else "CAST(NULL AS DATE)"
                why = quote(f"not a date in the column format {fmt.describe() if fmt else '?'}")
            else:
                parsed = formats.timestamp_value_sql(t, fmt)
                why = "'not a timestamp (ISO 8601 or the column date format)'"
            error = f"CASE WHEN {t} IS NOT NULL AND {v} IS NULL THEN {why} END"
        elif target.type is ValueType.EMAIL:
            parsed = f"CASE WHEN {t} LIKE '%_@_%' THEN ownlay_email_hash({t}) END"
            error = f"CASE WHEN {t} IS NOT NULL AND {v} IS NULL THEN 'not an e-mail address' END"
        else:
            decimal = decimals.get(name) or file_decimal
            detected[f"{name} decimal"] = decimal
            p, k = f"p_{name}", f"k_{name}"
            prepared = (
                f"{formats.plain_number_sql(t, decimal)} AS {p}",
                f"CASE WHEN {p} IS NULL THEN {formats.cleaned_number_sql(t)} END AS {k}",
            )
            cleaned = formats.cleaned_value_sql(formats.signed_number_sql(k), decimal)
            parsed = f"COALESCE({p}, {cleaned})"
            error = "CASE"
            if target.type is ValueType.INTEGER:
                value = f"CASE WHEN {n} = trunc({n}) THEN CAST({n} AS BIGINT) END"
                error += f" WHEN {n} <> trunc({n}) THEN 'not a whole number'"
            not_number = quote(f"not a number (decimal {decimal!r})")
            error += f" WHEN {t} IS NOT NULL AND {v} IS NULL THEN {not_number}"
            if name in NON_NEGATIVE:
                error += f" WHEN {v} < 0 THEN 'negative'"
            error += " END"
        if target.required:
            required = f"CASE WHEN {t} IS NULL THEN 'required value is empty' END"
            error = f"COALESCE({required}, {error})" if error else required
        planned.append(_Column(target, header[index], f"c{index}", parsed, value, error, prepared))
    return planned


def _convert_and_write(
    connection: duckdb.DuckDBPyConnection,
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
    content_hash: str,
    european_hint: bool,
    detected: dict[str, str],
) -> UploadResult:
    targets = COLUMNS_BY_KIND[kind]
    if any(t.type is ValueType.EMAIL and t.name in columns for t in targets):
        pii = hasher or PiiHasher.from_env()
        connection.create_function(
            "ownlay_email_hash", pii.hash_email, ["VARCHAR"], "VARCHAR", side_effects=False
        )
    trimmed = ", ".join(f"NULLIF(trim(c{i}), '') AS t_{name}" for name, i in columns.items())
    connection.execute(f"CREATE TEMP VIEW upload_trimmed AS SELECT *, {trimmed} FROM upload_cells")
    planned = _plan_columns(connection, header, columns, kind, mapping, european_hint, detected)
    upload_id = upload_id_for(kind, source_name)
    money = next((c.target.name for c in planned if c.target.type is ValueType.MONEY), None)
    symbol = formats.currency_symbol_sql(f"t_{money}") if money else "''"
    prepared = [f"{symbol} AS _symbol", *(e for c in planned for e in c.prepared)]
    parsed = [f"{c.parsed_sql} AS n_{c.target.name}" for c in planned]
    values = [f"{c.value_sql} AS v_{c.target.name}" for c in planned]
    for name, constant in mapping.defaults.items():
        values.append(f"{quote(constant)} AS v_{name}")
    mapped = {c.target.name for c in planned} | set(mapping.defaults)
    for target in targets:
        if target.name not in mapped:
            values.append(f"CAST(NULL AS {_SQL_TYPES[target.type]}) AS v_{target.name}")
    currency = formats.currency_code_sql("_symbol", workspace.currency)
    currency_code = f"upper(COALESCE(v_currency, {currency}, {quote(workspace.currency)}))"
    errors = [(c.header, c.error_sql) for c in planned if c.error_sql]
    errors.append(
        (
            "currency",
            "CASE WHEN NOT regexp_full_match(v_currency_code, '[A-Z]{3}') "
            "THEN 'not an ISO 4217 currency code' END",
        )
    )
    group = ONE_OF_REQUIRED.get(kind)
    if group:
        condition = " AND ".join(f"v_{n} IS NULL" for n in group)
        errors.append(
            (" or ".join(group), f"CASE WHEN {condition} THEN 'required value is empty' END")
        )
    error_columns = ", ".join(f"{e} AS _e{i}" for i, (_, e) in enumerate(errors))
    reason = "COALESCE(" + ", ".join(f"_e{i}" for i in range(len(errors))) + ")"
    column = (
        "CASE "
        + " ".join(f"WHEN _e{i} IS NOT NULL THEN {quote(h)}" for i, (h, _) in enumerate(errors))
        + " END"
    )
    kept = ", ".join(
        ["_line", *(f"c{i}" for i in range(len(header))), *(f"v_{t.name}" for t in targets)]
    )
    connection.execute(
        f"""
        CREATE TEMP TABLE upload_checked AS
        SELECT {kept}, v_currency_code, {reason} AS _reason, {column} AS _column
        FROM (
            SELECT *, {error_columns}
            FROM (
                SELECT *, {currency_code} AS v_currency_code
                FROM (
                    SELECT *, {", ".join(values)}
                    FROM (
                        SELECT *, {", ".join(parsed)}
                        FROM (SELECT *, {", ".join(prepared)} FROM upload_trimmed)
                    )
                )
            )
        )
        """
    )
    projection = PROJECTIONS[kind](workspace, upload_id, source_name)
    day_column = DAY_COLUMN_BY_KIND[kind]
    raw_ref, quarantine_ref = upload_table(kind), upload_quarantine_table(kind)
    previous = _previous_loads(lake_root, raw_ref, workspace.id, upload_id, content_hash)
    old_days = _days_in(connection, previous, day_column)
    metadata = (
        f"KV_METADATA {{content_sha256: {quote(content_hash)}, source_name: {quote(source_name)}}}"
    )
    # upload_checked keeps the file's order (insertion order is preserved), so no sort.
    good_query = f"SELECT {projection} FROM upload_checked WHERE _reason IS NULL"
    good_path = load_dir(lake_root, raw_ref, workspace.id, upload_id) / DATA_FILE
    replace_file_atomically(
        good_path,
        lambda temp: connection.execute(
            f"COPY ({good_query}) TO {quote(str(temp))} (FORMAT parquet, COMPRESSION snappy, {metadata})"
        ),
    )
    raw_record = (
        "to_json(map_from_entries(["
        + ", ".join(f"({quote(h)}, c{i})" for i, h in enumerate(header))
        + "]))"
    )
    bad_query = f"""
        SELECT {quote(workspace.id)} AS workspace_id, {quote(upload_id)} AS upload_id,
               {quote(source_name)} AS source_name, CAST(_line AS BIGINT) AS line,
               _column AS "column", _reason AS reason, CAST({raw_record} AS VARCHAR) AS raw_record
        FROM upload_checked WHERE _reason IS NOT NULL
        UNION ALL
        SELECT {quote(workspace.id)}, {quote(upload_id)}, {quote(source_name)},
               CAST(line AS BIGINT), NULL, reason, csv_line
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
    replaced = [p for p in previous if p.parent.name != f"{UPLOAD_ID_COLUMN}={upload_id}"]
    for stale in replaced:
        _remove_load(lake_root, kind, workspace.id, stale.parent.name.split("=", 1)[1])
    rows = pq.read_metadata(good_path).num_rows
    reasons = Counter(
        dict(
            connection.execute(
                """SELECT coalesce(_column || ': ', '') || _reason, count(*) FROM upload_checked
                WHERE _reason IS NOT NULL GROUP BY ALL"""
            ).fetchall()
        )
    )
    for (bad_reason,) in connection.execute("SELECT reason FROM upload_bad_lines").fetchall():
        reasons[f"row: {_short_reader_reason(bad_reason)}"] += 1
    new_days = _days_in(connection, [good_path], day_column)
    return UploadResult(
        source_name=source_name,
        upload_id=upload_id,
        rows=rows,
        quarantined=sum(reasons.values()),
        reasons=dict(sorted(reasons.items())),
        days=sorted(set(old_days) | set(new_days)),
        detected={**detected, "mapping": json.dumps({t: header[i] for t, i in columns.items()})},
        replaced=[p.parent.name.split("=", 1)[1] for p in replaced],
    )


def _short_reader_reason(message: str) -> str:
    """DuckDB's reader message without the file name and position details."""
    return message.split("\n", 1)[0].strip()


def _previous_loads(
    lake_root: Path, ref: TableRef, workspace_id: str, upload_id: str, content_hash: str
) -> list[Path]:
    """Load files this load replaces: its own earlier version and any with the same bytes."""
    found = []
    for existing in workspace_load_files(lake_root, ref, workspace_id):
        same_name = existing.parent.name == f"{UPLOAD_ID_COLUMN}={upload_id}"
        metadata = pq.read_schema(existing).metadata or {}
        if same_name or metadata.get(b"content_sha256") == content_hash.encode():
            found.append(existing)
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
