"""Date and number formats of an uploaded column, decided over the whole column, and the SQL that
turns a cell's text into a value or a reason it cannot.

Dates (the part before a time of day, if any):

- year first (`2026-11-21`, `2026/11/21`, `2026.11.21`): unambiguous;
- day and month as numbers (`21/11/2026`, `11/21/26`, `21.11.2026`): **day first** when some value
  of the column has a first number above 12, **month first** when some value has a second number
  above 12; when both happen, the order with more such values wins and the others are
  quarantined. When no value of the whole column decides (every day ≤ 12), dates written with
  dots are day first (no locale writes month.day.year); otherwise the file's locale decides: day
  first if the file uses a decimal comma or `;` as delimiter (European exports), month first
  otherwise (US). A mapping file's `date_format` overrides all of this.
- month names (`21 Nov 2026`, `Nov 21, 2026`, `21-Nov-2026`): the format most values match;
- Excel serial numbers (`46347`, `46347.5`): days since 1899-12-30 (Excel's 1900 date system,
  which counts the fictitious 1900-02-29; serials from 1900-03-01 on are right).
- Unix time (`1733480000`, `1733480000123`, optionally a fraction): 9 or 10 digits are seconds
  since 1970-01-01 UTC, 12 or 13 digits milliseconds (decided by magnitude: below 10^11 is
  seconds, 10^11 seconds being the year 5138); the instant must lie from 1970-01-01 to
  2100-01-01. Each value is read by its own magnitude, so a column may mix the two. Any other run
  of six or more digits (`20261103`, `17334800001`) is refused as a Unix time out of range, never
  read as a date.

Numbers (money, counts): spaces, non-breaking spaces and apostrophes used as thousands
separators are dropped, a currency symbol or ISO code before or after the number is taken off
(and kept as the row's currency), `(12.50)` is negative. The decimal separator is decided per
column: a comma followed by one, two or four-plus digits at the end, or `1.234,5` groups, mean a
decimal comma; the same patterns with the roles swapped mean a decimal point; with no evidence
(`1,234` only), the file's locale decides as for dates. A value that does not fit the decided
pattern is quarantined.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import duckdb

SPACES = r"[\s\x{00a0}\x{202f}'’]"
CURRENCY_TOKEN = r"(US\$|CA\$|C\$|AU\$|A\$|NZ\$|€|£|¥|₹|\$|[A-Z]{3})"
GROUPED_SYMBOLS = "$€£¥₹"
"""One-character symbols in front of a number: taken off without a regular expression."""


def leading_symbol_sql(text: str) -> str:
    """TRUE when `text` starts with one of `GROUPED_SYMBOLS`. Not an `IN` list: DuckDB turns
    one into a join over every row, even inside a CASE branch that few rows reach."""
    return f"(contains({quote(GROUPED_SYMBOLS)}, left({text}, 1)) AND {text} <> '')"


SERIAL_PATTERN = r"\d{5}(\.\d+)?"
UNIX_TIME_PATTERN = r"(\d{9,10}|\d{12,13})(\.\d+)?"
LONG_NUMBER_PATTERN = r"\d{6,}(\.\d+)?"
"""Digits no date format writes: refused as a Unix time out of range when not one."""
UNIX_MILLISECONDS_FROM = 10**11
"""A Unix time at or above this is in milliseconds, below it in seconds."""
UNIX_TIME_LATEST_SECONDS = 4_102_444_800
"""2100-01-01T00:00:00Z: the latest instant a Unix time may name (the earliest is 1970-01-01)."""
UNIX_TIME_REFUSAL = (
    "Unix time out of range (seconds below 10^11, else milliseconds; 1970-01-01 to 2100-01-01)"
)
YMD_PATTERN = r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}"
DAY_MONTH_PATTERN = r"\d{1,2}[-/.]\d{1,2}[-/.](\d{4}|\d{2})"
TIME_SUFFIX = r"[T ]\d{1,2}:\d{2}.*$"
DOLLAR_CURRENCIES = frozenset({"USD", "CAD", "AUD", "NZD", "SGD", "HKD", "MXN"})
SYMBOL_CURRENCY = {
    "US$": "USD",
    "CA$": "CAD",
    "C$": "CAD",
    "AU$": "AUD",
    "A$": "AUD",
    "NZ$": "NZD",
    "€": "EUR",
    "£": "GBP",
    "¥": "JPY",
    "₹": "INR",
}
TEXT_MONTH_FORMATS = ("%d %b %Y", "%b %d, %Y", "%d-%b-%Y", "%B %d, %Y", "%d %B %Y", "%b %d %Y")


class DateFamily(StrEnum):
    """How a column writes its dates."""

    FORMAT = "format"
    """A strptime format (year first, day/month numbers, month names)."""
    EXCEL_SERIAL = "excel_serial"
    UNIX_TIME = "unix_time"
    """Seconds or milliseconds since 1970-01-01 UTC, by magnitude (`unix_time_sql`)."""


@dataclass(frozen=True)
class DateFormat:
    """A date column's decided format; `reason` explains the choice (kept in the load report)."""

    family: DateFamily
    strptime: str | None
    reason: str

    def describe(self) -> str:
        if self.family is DateFamily.UNIX_TIME:
            return "Unix time (seconds or milliseconds)"
        return self.strptime or "Excel serial number"

    @property
    def day_month_separator(self) -> str | None:
        """The separator of a numeric day/month format (`%d/%m/%Y` → `/`), None for the others:
        only those formats have an order that the whole column may decide differently."""
        if self.strptime and self.strptime[:2] in ("%d", "%m"):
            return self.strptime[2]
        return None


def quote(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def date_part_sql(text: str) -> str:
    """`text` (trimmed, non-empty) without a time of day."""
    return (
        f"CASE WHEN contains({text}, ':') THEN regexp_replace({text}, {quote(TIME_SUFFIX)}, '') "
        f"ELSE {text} END"
    )


def decide_date_format(
    connection: duckdb.DuckDBPyConnection,
    sample: str,
    relation: str,
    text: str,
    *,
    day_first_hint: bool,
) -> DateFormat | None:
    """The format of every date in column `text` (trimmed cells) of `relation`, or None if empty.

    The family and separator come from `sample`; the day/month order is decided by counting
    values above 12 in `relation`. A load passes its sample for both first; when it rechecks a
    column (`convert.recheck`), `relation` is every row, and so is `sample` when refused values
    were of another family.
    """
    part = date_part_sql(text)
    stats = connection.execute(
        f"""
        SELECT
            count(d),
            count(*) FILTER (WHERE regexp_full_match(d, '\\d{{4}}[-/.]\\d{{1,2}}[-/.]\\d{{1,2}}')),
            count(*) FILTER (WHERE regexp_full_match(d, '\\d{{1,2}}[-/.]\\d{{1,2}}[-/.](\\d{{4}}|\\d{{2}})')),
            count(*) FILTER (WHERE regexp_full_match(d, {quote(SERIAL_PATTERN)})),
            count(*) FILTER (WHERE regexp_full_match(d, {quote(UNIX_TIME_PATTERN)})),
            count(*) FILTER (WHERE regexp_matches(d, '[A-Za-z]{{3}}') AND regexp_matches(d, '[0-9]')),
            mode(regexp_extract(d, '^\\d{{4}}([-/.])', 1)) FILTER (WHERE regexp_matches(d, '^\\d{{4}}[-/.]')),
            mode(regexp_extract(d, '^\\d{{1,2}}([-/.])', 1)) FILTER (WHERE regexp_matches(d, '^\\d{{1,2}}[-/.]')),
            mode(length(regexp_extract(d, '[-/.](\\d+)$', 1))) FILTER (WHERE regexp_matches(d, '^\\d{{1,2}}[-/.]'))
        FROM (SELECT {part} AS d FROM {sample} WHERE {text} IS NOT NULL)
        """
    ).fetchone()
    assert stats is not None
    total, ymd, numeric_dm, serial, unix, text_month, ysep, dsep, ylen = stats
    if not total:
        return None
    family = max(
        (ymd, "ymd"), (numeric_dm, "dm"), (serial, "serial"), (unix, "unix"), (text_month, "text")
    )[1]
    if family == "unix":
        return DateFormat(DateFamily.UNIX_TIME, None, "9-10 or 12-13 digits: Unix time")
    if family == "ymd":
        sep = ysep or "-"
        return DateFormat(DateFamily.FORMAT, f"%Y{sep}%m{sep}%d", "year first")
    if family == "serial":
        return DateFormat(DateFamily.EXCEL_SERIAL, None, "five-digit numbers: Excel serials")
    if family == "text":
        return _decide_text_month(connection, sample, text, part)
    year = "%Y" if (ylen or 4) == 4 else "%y"
    sep = dsep or "/"
    first_gt12, second_gt12 = day_month_counts(connection, relation, text, sep)
    day_first, why = day_month_order(
        first_gt12, second_gt12, day_first_hint=day_first_hint, dotted=sep == "."
    )
    order = f"%d{sep}%m{sep}{year}" if day_first else f"%m{sep}%d{sep}{year}"
    return DateFormat(DateFamily.FORMAT, order, why)


def same_family_sql(text: str, fmt: DateFormat) -> str:
    """TRUE when the trimmed cell is written in `fmt`'s family (year first, day and month as
    numbers, an Excel serial, month names), whether or not it is a valid date of it."""
    part = date_part_sql(text)
    if fmt.family is DateFamily.EXCEL_SERIAL:
        return f"regexp_full_match({part}, {quote(SERIAL_PATTERN)})"
    if fmt.family is DateFamily.UNIX_TIME:
        return f"regexp_full_match({text}, {quote(UNIX_TIME_PATTERN)})"
    if fmt.strptime and fmt.strptime.startswith("%Y"):
        return f"regexp_full_match({part}, {quote(YMD_PATTERN)})"
    if fmt.day_month_separator:
        return f"regexp_full_match({part}, {quote(DAY_MONTH_PATTERN)})"
    return f"regexp_matches({part}, '[A-Za-z]{{3}}')"


def day_month_counts(
    connection: duckdb.DuckDBPyConnection, relation: str, text: str, sep: str
) -> tuple[int, int]:
    """How many values of column `text` in `relation` have a first, and a second, number above 12."""
    counts = connection.execute(
        f"""
        SELECT count(*) FILTER (WHERE TRY_CAST(split_part({text}, {quote(sep)}, 1) AS INTEGER) > 12),
               count(*) FILTER (WHERE TRY_CAST(split_part({text}, {quote(sep)}, 2) AS INTEGER) > 12)
        FROM {relation}
        """
    ).fetchone()
    assert counts is not None
    return counts[0], counts[1]


def day_month_order(
    first_gt12: int, second_gt12: int, *, day_first_hint: bool, dotted: bool = False
) -> tuple[bool, str]:
    """(day first?, why) from the counts of values with a first/second number above 12; when
    they do not decide, `dotted` dates (`01.03.2026`: no locale writes month.day) are day first,
    others follow the file's locale."""
    if first_gt12 > second_gt12:
        return True, f"{first_gt12} value(s) have a first number above 12"
    if second_gt12 > first_gt12:
        return False, f"{second_gt12} value(s) have a second number above 12"
    if dotted:
        return True, "no value has a number above 12; dates written with dots are day first"
    return day_first_hint, "no value has a number above 12; " + (
        "the file's European locale (decimal comma or ';') means day first"
        if day_first_hint
        else "the file's US locale means month first"
    )


def _decide_text_month(
    connection: duckdb.DuckDBPyConnection, relation: str, text: str, part: str
) -> DateFormat:
    counts = ", ".join(f"count(try_strptime(d, {quote(f)}))" for f in TEXT_MONTH_FORMATS)
    row = connection.execute(
        f"SELECT {counts} FROM (SELECT {part} AS d FROM {relation} WHERE {text} IS NOT NULL)"
    ).fetchone()
    assert row is not None
    best = max(range(len(TEXT_MONTH_FORMATS)), key=lambda i: row[i])
    return DateFormat(DateFamily.FORMAT, TEXT_MONTH_FORMATS[best], "month names")


DATE_DIRECTIVES = frozenset({"%d", "%m", "%Y", "%y", "%b", "%B"})


def date_value_sql(text: str, fmt: DateFormat, *, first_try: bool = False) -> str:
    """SQL DATE of the trimmed cell `text` under the decided format; NULL when it does not parse.

    `first_try`: the cell is read again this way when this gives NULL (the fast path on the raw
    cell), so a format of day, month and year only may skip taking a time of day off first
    (`contains` on every cell, 0.03 CPU-s at 1.5 M rows): `strptime` refuses the trailing time
    and the second reading takes it off."""
    if fmt.family is DateFamily.UNIX_TIME:
        return f"CAST({unix_time_sql(text)} AS DATE)"
    dated_only = set(re.findall("%.", fmt.strptime or "")) <= DATE_DIRECTIVES
    part = text if first_try and dated_only and fmt.strptime else date_part_sql(text)
    if fmt.family is DateFamily.EXCEL_SERIAL:
        return (
            f"CASE WHEN regexp_full_match({part}, {quote(SERIAL_PATTERN)}) THEN "
            f"DATE '1899-12-30' + CAST(floor(CAST({part} AS DOUBLE)) AS INTEGER) END"
        )
    parsed = f"CAST(try_strptime({part}, {quote(fmt.strptime or '')}) AS DATE)"
    if fmt.strptime == "%Y-%m-%d":  # DuckDB's own ISO date cast is the fast path
        return f"COALESCE(TRY_CAST({text} AS DATE), {parsed})"
    return parsed


def unix_time_sql(text: str) -> str:
    """SQL TIMESTAMPTZ of a cell holding a Unix time (module docstring: seconds below 10^11, else
    milliseconds); NULL for any other cell and for an instant outside 1970–2100."""
    number = f"TRY_CAST({text} AS DOUBLE)"
    seconds = (
        f"CASE WHEN {number} < {UNIX_MILLISECONDS_FROM} THEN {number} ELSE {number} / 1000 END"
    )
    return (
        f"CASE WHEN regexp_full_match({text}, {quote(UNIX_TIME_PATTERN)}) "
        f"AND {seconds} <= {UNIX_TIME_LATEST_SECONDS} THEN to_timestamp({seconds}) END"
    )


def timestamp_value_sql(text: str, fmt: DateFormat | None) -> str:
    """SQL TIMESTAMPTZ of the trimmed cell: ISO 8601 (offset optional, also after a space as
    Shopify writes it, `2026-11-03 14:22:05 -0500`; without one, the session's timezone, which the
    loader sets to the workspace's), a Unix time, else the column's date format plus an optional
    `HH:MM[:SS]` time of day."""
    spaced_offset = f"regexp_replace({text}, '\\s+([+-]\\d{{2}}:?\\d{{2}})$', '\\1')"
    iso = (
        f"COALESCE(TRY_CAST({text} AS TIMESTAMPTZ), "
        f"TRY_CAST({spaced_offset} AS TIMESTAMPTZ), {unix_time_sql(text)})"
    )
    if fmt is None or fmt.family is DateFamily.UNIX_TIME:
        return iso
    day = date_value_sql(text, fmt)
    clock = (
        f"COALESCE(TRY_CAST(regexp_extract({text}, '(\\d{{1,2}}:\\d{{2}}(:\\d{{2}})?)', 1) "
        "AS TIME), TIME '00:00:00')"
    )
    return f"COALESCE({iso}, CAST({day} + {clock} AS TIMESTAMPTZ))"


def bare_number_sql(text: str) -> str:
    """The cell without spaces and apostrophes (plain `replace`s, no regular expression, because
    this runs for every value that is not already a plain number)."""
    bare = text
    for separator in (" ", "\u00a0", "\u202f", "'", "’"):
        bare = f"replace({bare}, {quote(separator)}, '')"
    return bare


def cleaned_number_sql(bare: str) -> str:
    """A cell without spaces and apostrophes (`bare_number_sql`, its own level of the query: an
    expression written out four times here made DuckDB's planning of each query that cleans
    numbers take milliseconds longer) without its currency symbol or code."""
    return (
        f"CASE WHEN {leading_symbol_sql(bare)} AND NOT contains({bare}[2:], '$') "
        f"THEN {bare}[2:] ELSE regexp_replace({bare}, {quote(CURRENCY_TOKEN)}, '', 'g') END"
    )


def signed_number_sql(cleaned: str) -> str:
    """A cleaned cell with accounting signs made plain: `(12.5)` and `12.5-` become `-12.5`."""
    return (
        f"CASE WHEN starts_with({cleaned}, '(') AND ends_with({cleaned}, ')') "
        f"THEN '-' || {cleaned}[2:-2] "
        f"WHEN ends_with({cleaned}, '-') THEN '-' || {cleaned}[:-2] ELSE {cleaned} END"
    )


def currency_symbol_sql(text: str) -> str:
    """The currency symbol or code written in the trimmed cell, '' when none (plain numbers skip
    the regular expression)."""
    return (
        f"CASE WHEN TRY_CAST({text} AS DOUBLE) IS NOT NULL THEN '' "
        f"WHEN {leading_symbol_sql(text)} THEN left({text}, 1) "
        f"ELSE regexp_extract({text}, {quote(CURRENCY_TOKEN)}, 1) END"
    )


def currency_code_sql(symbol_sql: str, workspace_currency: str) -> str:
    """ISO code for a symbol: `€` → EUR; `$` is the workspace's currency when that is a dollar
    currency, else USD; a three-letter code is kept; '' → NULL."""
    dollar = workspace_currency if workspace_currency in DOLLAR_CURRENCIES else "USD"
    cases = " ".join(f"WHEN {quote(s)} THEN {quote(c)}" for s, c in SYMBOL_CURRENCY.items())
    return (
        f"CASE {symbol_sql} WHEN '' THEN NULL WHEN '$' THEN {quote(dollar)} {cases} "
        f"ELSE {symbol_sql} END"
    )


COMMA_DECIMAL = r",\d{1,2}$|,\d{4,}$|\.\d{3},|\.\d{3}\.\d{3}"
POINT_DECIMAL = r"\.\d{1,2}$|\.\d{4,}$|,\d{3}\.|,\d{3},\d{3}"


def decide_decimals(
    connection: duckdb.DuckDBPyConnection, sample: str, texts: Sequence[str]
) -> dict[str, str | None]:
    """For each column in `texts`: ',' or '.' when its values in `sample` (a random sample of the
    rows) show it, None when no value decides. One scan of the sample for all columns."""
    if not texts:
        return {}
    # In levels, each value's cleaning computed once and only for values that are not plain
    # numbers (`12.5`: decimal-point evidence without cleaning).
    plain = [
        f"TRY_CAST({t} AS DOUBLE) IS NOT NULL AND NOT contains({t}, ',') AS _plain{i}"
        for i, t in enumerate(texts)
    ]
    bare = [
        f"CASE WHEN NOT _plain{i} THEN {bare_number_sql(t)} END AS _b{i}"
        for i, t in enumerate(texts)
    ]
    cleaned = [f"{cleaned_number_sql(f'_b{i}')} AS _k{i}" for i in range(len(texts))]
    signed = [f"{signed_number_sql(f'_k{i}')} AS _s{i}" for i in range(len(texts))]
    relation = f"(SELECT *, {', '.join(plain)} FROM {sample})"
    for level in (bare, cleaned, signed):
        relation = f"(SELECT *, {', '.join(level)} FROM {relation})"
    counts = []
    for index, text in enumerate(texts):
        counts.append(
            f"count(*) FILTER (WHERE NOT _plain{index} "
            f"AND regexp_matches(_s{index}, {quote(COMMA_DECIMAL)}))"
        )
        counts.append(
            f"count(*) FILTER (WHERE CASE WHEN _plain{index} "
            f"THEN regexp_matches({text}, {quote(POINT_DECIMAL)}) "
            f"ELSE regexp_matches(_s{index}, {quote(POINT_DECIMAL)}) END)"
        )
    row = connection.execute(f"SELECT {', '.join(counts)} FROM {relation}").fetchone()
    assert row is not None
    decided: dict[str, str | None] = {}
    for index, text in enumerate(texts):
        comma, point = row[2 * index], row[2 * index + 1]
        decided[text] = None if comma == point == 0 else ("," if comma > point else ".")
    return decided


def plain_number_sql(text: str, decimal: str) -> str:
    """DECIMAL of a cell that is already a plain number (`1234.5`, or `1234,5` in a
    decimal-comma column), NULL for anything else; the fast path before cleaning."""
    if decimal == ",":
        return (
            f"CASE WHEN NOT contains({text}, '.') "
            f"THEN TRY_CAST(replace({text}, ',', '.') AS DECIMAL(20, 6)) END"
        )
    return f"TRY_CAST({text} AS DECIMAL(20, 6))"


def cleaned_value_sql(cleaned: str, decimal: str) -> str:
    """DECIMAL of a cleaned cell (`cleaned_number_sql`) that fits the decided separators."""
    if decimal == ",":
        pattern = r"[-+]?(\d{1,3}(\.\d{3})+|\d+)(,\d+)?"
        number = f"replace(replace({cleaned}, '.', ''), ',', '.')"
    else:
        pattern = r"[-+]?((\d{1,3}(,\d{3})+|\d+)(\.\d+)?|\.\d+)"
        number = f"replace({cleaned}, ',', '')"
    return (
        f"CASE WHEN regexp_full_match({cleaned}, {quote(pattern)}) "
        f"THEN TRY_CAST({number} AS DECIMAL(20, 6)) END"
    )


def grouped_shape_sql(text: str, decimal: str) -> str:
    """TRUE when the trimmed cell is written `[symbol]1,234.56`: at most one leading one-character
    symbol, digits in thousands groups (or none), the column's decimal separator. This is how most
    exports write money; such a cell is parsed by `grouped_number_sql` with one regular
    expression, and gives exactly what the general cleaning would."""
    group, point = (r"\.", ",") if decimal == "," else (",", r"\.")
    leading = "[" + re.escape(GROUPED_SYMBOLS) + "]?"
    pattern = leading + r"\d{1,3}(" + group + r"\d{3})*(" + point + r"\d+)?"
    return f"regexp_full_match({text}, {quote(pattern)})"


def grouped_number_sql(text: str, decimal: str) -> str:
    """DECIMAL of a cell of the grouped shape (`grouped_shape_sql` holds): the leading symbol, if
    any, is its first character (a code point that is not a digit); `replace` then drops the
    thousands separators and makes a decimal comma a point. (`translate` with the symbols gave
    the same and cost four times as much: a third of a CPU-second on a 100 MiB file; the slice
    `text[2:]` costs twice what `substr` does, 0.07 CPU-s more on it.)"""
    digits = f"CASE WHEN ascii({text}) BETWEEN 48 AND 57 THEN {text} ELSE substr({text}, 2) END"
    if decimal == ",":
        number = f"replace(replace({digits}, '.', ''), ',', '.')"
    else:
        number = f"replace({digits}, ',', '')"
    return f"TRY_CAST({number} AS DECIMAL(20, 6))"


def grouped_symbol_sql(text: str) -> str:
    """The currency symbol of a cell of the grouped shape: its first character or '' (read as
    a code point, no substring)."""
    cases = " ".join(f"WHEN {ord(s)} THEN {quote(s)}" for s in GROUPED_SYMBOLS)
    return f"CASE ascii({text}) {cases} ELSE '' END"


def mostly_decorated(
    connection: duckdb.DuckDBPyConnection, sample: str, texts: Sequence[str]
) -> dict[str, bool]:
    """For each number column in `texts`: whether most of its values in `sample` are not plain
    numbers (a currency symbol, thousands separators). Those columns try the grouped shape first,
    so a failing plain cast is not paid on every row; the value is the same either way."""
    if not texts:
        return {}
    counts = ", ".join(
        f"count({t}), count(*) FILTER (WHERE TRY_CAST({t} AS DOUBLE) IS NULL)" for t in texts
    )
    row = connection.execute(f"SELECT {counts} FROM {sample}").fetchone()
    assert row is not None
    return {t: row[2 * i + 1] * 2 > row[2 * i] for i, t in enumerate(texts)}
