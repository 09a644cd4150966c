"""Turn an upload's text cells into typed values in one pass, and check the decisions it used.

The cells come from a relation with columns `c0 … cN` (all text): the CSV reader over the whole
file, or a spreadsheet sheet. `decide` reads the formats off a sample (decimal separator per
number column, date format per date column, see `formats`); `create_checked` then runs one
query over every row into the temp table `upload_checked`: per row the typed values `v_<target>`,
the currency code, the first refusal `_reason` with its `_column`, and the row's cells `_cells`
*only when it was refused* (the quarantine keeps them; kept rows need only their values). The
dictionary columns (`plan_dictionaries`: the platform, a lone campaign column, the currency code)
are stored as ENUMs `e_<name>` with the text of other values in `o_<name>` (see `dictionary`).

`recheck` looks at the refused rows only: a date that does not fit the column's format, or a
number that does not fit its decimal separator but would fit the other one, may mean the sample
missed what the rest of the file shows. The column is then decided again over every row: the
decimal separator, and a date's day/month order (its family too when refused dates are written in
another one, e.g. `2026-11-21` in a `21/11/2026` column). When a decision changes, the load runs
the pass again with it. A file small enough to be its own sample (and a sheet) is never
rechecked.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import duckdb

from ownlay_pipelines.privacy.identifiers import contact_kind
from ownlay_pipelines.privacy.patterns import MAY_HOLD_CONTACT_DATA_RE2
from ownlay_pipelines.registry.workspaces import Workspace
from ownlay_pipelines.uploads import formats
from ownlay_pipelines.uploads.dictionary import Dictionary, sampled_values
from ownlay_pipelines.uploads.formats import DOLLAR_CURRENCIES, SYMBOL_CURRENCY, DateFormat, quote
from ownlay_pipelines.uploads.kinds import (
    COLUMNS_BY_KIND,
    IDENTIFIERS_BY_KIND,
    ONE_OF_REQUIRED,
    TargetColumn,
    UploadKind,
    ValueType,
)
from ownlay_pipelines.uploads.mapping import MappingFile

CHECKED = "upload_checked"
REFUSED = "upload_refused"
"""The refused rows of `upload_checked` alone (`row_id` its row id, `_reason`, `_column`,
`_cells`): what the recheck, the skipped rows, the quarantine and its counts read, so none of
them filters every row again (each such scan of `_reason` and `_cells` cost 5–10 ms at 1.5 M
rows)."""
NON_NEGATIVE = frozenset({"spend", "impressions", "clicks"})
NUMBER_TYPES = frozenset({ValueType.MONEY, ValueType.INTEGER, ValueType.DECIMAL})
DATE_TYPES = frozenset({ValueType.DATE, ValueType.TIMESTAMP})
TYPED = NUMBER_TYPES | DATE_TYPES
"""Columns read from the raw cell first; the others (text, e-mail) use the trimmed cell."""
SQL_TYPES = {
    ValueType.TEXT: "VARCHAR",
    ValueType.EMAIL: "VARCHAR",
    ValueType.DATE: "DATE",
    ValueType.TIMESTAMP: "TIMESTAMPTZ",
    ValueType.MONEY: "DECIMAL(20, 6)",
    ValueType.DECIMAL: "DECIMAL(20, 6)",
    ValueType.INTEGER: "BIGINT",
}


IDENTIFIER_CHECK = "ownlay_identifier_refusal"
"""DuckDB function: why an id cell is refused (it holds contact data), NULL when it is not."""
IDENTIFIER_REFUSALS = {
    "email": "holds an e-mail address; an id column takes stable ids, never contact data",
    "phone": "holds a phone number; an id column takes stable ids, never contact data",
    "ip": "holds an IP address; an id column takes stable ids, never contact data",
}


def identifier_refusal(value: str | None) -> str | None:
    """The reason an id cell is refused when it holds contact data (`privacy.identifiers`)."""
    kind = None if value is None else contact_kind(value)
    return None if kind is None else IDENTIFIER_REFUSALS[kind]


def trimmed_sql(columns: dict[str, int], *, refused: bool = False) -> str:
    """`t_<target>`: each mapped cell trimmed, NULL when empty; `refused`: of a refused row in
    `upload_checked`, whose cells are the list `_cells`."""
    return ", ".join(
        f"{_trimmed(refused_cell(i) if refused else f'c{i}')} AS t_{name}"
        for name, i in columns.items()
    )


def refused_cell(index: int) -> str:
    """Cell `index` of a refused row in `upload_checked` (kept rows have no cells)."""
    return f"_cells[{index + 1}]"


def unstored_sql(kind: UploadKind, columns: dict[str, int], mapping: MappingFile) -> str:
    """`v_<target>` (NULL) of the targets neither the file nor the mapping fills: not stored in
    `upload_checked`, which keeps only what varies."""
    filled = set(columns) | set(mapping.defaults)
    return "".join(
        f", CAST(NULL AS {SQL_TYPES[t.type]}) AS v_{t.name}"
        for t in COLUMNS_BY_KIND[kind]
        if t.name not in filled
    )


@dataclass
class Decisions:
    """How each column is read: decimal separator per number column (None: the column shows
    none, the file's locale decides), format per date column (None: the column is empty), and
    which number columns mostly carry symbols or thousands separators."""

    decimals: dict[str, str | None] = field(default_factory=dict)
    dates: dict[str, DateFormat | None] = field(default_factory=dict)
    decorated: dict[str, bool] = field(default_factory=dict)
    european_hint: bool = False
    sampled: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Text columns whose sample gives every value (`dictionary`): their values, most frequent
    first."""

    def file_decimal(self, mapping: MappingFile) -> str:
        """The decimal separator of columns without evidence: a decimal comma anywhere in the
        file or a `;` delimiter means European."""
        if mapping.decimal:
            return mapping.decimal
        return "," if ("," in self.decimals.values() or self.european_hint) else "."

    def decimal(self, name: str, mapping: MappingFile) -> str:
        return mapping.decimal or self.decimals.get(name) or self.file_decimal(mapping)


def _targets(kind: UploadKind, columns: dict[str, int]) -> list[TargetColumn]:
    return [t for t in COLUMNS_BY_KIND[kind] if t.name in columns]


def decide(
    connection: duckdb.DuckDBPyConnection,
    sample: str,
    kind: UploadKind,
    columns: dict[str, int],
    mapping: MappingFile,
    *,
    european_hint: bool,
    dictionary_targets: frozenset[str] = frozenset(),
    complete: bool = False,
) -> Decisions:
    """Formats of every mapped column, read off `sample` (a relation with `t_<target>` cells),
    and the values of the `dictionary_targets` when the sample has them all (`complete`: the
    sample is every row)."""
    targets = _targets(kind, columns)
    numeric = [f"t_{t.name}" for t in targets if t.type in NUMBER_TYPES]
    decided = {} if mapping.decimal else formats.decide_decimals(connection, sample, numeric)
    decisions = Decisions(
        decimals={t[2:]: decided.get(t) for t in numeric},
        decorated={
            t[2:]: d for t, d in formats.mostly_decorated(connection, sample, numeric).items()
        },
        european_hint=european_hint,
        sampled={
            t[2:]: values
            for t, values in sampled_values(
                connection,
                sample,
                [f"t_{t.name}" for t in targets if t.name in dictionary_targets],
                complete=complete,
            ).items()
        },
    )
    day_first_hint = decisions.file_decimal(mapping) == ","
    for target in targets:
        if target.type in DATE_TYPES:
            decisions.dates[target.name] = (
                DateFormat(formats.DateFamily.FORMAT, mapping.date_format, "mapping file")
                if mapping.date_format
                else formats.decide_date_format(
                    connection, sample, sample, f"t_{target.name}", day_first_hint=day_first_hint
                )
            )
    return decisions


@dataclass(frozen=True)
class _Column:
    """One mapped target in the pass over the cells.

    The query is built in levels (`LEVELS`) so each expensive expression runs once per row and
    only on the rows that need it (DuckDB hoists an expression written twice in one level out of
    its CASE, so a level never repeats one): typed columns are read off the raw cell `c<i>` first
    (`fast`: `g_` the grouped-money shape `$1,234.56`, `i_` a count of plain digits, `f_` a date),
    then `p_` a plain or grouped number (`plain`); `q_`, the trimmed cell, exists only where that
    failed (`lazy`), then its cleaning (`cleaning`, a level each: `b_` without spaces, `k_`
    without the currency); `n_` is the parsed value (`parsed_sql`), `v_` the value
    (`value_sql`) and the error the reason it was refused (`error_sql`). Text and e-mail columns
    use `t_`, the trimmed cell.
    """

    target: TargetColumn
    header: str
    parsed_sql: str
    value_sql: str
    error_sql: str | None
    fast: tuple[str, ...] = ()
    plain: tuple[str, ...] = ()
    lazy: tuple[str, ...] = ()
    cleaning: tuple[tuple[str, ...], ...] = ()


def _trimmed(cell: str) -> str:
    """The cell without leading and trailing spaces (what `trim` removes), NULL when empty.

    `trim` copies every cell it is given; most cells have no space to remove, and testing both
    ends first costs a quarter of it (a tenth of a CPU-second per text column at 100 MiB)."""
    return (
        f"NULLIF(CASE WHEN starts_with({cell}, ' ') OR ends_with({cell}, ' ') "
        f"THEN trim({cell}) ELSE {cell} END, '')"
    )


def _refusal(
    target: TargetColumn, value: str, empty: str, reason: str, whole: str | None = None
) -> str:
    """Why a typed value is refused: negative (when not allowed), else, when it is missing,
    an empty required cell, a fractional count (`whole` is the test) or `reason`."""
    negative = f"CASE WHEN {value} < 0 THEN 'negative' END"
    kept = negative if target.name in NON_NEGATIVE else "NULL"
    missing = f"CASE WHEN {empty} THEN " + (
        "'required value is empty'" if target.required else "NULL"
    )
    if whole:
        missing += f" WHEN {whole} THEN 'not a whole number'"
    missing += f" ELSE {reason} END"
    return f"CASE WHEN {value} IS NOT NULL THEN {kept} ELSE {missing} END"


def _plain_count_sql(cell: str, decorated: bool) -> str:
    """The count written as at most 18 plain digits (`[0-9]{1,18}`), NULL for any other cell.

    In a column of plain numbers the integer cast written back must give the cell itself
    (0.07 CPU-s a column at 1.5 M rows against 0.11 for the regular expression): that holds for
    digits without leading zeros, and a cell with them (`007`) or a sign is left to the general
    reading, which gives it the same value. In a decorated column (`1,234`) the cast would fail
    on most cells, and a failing cast costs more than the expression."""
    if decorated:
        return (
            f"CASE WHEN regexp_full_match({cell}, '[0-9]{{1,18}}') THEN CAST({cell} AS BIGINT) END"
        )
    count = f"TRY_CAST({cell} AS BIGINT)"
    return (
        f"CASE WHEN {count} BETWEEN 0 AND {10**18 - 1} AND CAST({count} AS VARCHAR) = {cell} "
        f"THEN {count} END"
    )


def _number_column(
    target: TargetColumn, header: str, cell: str, decimal: str, decorated: bool
) -> _Column:
    name = target.name
    n, v, p, q, b, k, g, i = (f"{x}_{name}" for x in "nvpqbkgi")
    # Casts ignore surrounding spaces, so a plain or grouped number read off the raw cell is
    # what the trimmed cell gives; only the other cells are trimmed and cleaned.
    plain = formats.plain_number_sql(cell, decimal)
    fast: tuple[str, ...] = ()
    if decorated:
        fast = (f"{formats.grouped_shape_sql(cell, decimal)} AS {g}",)
        plain = f"CASE WHEN {g} THEN {formats.grouped_number_sql(cell, decimal)} ELSE {plain} END"
    failed = f"{p} IS NULL"
    if target.type is ValueType.INTEGER:
        # Plain digits are the count itself; only other cells pay for the exact decimal test.
        fast += (f"{_plain_count_sql(cell, decorated)} AS {i}",)
        plain = f"CASE WHEN {i} IS NULL THEN {plain} END"
        failed = f"{i} IS NULL AND {p} IS NULL"
    cleaned = formats.cleaned_value_sql(formats.signed_number_sql(k), decimal)
    if target.type is ValueType.MONEY:
        # Excel's Accounting format writes zero as a dash (`$ -   `, `€ -`, `-`): with spaces
        # and symbol taken off, the cleaned cell is `-` alone. Only cells that failed the fast
        # path get here.
        cleaned = f"CASE WHEN {k} = '-' THEN CAST(0 AS DECIMAL(20, 6)) ELSE {cleaned} END"
    parsed = f"COALESCE({p}, {cleaned})"
    value, whole = n, None
    if target.type is ValueType.INTEGER:
        parsed = f"CASE WHEN {i} IS NULL THEN {parsed} END"
        value = f"COALESCE({i}, CASE WHEN {n} = trunc({n}) THEN CAST({n} AS BIGINT) END)"
        whole = f"{n} <> trunc({n})"
    error = _refusal(
        target,
        v,
        f"{p} IS NULL AND {q} IS NULL",
        quote(f"not a number (decimal {decimal!r})"),
        whole,
    )
    return _Column(
        target,
        header,
        parsed,
        value,
        error,
        fast=fast,
        plain=(f"{plain} AS {p}",),
        lazy=(f"CASE WHEN {failed} THEN {_trimmed(cell)} END AS {q}",),
        cleaning=(
            (f"{formats.bare_number_sql(q)} AS {b}",),
            (f"{formats.cleaned_number_sql(b)} AS {k}",),
        ),
    )


def _date_column(target: TargetColumn, header: str, cell: str, fmt: DateFormat | None) -> _Column:
    name = target.name
    f, q, v = f"f_{name}", f"q_{name}", f"v_{name}"
    if target.type is ValueType.DATE:

        def read(text: str, first_try: bool = False) -> str:
            if fmt is None:
                return "CAST(NULL AS DATE)"
            return formats.date_value_sql(text, fmt, first_try=first_try)

        why = quote(f"not a date in the column format {fmt.describe() if fmt else '?'}")
    else:

        def read(text: str, first_try: bool = False) -> str:
            return formats.timestamp_value_sql(text, fmt)

        why = (
            f"CASE WHEN regexp_full_match({q}, {quote(formats.LONG_NUMBER_PATTERN)}) "
            f"THEN {quote(formats.UNIX_TIME_REFUSAL)} "
            "ELSE 'not a timestamp (ISO 8601, Unix time or the column date format)' END"
        )
    return _Column(
        target,
        header,
        f"COALESCE({f}, {read(q)})",
        f"n_{name}",
        _refusal(target, v, f"{q} IS NULL", why),
        fast=(f"{read(cell, first_try=True)} AS {f}",),
        lazy=(f"CASE WHEN {f} IS NULL THEN {_trimmed(cell)} END AS {q}",),
    )


def plan_columns(
    header: tuple[str, ...],
    columns: dict[str, int],
    kind: UploadKind,
    mapping: MappingFile,
    decisions: Decisions,
    detected: dict[str, str],
) -> list[_Column]:
    """The SQL of every mapped column under `decisions`; what was decided goes to `detected`."""
    targets = {t.name: t for t in COLUMNS_BY_KIND[kind]}
    planned: list[_Column] = []
    for name, index in columns.items():
        target = targets[name]
        cell, t, v = f"c{index}", f"t_{name}", f"v_{name}"
        if target.type in NUMBER_TYPES:
            decimal = decisions.decimal(name, mapping)
            detected[f"{name} decimal"] = decimal
            planned.append(
                _number_column(target, header[index], cell, decimal, decisions.decorated[name])
            )
            continue
        if target.type in DATE_TYPES:
            fmt = decisions.dates[name]
            if fmt is not None:
                detected[f"{name} format"] = f"{fmt.describe()} ({fmt.reason})"
            planned.append(_date_column(target, header[index], cell, fmt))
            continue
        if target.type is ValueType.EMAIL:
            parsed = f"CASE WHEN {t} LIKE '%_@_%' THEN ownlay_email_hash({t}) END"
            error = f"CASE WHEN {t} IS NOT NULL AND {v} IS NULL THEN 'not an e-mail address' END"
            column = _Column(target, header[index], parsed, f"n_{name}", error)
        elif name in IDENTIFIERS_BY_KIND.get(kind, ()):
            # Only cells the prefilter lets through reach the Python check.
            candidate = f"regexp_matches({t}, {quote(MAY_HOLD_CONTACT_DATA_RE2)})"
            error = f"CASE WHEN {candidate} THEN {IDENTIFIER_CHECK}({t}) END"
            column = _Column(target, header[index], t, f"n_{name}", error)
        else:
            column = _Column(target, header[index], t, f"n_{name}", None)
        if target.required:
            required = f"CASE WHEN {t} IS NULL THEN 'required value is empty' END"
            error = f"COALESCE({required}, {column.error_sql})" if column.error_sql else required
            column = replace(column, error_sql=error)
        planned.append(column)
    return planned


def plan_dictionaries(
    decisions: Decisions,
    columns: dict[str, int],
    mapping: MappingFile,
    workspace: Workspace,
    text_targets: frozenset[str],
) -> list[Dictionary]:
    """The dictionary columns of a pass (see `dictionary`): each of `text_targets` whose sampled
    values are known, and the currency code, whose values are the workspace's currency, the
    codes the symbols give and those of a sampled currency column or the mapping's default."""
    planned = [
        Dictionary(name, f"v_{name}", decisions.sampled[name])
        for name in columns
        if name in text_targets and name in decisions.sampled
    ]
    own = workspace.currency.upper()
    dollar = workspace.currency if workspace.currency in DOLLAR_CURRENCIES else "USD"
    codes = [own]
    if "currency" in columns:
        codes += [v.upper() for v in decisions.sampled.get("currency", ())]
    if "currency" in mapping.defaults:
        codes.append(mapping.defaults["currency"].upper())
    codes += [dollar, *SYMBOL_CURRENCY.values()]
    # '' is the sentinel, never a code: an empty currency cell is NULL and falls back to `own`.
    unique = tuple(dict.fromkeys(c for c in codes if c))
    planned.append(Dictionary("currency_code", "v_currency_code", unique))
    return planned


def create_checked(
    connection: duckdb.DuckDBPyConnection,
    cells: str,
    planned: list[_Column],
    *,
    columns: dict[str, int],
    width: int,
    kind: UploadKind,
    mapping: MappingFile,
    workspace: Workspace,
    keep: tuple[str, ...] = (),
    dictionaries: tuple[Dictionary, ...] = (),
    cells_also: str | None = None,
) -> None:
    """(Re)create `upload_checked` from relation `cells` in one pass (see the module docstring),
    and `upload_refused`, its refused rows;
    `keep` are further columns of `cells` carried as they are (a sheet's `_line`); the values of
    `dictionaries` are stored as `e_<name>`/`o_<name>` instead of text `v_<name>`; `cells_also`
    (SQL over the `v_` values) keeps the cells of kept rows too where it holds (rows a later
    step may refuse: `repeated_orders`)."""
    targets = COLUMNS_BY_KIND[kind]
    money = next((c for c in planned if c.target.type is ValueType.MONEY), None)
    symbol, symbol_text = "''", []
    if money is not None:
        name, cell = money.target.name, f"c{columns[money.target.name]}"
        symbol = formats.currency_symbol_sql(f"qs_{name}")
        trimmed = _trimmed(cell)
        if any(e.endswith(f" AS g_{name}") for e in money.fast):
            symbol = f"CASE WHEN g_{name} THEN {formats.grouped_symbol_sql(cell)} ELSE {symbol} END"
            trimmed = f"CASE WHEN g_{name} THEN NULL ELSE {trimmed} END"
        symbol_text = [f"{trimmed} AS qs_{name}"]
    levels = [
        [e for c in planned for e in c.fast],
        [e for c in planned for e in c.plain],
        [e for c in planned for e in c.lazy] + symbol_text,
        [f"{symbol} AS _symbol"],
    ]
    for depth in range(max((len(c.cleaning) for c in planned), default=0)):
        levels.append([e for c in planned if depth < len(c.cleaning) for e in c.cleaning[depth]])
    parsed = [f"{c.parsed_sql} AS n_{c.target.name}" for c in planned]
    values = [f"{c.value_sql} AS v_{c.target.name}" for c in planned]
    for name, constant in mapping.defaults.items():
        values.append(f"{quote(constant)} AS v_{name}")
    mapped = {c.target.name for c in planned} | set(mapping.defaults)
    for target in targets:
        if target.name not in mapped:
            values.append(f"CAST(NULL AS {SQL_TYPES[target.type]}) AS v_{target.name}")
    own = workspace.currency.upper()
    currency = formats.currency_code_sql("_symbol", workspace.currency)
    # Codes from symbols are upper case already: only a currency column needs `upper`.
    currency_code = f"COALESCE(upper(v_currency), {currency}, {quote(own)})"
    # Codes from symbols are valid by construction: only a currency column (or a malformed
    # workspace currency) can give one that is not.
    suspect = "v_currency IS NOT NULL" + ("" if len(own) == 3 and own.isalpha() else " OR TRUE")
    errors = [(c.header, c.error_sql) for c in planned if c.error_sql]
    errors.append(
        (
            "currency",
            f"CASE WHEN ({suspect}) AND NOT regexp_full_match(v_currency_code, '[A-Z]{{3}}') "
            "THEN 'not an ISO 4217 currency code' END",
        )
    )
    for group in ONE_OF_REQUIRED.get(kind, ()):
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
    # One list of cells, only for refused rows: a column per cell, empty on almost every row,
    # cost as much to store as the values.
    cells_list = "[" + ", ".join(f"c{i}" for i in range(width)) + "]"
    stored = {d.value_sql for d in dictionaries}
    kept = ", ".join(
        [
            *keep,
            *(f"v_{t.name}" for t in targets if t.name in mapped and f"v_{t.name}" not in stored),
            *([] if "v_currency_code" in stored else ["v_currency_code"]),
            *(f"e_{d.name}" for d in dictionaries),
            *(d.overflow_sql() for d in dictionaries),
            "_reason",
            "_column",
            f"CASE WHEN _reason IS NOT NULL{f' OR ({cells_also})' if cells_also else ''} "
            f"THEN {cells_list} END AS _cells",
        ]
    )
    text = {
        n: i
        for n, i in columns.items()
        if n not in {c.target.name for c in planned if c.target.type in TYPED}
    }
    text_columns = f", {trimmed_sql(text)}" if text else ""
    enums = "".join(f", {d.stored_sql()}" for d in dictionaries)
    read = "cells_trimmed"
    for level in levels:
        if level:
            read = f"(SELECT *, {', '.join(level)} FROM {read})"
    connection.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {CHECKED} AS
        WITH cells_trimmed AS (SELECT *{text_columns} FROM {cells})
        SELECT {kept} FROM (
          SELECT *, {reason} AS _reason, {column} AS _column{enums}
          FROM (
            SELECT *, {error_columns}
            FROM (
                SELECT *, {currency_code} AS v_currency_code
                FROM (
                    SELECT *, {", ".join(values)}
                    FROM (
                        SELECT *, {", ".join(parsed)}
                        FROM {read}
                    )
                )
            )
          )
        )
        """
    )
    connection.execute(
        f"CREATE OR REPLACE TEMP TABLE {REFUSED} AS SELECT rowid AS row_id, "
        f"{''.join(f'{k}, ' for k in keep)}_reason, _column, _cells "
        f"FROM {CHECKED} WHERE _reason IS NOT NULL"
    )


def recheck(
    connection: duckdb.DuckDBPyConnection,
    whole: str,
    sample: str,
    kind: UploadKind,
    columns: dict[str, int],
    mapping: MappingFile,
    decisions: Decisions,
) -> Decisions | None:
    """Decisions taken again over every row (`whole`, with `t_<target>` cells) for the columns
    whose refused rows say the sample may have misled them; None when nothing changes."""
    checks: list[tuple[str, str]] = []
    families: list[tuple[str, str]] = []
    bare: list[str] = []
    cleaned: list[str] = []
    signed: list[str] = []
    for target in _targets(kind, columns):
        t = f"t_{target.name}"
        if target.type in NUMBER_TYPES and not mapping.decimal:
            used = decisions.decimal(target.name, mapping)
            other = "." if used == "," else ","
            bare.append(f"{formats.bare_number_sql(t)} AS b_{target.name}")
            cleaned.append(f"{formats.cleaned_number_sql(f'b_{target.name}')} AS k_{target.name}")
            signed.append(f"{formats.signed_number_sql(f'k_{target.name}')} AS s_{target.name}")
            checks.append(
                (
                    target.name,
                    f"count(*) FILTER (WHERE {_number_sql(target.name, used)} IS NULL "
                    f"AND {_number_sql(target.name, other)} IS NOT NULL)",
                )
            )
        if target.type in DATE_TYPES and not mapping.date_format:
            fmt = decisions.dates[target.name]
            if target.type is ValueType.DATE:
                read = formats.date_value_sql(t, fmt) if fmt else "NULL"
            else:
                read = formats.timestamp_value_sql(t, fmt)
            failed = f"{t} IS NOT NULL AND {read} IS NULL"
            checks.append((target.name, f"count(*) FILTER (WHERE {failed})"))
            other = f"NOT {formats.same_family_sql(t, fmt)}" if fmt else "TRUE"
            families.append((target.name, f"count(*) FILTER (WHERE {failed} AND {other})"))
    if not checks:
        return None
    # Levels, so the cleaning expressions are not repeated inside each other.
    refused = f"(SELECT {trimmed_sql(columns, refused=True)} FROM {REFUSED})"
    for level in (bare, cleaned, signed):
        if level:
            refused = f"(SELECT *, {', '.join(level)} FROM {refused})"
    counts = connection.execute(
        f"SELECT {', '.join(sql for _, sql in checks + families)} FROM {refused}"
    ).fetchone()
    assert counts is not None
    doubtful = {name for (name, _), count in zip(checks, counts, strict=False) if count}
    # Refused dates of another family put the family itself in doubt, not only the order.
    other_family = {
        name for (name, _), count in zip(families, counts[len(checks) :], strict=True) if count
    }
    if not doubtful:
        return None
    revised = replace(decisions, decimals=dict(decisions.decimals), dates=dict(decisions.dates))
    numbers = [f"t_{n}" for n in doubtful if n in decisions.decimals]
    for text, decimal in formats.decide_decimals(connection, whole, numbers).items():
        revised.decimals[text[2:]] = decimal
    day_first_hint = revised.file_decimal(mapping) == ","
    for name in doubtful:
        if name in decisions.dates:
            family_from = whole if name in other_family else sample
            revised.dates[name] = formats.decide_date_format(
                connection, family_from, whole, f"t_{name}", day_first_hint=day_first_hint
            )
    same_decimals = all(
        revised.decimal(n, mapping) == decisions.decimal(n, mapping) for n in decisions.decimals
    )
    same_dates = all(
        _format_key(revised.dates[n]) == _format_key(decisions.dates[n]) for n in decisions.dates
    )
    return None if same_decimals and same_dates else revised


def _format_key(fmt: DateFormat | None) -> tuple[str, str | None] | None:
    """What makes two date formats read the same values (not the reason they were chosen)."""
    return None if fmt is None else (fmt.family.value, fmt.strptime)


def _number_sql(name: str, decimal: str) -> str:
    """The number in cell `t_<name>` under `decimal` (the pass's rule), from its cleaned and
    signed text `s_<name>`; NULL when it does not fit."""
    return (
        f"COALESCE({formats.plain_number_sql(f't_{name}', decimal)}, "
        f"{formats.cleaned_value_sql(f's_{name}', decimal)})"
    )
