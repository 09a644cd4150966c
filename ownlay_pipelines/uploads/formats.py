"""Date and number formats of an uploaded column, decided over the whole column, and the SQL that
turns a cell's text into a value or a reason it cannot.

Dates (the part before a time of day, if any):

- year first (`2026-11-21`, `2026/11/21`, `2026.11.21`): unambiguous;
- day and month as numbers (`21/11/2026`, `11/21/26`, `21.11.2026`): **day first** when some value
  of the column has a first number above 12, **month first** when some value has a second number
  above 12; when both happen, the order with more such values wins and the others are
  quarantined. When no value of the whole column decides (every day ≤ 12), the file's locale
  decides: day first if the file uses a decimal comma or `;` as delimiter (European exports),
  month first otherwise (US). A mapping file's `date_format` overrides all of this.
- month names (`21 Nov 2026`, `Nov 21, 2026`, `21-Nov-2026`): the format most values match;
- Excel serial numbers (`46347`, `46347.5`): days since 1899-12-30 (Excel's 1900 date system,
  which counts the fictitious 1900-02-29; serials from 1900-03-01 on are right).

Numbers (money, counts): spaces, non-breaking spaces and apostrophes used as thousands
separators are dropped, a currency symbol or ISO code before or after the number is taken off
(and kept as the row's currency), `(12.50)` is negative. The decimal separator is decided per
column: a comma followed by one, two or four-plus digits at the end, or `1.234,5` groups, mean a
decimal comma; the same patterns with the roles swapped mean a decimal point; with no evidence
(`1,234` only), the file's locale decides as for dates. A value that does not fit the decided
pattern is quarantined.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import duckdb

SPACES = r"[\s\x{00a0}\x{202f}'’]"
CURRENCY_TOKEN = r"(US\$|CA\$|C\$|AU\$|A\$|NZ\$|€|£|¥|₹|\$|[A-Z]{3})"
SERIAL_PATTERN = r"\d{5}(\.\d+)?"
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


@dataclass(frozen=True)
class DateFormat:
    """A date column's decided format; `reason` explains the choice (kept in the load report)."""

    family: DateFamily
    strptime: str | None
    reason: str

    def describe(self) -> str:
        return self.strptime or "Excel serial number"


def quote(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def date_part_sql(cell: str) -> str:
    """The trimmed cell without a time of day; NULL when empty."""
    return f"regexp_replace(NULLIF(trim({cell}), ''), {quote(TIME_SUFFIX)}, '')"


def decide_date_format(
    connection: duckdb.DuckDBPyConnection, relation: str, cell: str, *, day_first_hint: bool
) -> DateFormat | None:
    """The format of every date in column `cell` of `relation`, or None if it has no values."""
    part = date_part_sql(cell)
    first = r"TRY_CAST(regexp_extract(d, '^(\d{1,2})[/.\-]\d{1,2}[/.\-]', 1) AS INTEGER)"
    second = r"TRY_CAST(regexp_extract(d, '^\d{1,2}[/.\-](\d{1,2})[/.\-]', 1) AS INTEGER)"
    stats = connection.execute(
        f"""
        SELECT
            count(d),
            count(*) FILTER (WHERE regexp_full_match(d, '\\d{{4}}[-/.]\\d{{1,2}}[-/.]\\d{{1,2}}')),
            count(*) FILTER (WHERE regexp_full_match(d, '\\d{{1,2}}[-/.]\\d{{1,2}}[-/.](\\d{{4}}|\\d{{2}})')),
            count(*) FILTER (WHERE regexp_full_match(d, {quote(SERIAL_PATTERN)})),
            count(*) FILTER (WHERE regexp_matches(d, '[A-Za-z]{{3}}')),
            count(*) FILTER (WHERE {first} > 12),
            count(*) FILTER (WHERE {second} > 12),
            mode(regexp_extract(d, '^\\d{{4}}([-/.])', 1)) FILTER (WHERE regexp_matches(d, '^\\d{{4}}[-/.]')),
            mode(regexp_extract(d, '^\\d{{1,2}}([-/.])', 1)) FILTER (WHERE regexp_matches(d, '^\\d{{1,2}}[-/.]')),
            mode(length(regexp_extract(d, '[-/.](\\d+)$', 1))) FILTER (WHERE regexp_matches(d, '^\\d{{1,2}}[-/.]'))
        FROM (SELECT {part} AS d FROM {relation})
        """
    ).fetchone()
    assert stats is not None
    total, ymd, numeric_dm, serial, text_month, first_gt12, second_gt12, ysep, dsep, ylen = stats
    if not total:
        return None
    family = max((ymd, "ymd"), (numeric_dm, "dm"), (serial, "serial"), (text_month, "text"))[1]
    if family == "ymd":
        sep = ysep or "-"
        return DateFormat(DateFamily.FORMAT, f"%Y{sep}%m{sep}%d", "year first")
    if family == "serial":
        return DateFormat(DateFamily.EXCEL_SERIAL, None, "five-digit numbers: Excel serials")
    if family == "text":
        return _decide_text_month(connection, relation, part)
    year = "%Y" if (ylen or 4) == 4 else "%y"
    sep = dsep or "/"
    if first_gt12 > second_gt12:
        day_first, why = True, f"{first_gt12} value(s) have a first number above 12"
    elif second_gt12 > first_gt12:
        day_first, why = False, f"{second_gt12} value(s) have a second number above 12"
    else:
        day_first = day_first_hint
        why = "no value has a number above 12; " + (
            "the file's European locale (decimal comma or ';') means day first"
            if day_first_hint
            else "the file's US locale means month first"
        )
    order = f"%d{sep}%m{sep}{year}" if day_first else f"%m{sep}%d{sep}{year}"
    return DateFormat(DateFamily.FORMAT, order, why)


def _decide_text_month(
    connection: duckdb.DuckDBPyConnection, relation: str, part: str
) -> DateFormat:
    counts = ", ".join(f"count(try_strptime(d, {quote(f)}))" for f in TEXT_MONTH_FORMATS)
    row = connection.execute(
        f"SELECT {counts} FROM (SELECT {part} AS d FROM {relation})"
    ).fetchone()
    assert row is not None
    best = max(range(len(TEXT_MONTH_FORMATS)), key=lambda i: row[i])
    return DateFormat(DateFamily.FORMAT, TEXT_MONTH_FORMATS[best], "month names")


def date_value_sql(cell: str, fmt: DateFormat) -> str:
    """SQL DATE of the cell under the decided format; NULL when it does not parse."""
    part = date_part_sql(cell)
    if fmt.family is DateFamily.EXCEL_SERIAL:
        return (
            f"CASE WHEN regexp_full_match({part}, {quote(SERIAL_PATTERN)}) THEN "
            f"DATE '1899-12-30' + CAST(floor(CAST({part} AS DOUBLE)) AS INTEGER) END"
        )
    return f"CAST(try_strptime({part}, {quote(fmt.strptime or '')}) AS DATE)"


def timestamp_value_sql(cell: str, fmt: DateFormat | None) -> str:
    """SQL TIMESTAMPTZ of the cell: ISO 8601 (offset optional; without one, the session's
    timezone, which the loader sets to the workspace's), else the column's date format plus an
    optional `HH:MM[:SS]` time of day."""
    trimmed = f"NULLIF(trim({cell}), '')"
    iso = f"TRY_CAST({trimmed} AS TIMESTAMPTZ)"
    if fmt is None:
        return iso
    day = date_value_sql(cell, fmt)
    clock = (
        f"COALESCE(TRY_CAST(regexp_extract({trimmed}, '(\\d{{1,2}}:\\d{{2}}(:\\d{{2}})?)', 1) "
        "AS TIME), TIME '00:00:00')"
    )
    return f"COALESCE({iso}, CAST({day} + {clock} AS TIMESTAMPTZ))"


def cleaned_number_sql(cell: str) -> str:
    """The cell without spaces and currency; `(12.5)` and `12.5-` become `-12.5`."""
    bare = f"regexp_replace(regexp_replace(trim({cell}), {quote(SPACES)}, '', 'g'), {quote(CURRENCY_TOKEN)}, '', 'g')"
    return f"regexp_replace(regexp_replace({bare}, '^\\((.*)\\)$', '-\\1'), '^([^-].*)-$', '-\\1')"


def currency_symbol_sql(cell: str) -> str:
    """The currency symbol or code written in the cell, '' when none."""
    return f"regexp_extract(trim({cell}), {quote(CURRENCY_TOKEN)}, 1)"


def currency_code_sql(symbol_sql: str, workspace_currency: str) -> str:
    """ISO code for a symbol: `€` → EUR; `$` is the workspace's currency when that is a dollar
    currency, else USD; a three-letter code is kept; '' → NULL."""
    dollar = workspace_currency if workspace_currency in DOLLAR_CURRENCIES else "USD"
    cases = " ".join(f"WHEN {quote(s)} THEN {quote(c)}" for s, c in SYMBOL_CURRENCY.items())
    return (
        f"CASE {symbol_sql} {cases} WHEN '$' THEN {quote(dollar)} WHEN '' THEN NULL "
        f"ELSE {symbol_sql} END"
    )


def decide_decimal(connection: duckdb.DuckDBPyConnection, relation: str, cell: str) -> str | None:
    """',' or '.' when the column's values show it, None when no value decides."""
    cleaned = cleaned_number_sql(cell)
    row = connection.execute(
        f"""
        SELECT
            count(*) FILTER (WHERE regexp_matches(n, ',\\d{{1,2}}$|,\\d{{4,}}$|\\.\\d{{3}},|\\.\\d{{3}}\\.\\d{{3}}')),
            count(*) FILTER (WHERE regexp_matches(n, '\\.\\d{{1,2}}$|\\.\\d{{4,}}$|,\\d{{3}}\\.|,\\d{{3}},\\d{{3}}'))
        FROM (SELECT {cleaned} AS n FROM {relation})
        """
    ).fetchone()
    assert row is not None
    comma, point = row
    if comma == point == 0:
        return None
    return "," if comma > point else "."


def number_value_sql(cell: str, decimal: str) -> str:
    """SQL DECIMAL(20,6) of the cell with the decided decimal separator; NULL when it does not fit."""
    n = cleaned_number_sql(cell)
    if decimal == ",":
        pattern = r"[-+]?(\d{1,3}(\.\d{3})+|\d+)(,\d+)?"
        text = f"replace(replace({n}, '.', ''), ',', '.')"
    else:
        pattern = r"[-+]?((\d{1,3}(,\d{3})+|\d+)(\.\d+)?|\.\d+)"
        text = f"replace({n}, ',', '')"
    return f"CASE WHEN regexp_full_match({n}, {quote(pattern)}) THEN TRY_CAST({text} AS DECIMAL(20, 6)) END"
