"""Spreadsheet sheets as text cells, read with python-calamine (Rust, no formulas evaluated).

Each cell becomes the text an export would write: whole numbers without `.0`, dates in ISO
form (calamine gives date-formatted cells as dates, so their format needs no guessing), empty
cells as None. Numbers that are dates without a date format stay numbers and are recognised as
Excel serials by the date detection; in a column with more date cells than numbers, a number is
such a date that lost its format, and reads as one. A sheet is read whole (calamine has no
streaming reader).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from python_calamine import CalamineError, CalamineWorkbook

from ownlay_pipelines.uploads.sniff import NO_VALUE_TEXTS, SniffError, find_header_row

XLSX_SUFFIXES = frozenset({".xlsx", ".xlsm", ".xlsb", ".xls", ".ods"})
EXCEL_EPOCH = dt.datetime(1899, 12, 30)
"""Day 0 of Excel's 1900 date system (serials from 1900-03-01 on are right)."""


class EmptySheet(SniffError):
    """The sheet has no cell with a value (a workbook's unused `Sheet2`): --all-sheets passes it
    over; chosen alone, it is refused with this message."""


@dataclass(frozen=True)
class SheetCells:
    """One sheet as text: its header (and its row), its data rows and each one's row number."""

    name: str
    header: tuple[str, ...]
    header_row: int
    rows: list[list[str | None]]
    row_numbers: list[int]


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


def _mostly_dates(cells: Iterable[object]) -> bool:
    """The column has more date cells than number cells: its numbers are dates whose cells lost
    their date format (values pasted from elsewhere), Excel serials to read as dates. Text cells
    (a `Total` label) do not count either way."""
    values = list(cells)
    dates = sum(isinstance(c, dt.date) for c in values)
    return dates > sum(_is_serial(c) for c in values)


def read_sheet(path: Path, sheet: str) -> SheetCells:
    """The sheet's header (preamble rows skipped) and data rows as text, padded to the header."""
    workbook = open_workbook(path)
    if sheet not in workbook.sheet_names:
        raise SniffError(f"sheet {sheet!r} not found; the workbook has {workbook.sheet_names}")
    try:
        values = workbook.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
    except CalamineError as error:
        raise SniffError(f"sheet {sheet!r} cannot be read: {error}") from error
    texts = [[cell_text(v) for v in row] for row in values]
    if not any(any(row) for row in texts):
        raise EmptySheet(
            f"sheet {sheet!r} is empty; choose another with --sheet "
            f"(the workbook has {workbook.sheet_names})"
        )
    header_index = find_header_row([[c or "" for c in row] for row in texts])
    header = tuple((c or "").strip() for c in texts[header_index])
    width = len(header)
    data = values[header_index + 1 :]
    date_columns = [
        i for i in range(width) if _mostly_dates(row[i] for row in data if i < len(row))
    ]
    rows: list[list[str | None]] = []
    numbers: list[int] = []
    for index in range(header_index + 1, len(texts)):
        row = texts[index]
        if not any(row):
            continue
        for i in date_columns:
            if i < len(row) and _is_serial(values[index][i]):
                row[i] = cell_text(EXCEL_EPOCH + dt.timedelta(days=values[index][i]))
        rows.append((row + [None] * width)[:width])
        numbers.append(index + 1)
    return SheetCells(sheet, header, header_index + 1, rows, numbers)
