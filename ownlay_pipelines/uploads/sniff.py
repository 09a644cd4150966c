"""Guess how a text file is written from its first bytes: encoding, delimiter and header row.

Only a sample is read (`SAMPLE_BYTES`); the whole file is then read by DuckDB with what was found.

- Encoding: a byte-order mark decides (UTF-8, UTF-16 LE/BE); without one, UTF-16 is recognised
  by its NUL bytes, then the sample must decode as UTF-8; otherwise it is Windows-1252 (a superset
  of Latin-1's printable characters, and what spreadsheet exports on Windows write), or Latin-1
  when the sample holds one of the five bytes Windows-1252 leaves undefined.
- Delimiter: of `,` `;` tab `|`, the one that splits the sample's rows into the same number of
  fields most consistently (and into more than one).
- Header row: the first row with that many fields, mostly non-empty (all but an unnamed first
  column, as pandas writes its index) and mostly not numbers or dates, followed by a row of the
  same width. Lines above it (a report title, "Generated on …",
  blank lines) are a preamble and skipped.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

SAMPLE_BYTES = 256 * 1024
NO_VALUE_TEXTS = ("", "--")
"""Cell texts that mean "no value": an empty cell, and the `--` Google Ads and Microsoft
Advertising write where a metric has no data (a click count of `--` is unknown, not bad)."""
DELIMITERS = (",", ";", "\t", "|")
HEADER_SEARCH_ROWS = 30
NUMBER_OR_DATE = re.compile(r"^[\s$€£¥()+\-.,:/0-9]*$")
BINARY_SIGNATURES = {
    b"\x1f\x8b": ("a gzip archive", "extract the CSV first"),
    b"PK\x03\x04": ("a ZIP archive", "extract the CSV, or give a spreadsheet its .xlsx/.ods name"),
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1": ("an Excel 97-2003 workbook", "give it its .xls name"),
}
"""Leading bytes of files often sent under a text name: refused by what they are, since read as
text their bytes would only make a header no column matches."""


class SniffError(ValueError):
    """The file's layout could not be recognised; the message says what is missing."""


@dataclass(frozen=True)
class TextLayout:
    """How a delimited text file is written: encoding, delimiter, preamble lines, header cells."""

    encoding: str
    delimiter: str
    skip_lines: int
    header: tuple[str, ...]


def detect_encoding(sample: bytes) -> str:
    """Python codec name of the sample's encoding (see the module docstring for the rules)."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if len(sample) >= 4:
        if sample[1::2].count(0) > len(sample) // 4:
            return "utf-16-le"
        if sample[0::2].count(0) > len(sample) // 4:
            return "utf-16-be"
    try:
        # final=False: a sample cut in the middle of a multi-byte character is still UTF-8.
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        sample.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"


def decode_sample(sample: bytes, encoding: str) -> str:
    """The sample as text, without a trailing partial character or line."""
    text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(sample, final=False)
    if len(sample) >= SAMPLE_BYTES and "\n" in text:
        text = text[: text.rindex("\n") + 1]
    return text


def detect_delimiter(text: str) -> str:
    """The delimiter that splits the sample's rows most consistently into more than one field."""
    lines = [line for line in text.splitlines() if line.strip()][:200]
    best: tuple[float, int, str] | None = None
    for delimiter in DELIMITERS:
        widths = [len(row) for row in csv.reader(lines, delimiter=delimiter)]
        if not widths:
            continue
        width, count = Counter(widths).most_common(1)[0]
        if width < 2:
            continue
        score = (count / len(widths), width, delimiter)
        if best is None or score[:2] > best[:2]:
            best = score
    if best is None:
        raise SniffError(
            "no delimiter found: the file's rows do not split into columns on ',', ';', tab or '|'"
        )
    return best[2]


def _looks_like_header(cells: Sequence[str]) -> bool:
    filled = [c.strip() for c in cells if c is not None and str(c).strip()]
    if len(filled) * 2 < len(cells):
        return False
    texts = [c for c in filled if not NUMBER_OR_DATE.match(c)]
    return len(texts) * 2 > len(filled)


def filled_cells(row: Sequence[str | None]) -> int:
    """How many cells of `row` hold a value (not empty, not only spaces)."""
    return sum(1 for c in row if c is not None and str(c).strip())


def find_header_row(rows: Sequence[Sequence[str]], widths: Sequence[int] | None = None) -> int:
    """Index of the header among `rows` (the first rows of a file or sheet): the first row that
    fills at least as many cells as rows commonly do (a preamble line fills fewer; data rows may
    leave optional cells empty, so a header names as many or more), mostly with text, and that a
    row of about that many cells follows (the next row with a value: blank lines are not rows).
    Only when no row does, the header may leave its first cell empty, as pandas writes the
    header of its row index.

    `widths`, when given, are the `filled_cells` of every row of the file or sheet, of which
    `rows` need then be only the first `HEADER_SEARCH_ROWS` (a sheet read as a stream)."""
    if widths is None:
        widths = [filled_cells(row) for row in rows]
    non_empty = [w for w in widths if w]
    if not non_empty:
        raise SniffError("the file has no rows")
    width = Counter(non_empty).most_common(1)[0][0]

    def names_every_column(index: int) -> bool:
        return widths[index] >= width

    def names_all_but_the_first(index: int) -> bool:
        row = rows[index]
        return widths[index] == width - 1 and len(row) >= width and not str(row[0] or "").strip()

    for fills in (names_every_column, names_all_but_the_first):
        for index, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
            if not fills(index) or not _looks_like_header([str(c or "") for c in row]):
                continue
            following = next((w for w in widths[index + 1 :] if w), width)
            if following >= max(width - 1, 1):
                return index
    raise SniffError(
        f"no header row found in the first {HEADER_SEARCH_ROWS} rows: expected a row of "
        f"{width} column names followed by data"
    )


def detect_text_layout(sample: bytes) -> TextLayout:
    """Encoding, delimiter, preamble length and header of a delimited text file's sample."""
    for signature, (what, advice) in BINARY_SIGNATURES.items():
        if sample.startswith(signature):
            raise SniffError(f"{what}, not a CSV or text file: {advice}")
    encoding = detect_encoding(sample)
    text = decode_sample(sample, encoding)
    if not text.strip(" \t\r\n\ufeff"):
        raise SniffError("the file is empty")
    delimiter = detect_delimiter(text)
    lines = text.splitlines()
    rows = list(
        csv.reader(io.StringIO("\n".join(lines[: HEADER_SEARCH_ROWS + 1])), delimiter=delimiter)
    )
    header_index = find_header_row(rows)
    header = tuple(cell.strip().lstrip("\ufeff") for cell in rows[header_index])
    if header and not header[-1]:
        header = _without_trailing_delimiter(header, text, header_index, delimiter)
    # csv rows and physical lines coincide in a preamble (no quoted newlines before the header).
    return TextLayout(encoding, delimiter, header_index, header)


def _without_trailing_delimiter(
    header: tuple[str, ...], text: str, header_index: int, delimiter: str
) -> tuple[str, ...]:
    """The header without its unnamed last columns when no sampled row fills them.

    Some exports end every line with the delimiter. Read as a column of its own, that empty
    column would hide a row split in two by an unquoted `$1,000.00`: DuckDB's reader accepts one
    empty field past the last column, so the split row would fit and load `$1` as the spend.
    Without it, such a row has a field too many and goes to the quarantine. A column that rows
    of the header's width fill is data, not a trailing delimiter, and stays.
    """
    width = len(header)
    # Rows of the header's width only: a split row has more fields and proves nothing.
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    rows = [row for row in itertools.islice(reader, header_index + 1, None) if len(row) == width]
    while header and not header[-1]:
        position = len(header) - 1
        if any(row[position].strip() for row in rows):
            break
        header = header[:-1]
    return header
