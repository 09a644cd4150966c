"""Aggregated channel paths, and the common path file that carries them.

A path file is ChannelAttribution's aggregated format (reference/analytics.md §1.4): one line per
path, `path;total_conversions;total_conversion_value;total_null`, channels joined by `>`
(spaces around names are trimmed). A header row (those four names, as the first line that is not
blank) and a leading BOM are allowed, a field may be wrapped in double quotes (R's `write.csv2`
quotes every text field), blank lines are skipped, and a path that appears on several lines is
summed. Numbers have no thousands separator and `.` or `,` as the decimal mark (`10,5` as R's
`write.csv2` and a European Excel write it: in a `;`-separated file a comma separates no fields);
`1,000`, which a thousands separator would read as 1000, is refused as ambiguous. Anything else is
an error naming the line and the field.

`read_path_file` reads the file with Arrow's CSV reader and checks it column by column (Windows
line ends and plainly quoted fields included); a file it is not sure of (odd whitespace, quotes
or numbers, or any bad line) is read again line by line by `parse_path_lines`, so every error,
and every result, is the line reader's.
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

FIELD_SEPARATOR = ";"
CHANNEL_SEPARATOR = ">"
HEADER = ("path", "total_conversions", "total_conversion_value", "total_null")
# The Markov chain's own states (reference/analytics.md §1.4); a channel may not be named as one.
CHAIN_STATES = frozenset({"(start)", "(conversion)", "(null)"})
# A decimal comma followed by exactly three digits, after one to three digits not starting with
# 0: '1,000' is 1 with a decimal comma and 1000 with a thousands separator, so it is refused.
_AMBIGUOUS_COMMA = re.compile(r"[1-9][0-9]{0,2},[0-9]{3}")


def path_file_channel(name: str) -> str:
    """`name`, a non-empty channel name, as the path file's reader takes it back unchanged.

    Percent-encoding (RFC 3986: each UTF-8 byte as `%XX`) of what the file would read otherwise:
    `%` itself, the separators `>` and `;`, `"`, control characters (line ends, tabs) anywhere,
    whitespace at either end (the reader trims it), and the `(` of a name spelled as a state of
    the chain (`(null)` reads `%28null)`). Any other name, most of them, is unchanged. Two names
    never encode alike, and URL-decoding (DuckDB's `url_decode`, Python's `urllib.parse.unquote`)
    gives `name` back.
    """
    encoded = "".join(
        _percent(character)
        if character in '%>;"' or unicodedata.category(character) == "Cc"
        else character
        for character in name
    )
    start = len(encoded) - len(encoded.lstrip())
    end = len(encoded.rstrip())
    encoded = (
        "".join(map(_percent, encoded[:start]))
        + encoded[start:end]
        + "".join(map(_percent, encoded[max(start, end) :]))
    )
    return "%28" + encoded[1:] if encoded in CHAIN_STATES else encoded


def _percent(character: str) -> str:
    return "".join(f"%{byte:02X}" for byte in character.encode())


class PathFileError(ValueError):
    """A path file line that cannot be read; the message names the line and the reason."""


@dataclass(frozen=True)
class PathCounts:
    """Distinct channel paths with their conversions, conversion value and non-conversions.

    Path k's channels are `channels[touches[offsets[k]:offsets[k + 1]]]` in time order; every
    path has at least one touch. Arrays rather than objects so a million paths fit in numpy.
    """

    channels: tuple[str, ...]
    touches: np.ndarray
    offsets: np.ndarray
    conversions: np.ndarray
    value: np.ndarray
    nulls: np.ndarray

    @property
    def path_count(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def path_of_touch(self) -> np.ndarray:
        """For every touch, the index of its path."""
        return np.repeat(np.arange(self.path_count), self.lengths)

    def path(self, k: int) -> tuple[str, ...]:
        return tuple(self.channels[c] for c in self.touches[self.offsets[k] : self.offsets[k + 1]])

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[Sequence[str], float, float, float]]) -> PathCounts:
        """Aggregate (channels, conversions, value, nulls) rows; equal paths are summed."""
        totals: dict[tuple[str, ...], list[float]] = {}
        for channels, conversions, value, nulls in rows:
            key = tuple(channels)
            if not key:
                raise ValueError("a path needs at least one channel")
            total = totals.setdefault(key, [0.0, 0.0, 0.0])
            total[0] += conversions
            total[1] += value
            total[2] += nulls
        names = sorted({channel for path in totals for channel in path})
        ids = {name: number for number, name in enumerate(names)}
        paths = list(totals)
        lengths = np.fromiter((len(p) for p in paths), dtype=np.int64, count=len(paths))
        offsets = np.zeros(len(paths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        touches = np.fromiter(
            (ids[c] for p in paths for c in p), dtype=np.int64, count=int(offsets[-1])
        )
        sums = np.array(list(totals.values()), dtype=np.float64).reshape(len(paths), 3)
        return cls(tuple(names), touches, offsets, sums[:, 0], sums[:, 1], sums[:, 2])


def parse_path_lines(lines: Iterable[str]) -> PathCounts:
    """Read path-file lines (see the module docstring); raises PathFileError on a bad line."""
    rows = []
    header_allowed = True
    for number, raw in enumerate(lines, start=1):
        # Excel's "CSV UTF-8" starts the file with a BOM, which is no part of the first field.
        line = (raw.removeprefix("\ufeff") if number == 1 else raw).strip()
        if not line:
            continue
        fields = _fields(number, line)
        if header_allowed and tuple(f.lower() for f in fields) == HEADER:
            header_allowed = False
            continue
        path, *counts = fields
        channels = [channel.strip() for channel in path.split(CHANNEL_SEPARATOR)]
        if not path:
            raise PathFileError(
                f"line {number}: the path is empty; it credits no channel, so leave the line out"
            )
        if not all(channels):
            raise PathFileError(f"line {number}: path {path!r} has an empty channel name")
        if states := CHAIN_STATES.intersection(channels):
            raise PathFileError(
                f"line {number}: {min(states)!r} is a state of the Markov chain, not a channel; "
                "leave it out (a path's non-conversions go in total_null)"
            )
        numbers = [_count(number, n, text, header_allowed) for n, text in enumerate(counts, 1)]
        rows.append((channels, *numbers))
        header_allowed = False
    if not rows:
        raise PathFileError("the path file holds no paths")
    return _with_finite_totals(PathCounts.from_rows(rows))


def _with_finite_totals(paths: PathCounts) -> PathCounts:
    """`paths`, once its totals (which the models add up) are known to be finite numbers."""
    with np.errstate(over="ignore"):  # an overflow is the error below, not a printed warning
        totals = {
            "total_conversions": paths.conversions.sum(),
            "total_conversion_value": paths.value.sum(),
            "total_null": paths.nulls.sum(),
            "total_conversions and total_null": (paths.conversions + paths.nulls).sum(),
        }
    for name, total in totals.items():
        if not np.isfinite(total):
            raise PathFileError(f"the {name} add up to more than a number can hold")
    return paths


def _fields(number: int, line: str) -> list[str]:
    """The line's four trimmed fields, double quotes around a field removed (CSV quoting)."""
    if '"' in line:
        quoted = csv.reader([line], delimiter=FIELD_SEPARATOR, skipinitialspace=True)
        fields = [field.strip() for field in next(quoted)]
    else:  # the same split, without the csv module's cost on every line of a large file
        fields = [field.strip() for field in line.split(FIELD_SEPARATOR)]
    if len(fields) == len(HEADER):
        return fields
    hint = ""
    if len(fields) == 1:
        for separator, name in (("\t", "tab"), (",", "comma")):
            if separator in line:
                hint = f"; the line looks {name}-separated, but fields are separated by ';'"
                break
    raise PathFileError(
        f"line {number}: expected 4 fields separated by ';' "
        f"({';'.join(HEADER)}), found {len(fields)}{hint}"
    )


def _count(line: int, column: int, text: str, first: bool = False) -> float:
    """A finite, non-negative number of field `column`; its decimal mark is `.` or one `,`."""
    if _AMBIGUOUS_COMMA.fullmatch(text):
        raise PathFileError(
            f"line {line}: {HEADER[column]} {text!r} is ambiguous: ',' could be a decimal mark "
            "or a thousands separator; write the number without a thousands separator, "
            "or with '.' as the decimal mark"
        )
    try:
        # float() also reads digit groups ('1_000') and non-ASCII digits; a count is neither.
        if "_" in text or not text.isascii():
            raise ValueError(text)
        value = float(_with_decimal_point(text))
    except ValueError:
        if any(mark in text for mark in ",'_ "):
            reason = (
                "is not a number: use '.' or ',' as the decimal mark and no thousands separator"
            )
        elif first:
            reason = f"is not a number (a header row reads {';'.join(HEADER)})"
        else:
            reason = "is not a number"
        raise PathFileError(f"line {line}: {HEADER[column]} {text!r} {reason}") from None
    if not math.isfinite(value) or value < 0:
        raise PathFileError(f"line {line}: {HEADER[column]} {text!r} must be a finite number ≥ 0")
    return value


def _with_decimal_point(text: str) -> str:
    """`text` with its decimal comma as a point: '10,5' is '10.5'. Text holding a '.' as well,
    or several commas ('1.234,5', '1,234.5', '1,234,567'), is returned as is: float() refuses it."""
    if "." in text or text.count(",") != 1:
        return text
    return text.replace(",", ".")


def read_path_file(path: Path) -> PathCounts:
    """Parse the path file at `path` (UTF-8): columnar when it is plain, else line by line."""
    data = path.read_bytes()
    fast = _read_plain_path_file(data)
    if fast is not None:
        return _with_finite_totals(fast)
    # newline=None reads line ends as a text-mode file does ("\r\n" and "\r" end a line).
    return parse_path_lines(io.StringIO(_utf8_text(data), newline=None))


def _utf8_text(data: bytes) -> str:
    """The file's text; a PathFileError naming the line when it is not UTF-8."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise PathFileError("the file is UTF-16 text; save it as UTF-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise PathFileError(
            f"line {line} is not UTF-8 text (byte {data[error.start]:#04x}); save the file as UTF-8"
        ) from None


# Characters on which Arrow and the line reader could part ways, UTF-8 encoded: a BOM (Arrow drops
# it) and every whitespace str.strip() removes but the columnar trim below (spaces and tabs) does
# not. Both readers end a line at "\n", "\r\n" and "\r", and double quotes are `_unquoted`.
_UNSURE_CHARACTERS = tuple(
    character.encode()
    for character in "\x0b\x0c\x1c\x1d\x1e\x1f\ufeff\x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000"
    + "".join(map(chr, range(0x2000, 0x200B)))
)
# Their first bytes: a file with none of these has none of them (one numpy pass, not 28 searches).
_UNSURE_FIRST_BYTE = np.zeros(256, dtype=bool)
_UNSURE_FIRST_BYTE[[encoded[0] for encoded in _UNSURE_CHARACTERS]] = True
# A count the fast path takes: plain non-negative decimal, '.' or ',' its mark, optional exponent.
_PLAIN_NUMBER = r"^([0-9]+[.,]?[0-9]*|[.,][0-9]+)([eE][+-]?[0-9]+)?$"
_BLANKS = " \t"


def _has_unsure_characters(data: bytes) -> bool:
    """Whether `data` holds one of `_UNSURE_CHARACTERS`."""
    if not _UNSURE_FIRST_BYTE[np.frombuffer(data, dtype=np.uint8)].any():
        return False
    return any(encoded in data for encoded in _UNSURE_CHARACTERS)


def _read_plain_path_file(data: bytes) -> PathCounts | None:
    """The path file's paths when every line is plainly valid, else None (read it line by line).

    Same result as `parse_path_lines`: paths in order of first appearance, channels sorted,
    duplicate lines summed in file order.
    """
    if not data.strip() or _has_unsure_characters(data):
        return None
    try:
        table = pa_csv.read_csv(
            pa.BufferReader(data),
            read_options=pa_csv.ReadOptions(column_names=list(HEADER)),
            parse_options=pa_csv.ParseOptions(
                delimiter=FIELD_SEPARATOR, quote_char=False, escape_char=False
            ),
            convert_options=pa_csv.ConvertOptions(
                column_types={name: pa.string() for name in HEADER}
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError):
        return None
    columns = [table[name].combine_chunks() for name in HEADER]
    if b'"' in data:
        unquoted = [_unquoted(column, first=n == 0) for n, column in enumerate(columns)]
        if any(column is None for column in unquoted):
            return None
        columns = unquoted
    columns = [pc.utf8_trim(column, _BLANKS) for column in columns]
    if [c[0].as_py().lower() for c in columns] == list(HEADER):
        columns = [column[1:] for column in columns]
    if len(columns[0]) == 0:
        return None
    counts = []
    for column in columns[1:]:
        if not pc.all(pc.match_substring_regex(column, _PLAIN_NUMBER)).as_py():
            return None
        if pc.any(pc.match_substring(column, ",")).as_py():
            if pc.any(pc.match_substring_regex(column, f"^{_AMBIGUOUS_COMMA.pattern}$")).as_py():
                return None
            column = pc.replace_substring(column, ",", ".")
        try:
            number = pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)
        except pa.ArrowInvalid:
            return None
        if not np.isfinite(number).all():
            return None
        counts.append(number)
    split = pc.split_pattern(columns[0], CHANNEL_SEPARATOR)
    touches = pc.utf8_trim(split.flatten(), _BLANKS)
    if not pc.all(pc.greater(pc.utf8_length(touches), 0)).as_py():
        return None
    lengths = pc.list_value_length(split)
    line_offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths.to_numpy(), out=line_offsets[1:])
    # One key per line: its trimmed channels rejoined, so "a > b" and "a>b" are one path.
    keys = pc.binary_join(
        pa.LargeListArray.from_arrays(pa.array(line_offsets), touches), CHANNEL_SEPARATOR
    )
    path_of_line = pc.dictionary_encode(keys).indices.to_numpy()
    path_count = int(path_of_line.max()) + 1
    sums = [np.bincount(path_of_line, weights=c, minlength=path_count) for c in counts]
    _, first_line = np.unique(path_of_line, return_index=True)
    names = sorted(pc.unique(touches).to_pylist())
    if CHAIN_STATES.intersection(names):
        return None
    touch_ids = pc.index_in(touches, value_set=pa.array(names, pa.string())).to_numpy()
    starts, ends = line_offsets[first_line], line_offsets[first_line + 1]
    offsets = np.zeros(path_count + 1, dtype=np.int64)
    np.cumsum(ends - starts, out=offsets[1:])
    picked = np.repeat(starts - offsets[:-1], ends - starts) + np.arange(offsets[-1])
    return PathCounts(
        tuple(names), touch_ids[picked].astype(np.int64), offsets, sums[0], sums[1], sums[2]
    )


def _unquoted(column: pa.Array, *, first: bool) -> pa.Array | None:
    """The fields of `column` (as split at every ';') with CSV double quotes removed, as the line
    reader's csv module removes them; None when a field holds a quote it might read otherwise.

    A quoted field is `"text"` without quotes inside, after any blanks the line reader drops
    before it (its line's leading whitespace for the first field, `skipinitialspace` spaces for
    the others), and followed by blanks only. A `;` or a line end inside quotes splits the
    field here, leaving a lone quote, so such a file, like one with `""` escapes, goes line by
    line.
    """
    with_quote = pc.match_substring(column, '"')
    if not pc.any(with_quote).as_py():
        return column
    if (
        pc.all(with_quote).as_py()
        and pc.min(pc.binary_length(column)).as_py() >= 2
        and pc.all(pc.and_(pc.starts_with(column, '"'), pc.ends_with(column, '"'))).as_py()
    ):  # every field "text", as R writes text: what the pattern below gives, without a regex
        column = pc.utf8_slice_codeunits(column, 1, -1)
    else:
        pattern = r'^[ \t]*"([^"]*)"[ \t]*$' if first else r'^ *"([^"]*)"[ \t]*$'
        fields = pc.replace_substring_regex(pc.filter(column, with_quote), pattern, r"\1")
        column = pc.replace_with_mask(column, with_quote, fields)
    return None if pc.any(pc.match_substring(column, '"')).as_py() else column


@dataclass(frozen=True)
class ChannelCredit:
    """What a model credits one channel with: conversions and conversion value (and, for Markov,
    the channel's removal effect)."""

    channel: str
    conversions: float
    value: float
    removal_effect: float | None = None


def channel_credits(
    paths: PathCounts,
    conversions: np.ndarray,
    value: np.ndarray,
    removal_effects: np.ndarray | None = None,
) -> list[ChannelCredit]:
    """Per-channel arrays (indexed like `paths.channels`) as credits, largest first."""
    credits = [
        ChannelCredit(
            channel=name,
            conversions=float(conversions[i]),
            value=float(value[i]),
            removal_effect=None if removal_effects is None else float(removal_effects[i]),
        )
        for i, name in enumerate(paths.channels)
    ]
    return sorted(credits, key=lambda credit: (-credit.conversions, credit.channel))
