"""Spreadsheet sheets as text cells, read with python-calamine (Rust, no formulas evaluated).

Each cell becomes the text an export would write: whole numbers without `.0`, dates in ISO
form (calamine gives date-formatted cells as dates, so their format needs no guessing), empty
cells as None. Numbers that are dates without a date format stay numbers and are recognised as
Excel serials by the date detection; in a column with more date cells than numbers, a number is
such a date that lost its format, and reads as one.

Memory: calamine has no streaming reader, so its copy of a sheet is whole; the sheet's values
and texts are never whole in Python but go to DuckDB in batches (`SheetCells.batches`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

import pyarrow as pa
from python_calamine import CalamineError, CalamineSheet, CalamineWorkbook

from ownlay_pipelines.uploads.sniff import (
    HEADER_SEARCH_ROWS,
    NO_VALUE_TEXTS,
    SniffError,
    find_header_row,
)

XLSX_SUFFIXES = frozenset({".xlsx", ".xlsm", ".xlsb", ".xls", ".ods"})
EXCEL_EPOCH = dt.datetime(1899, 12, 30)
"""Day 0 of Excel's 1900 date system (serials from 1900-03-01 on are right)."""


class EmptySheet(SniffError):
    """The sheet has no cell with a value (a workbook's unused `Sheet2`): --all-sheets passes it
    over; chosen alone, it is refused with this message."""


SHEET_BATCH_ROWS = 20_000
"""Rows of a sheet turned into Arrow text columns at a time (`SheetCells.batches`)."""
FINGERPRINT_CELL, FINGERPRINT_ROW = "\x1f", "\x1e"
"""Separators of the sheet fingerprint's text: control characters XML 1.0, and so a cell of a
spreadsheet, cannot hold."""


class SheetCells:
    """One sheet as text, read as a stream: its header (and its row), then its data rows in
    batches (`batches`), each with its row number, read from the workbook only then.

    Opening it reads the sheet once to find the header and the date columns; `batches` reads it
    again, one row at a time. Only calamine's copy of the sheet is whole in memory (it has no
    streaming reader; ~12 bytes a byte of file for a cost export, see bench/README.md), never
    the sheet's Python values or texts; `close` (or the last batch) lets it go.
    """

    def __init__(self, workbook: CalamineWorkbook, sheet: CalamineSheet, name: str) -> None:
        self.name = name
        self._workbook: CalamineWorkbook | None = workbook
        self._sheet: CalamineSheet | None = sheet
        self._content_sha256: str | None = None
        # iter_rows starts at the sheet's first row but at its first used column: the columns
        # left of it are put back, so the header and the cells are where the sheet has them.
        self._pad: list[object] = [""] * (sheet.start[1] if sheet.start else 0)
        head: list[list[str]] = []
        widths: list[int] = []
        dates: Counter[int] = Counter()
        serials: Counter[int] = Counter()
        head_counts: list[tuple[Counter[int], Counter[int]]] = []
        any_value = False
        for index, values in enumerate(self._rows()):
            # The cells' texts are made by the second reading; here whether a cell would have
            # one is told from its value (as `cell_text` would give it), but for the head rows.
            filled, row_dates, row_serials, valued = _survey(values)
            widths.append(filled)
            any_value = any_value or valued
            dates.update(row_dates)
            serials.update(row_serials)
            if index < HEADER_SEARCH_ROWS:
                head.append([cell_text(v) or "" for v in values])
                head_counts.append((Counter(row_dates), Counter(row_serials)))
        if not any_value:
            raise EmptySheet(
                f"sheet {name!r} is empty; choose another with --sheet "
                f"(the workbook has {workbook.sheet_names})"
            )
        header_index = find_header_row(head, widths)
        self.header: tuple[str, ...] = tuple(c.strip() for c in head[header_index])
        self.header_row = header_index + 1
        # The date columns count the data rows only: below the header.
        for row_dates, row_serials in head_counts[: header_index + 1]:
            dates.subtract(row_dates)
            serials.subtract(row_serials)
        self._date_columns = [i for i in range(len(self.header)) if dates[i] > serials[i]]

    def _rows(self) -> Iterator[list[object]]:
        """The sheet's rows from its first, each from column A, as calamine gives the values."""
        if self._sheet is None:
            raise RuntimeError(f"sheet {self.name!r} was closed")
        try:
            for values in self._sheet.iter_rows():
                yield self._pad + values if self._pad else values
        except CalamineError as error:
            raise SniffError(f"sheet {self.name!r} cannot be read: {error}") from error

    def batches(self, size: int = SHEET_BATCH_ROWS) -> Iterator[pa.RecordBatch]:
        """The data rows (those with a value, below the header), `size` at a time: `_line`, the
        spreadsheet row, then `c0 … cN` the cells as text, padded or cut to the header. A number
        in a date column (more date cells than numbers) is read as the Excel serial of a date.
        Reading them all sets `content_sha256` and closes the sheet."""
        width = len(self.header)
        digest = hashlib.sha256(_fingerprint_row(self.header))
        lines: list[int] = []
        rows: list[list[str | None]] = []
        for index, values in enumerate(self._rows()):
            if index < self.header_row:
                continue
            row = [cell_text(v) for v in values]
            if not any(row):
                continue
            for i in self._date_columns:
                if i < len(values) and _is_serial(values[i]):
                    row[i] = cell_text(EXCEL_EPOCH + dt.timedelta(days=values[i]))
            row = (row + [None] * width)[:width]
            digest.update(_fingerprint_row(row))
            lines.append(index + 1)
            rows.append(row)
            if len(lines) == size:
                yield _batch(lines, rows, width)
                lines, rows = [], []
        if lines:
            yield _batch(lines, rows, width)
        self._content_sha256 = digest.hexdigest()
        self.close()

    @property
    def content_sha256(self) -> str:
        """SHA-256 of the header and the data rows as text (`batches` must have run): the same
        for the same table whatever the file, workbook or sheet is called, or the workbook's
        other sheets and metadata (a re-saved or re-downloaded workbook)."""
        if self._content_sha256 is None:
            raise RuntimeError(f"sheet {self.name!r}: its rows were not all read")
        return self._content_sha256

    def close(self) -> None:
        """Let calamine's copy of the sheet go."""
        self._sheet = None
        if self._workbook is not None:
            self._workbook.close()
            self._workbook = None


def _fingerprint_row(cells: Iterable[str | None]) -> bytes:
    return (FINGERPRINT_CELL.join(c or "" for c in cells) + FINGERPRINT_ROW).encode()


def _batch(lines: list[int], rows: list[list[str | None]], width: int) -> pa.RecordBatch:
    """`_line` and the text columns `c0 … c<width-1>` of `rows` (each `width` cells)."""
    columns = zip(*rows, strict=True) if width else ()
    arrays = [pa.array(lines, pa.int64()), *(pa.array(c, pa.string()) for c in columns)]
    return pa.RecordBatch.from_arrays(arrays, ["_line", *(f"c{i}" for i in range(width))])


def open_workbook(path: Path) -> CalamineWorkbook:
    """The workbook at `path`, or a SniffError saying why it cannot be read (not a spreadsheet
    of its kind, damaged, password-protected)."""
    try:
        return CalamineWorkbook.from_path(str(path))
    except CalamineError as error:
        kind = type(error).__name__.removesuffix("Error").lower()
        raise SniffError(
            f"not a readable {path.suffix.lower()} spreadsheet ({kind} error: {error}); "
            "save it again from the spreadsheet program, or export it as CSV"
        ) from error


def sheet_names(path: Path) -> list[str]:
    """The workbook's sheet names, in order."""
    return list(open_workbook(path).sheet_names)


def cell_text(value: object) -> str | None:
    """The text of one cell as a CSV export would write it (None for no value)."""
    if value is None or value in NO_VALUE_TEXTS:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _is_serial(value: object) -> bool:
    """A number that is an Excel serial of a day from 1900 to 9999."""
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 2958466


def _survey(values: list[object]) -> tuple[int, list[int], list[int], bool]:
    """Of one row: how many cells hold a value (`filled_cells` of their texts), the columns of
    its date cells, those of its numbers that could be Excel serials, and whether any cell has
    a text at all (spaces are a text). A column with more date cells than numbers over the data
    rows is a date column: its numbers are dates whose cells lost their date format (values
    pasted from elsewhere), Excel serials to read as dates. Text cells (a `Total` label) count
    neither way."""
    filled, valued = 0, False
    dates, serials = [], []
    for i, value in enumerate(values):
        if value.__class__ is str:
            if value in NO_VALUE_TEXTS:
                continue
            valued = True
            if value.strip():
                filled += 1
        elif value is not None:
            valued = True
            filled += 1  # a number, a date, a time or a boolean always has a text
            if isinstance(value, dt.date):
                dates.append(i)
            elif _is_serial(value):
                serials.append(i)
    return filled, dates, serials, valued


def read_sheet(path: Path, sheet: str) -> SheetCells:
    """The sheet's header (preamble rows skipped), its data rows to be read as a stream."""
    workbook = open_workbook(path)
    if sheet not in workbook.sheet_names:
        raise SniffError(f"sheet {sheet!r} not found; the workbook has {workbook.sheet_names}")
    try:
        calamine_sheet = workbook.get_sheet_by_name(sheet)
    except CalamineError as error:
        raise SniffError(f"sheet {sheet!r} cannot be read: {error}") from error
    return SheetCells(workbook, calamine_sheet, sheet)
