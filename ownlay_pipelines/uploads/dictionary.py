"""Low-cardinality text columns of a load carried as ENUMs (dictionaries) instead of text.

Why: the checked table stores every text value as a string (≈0.1 CPU-s a column at 1.5 M rows),
and the Parquet writer hashes every string to build its page dictionary (0.1–0.15 CPU-s a column);
the platform's `lower_snake` slug was two regular expressions a row. An ENUM is a small integer
a row: stored, scanned and written (as the page dictionary itself) at almost no cost, and a
per-value transform such as the slug is computed once per distinct value.

A column is a dictionary when its values are known before the pass: those of the sample, when the
sample looks saturated (few values seen only once, so the rest of the file rarely has others), or
a fixed set (currency codes). A row whose value is not in the dictionary stores the sentinel ''
(never a value: cells are trimmed and an empty one is NULL) in `e_<name>` and its text in
`o_<name>`; `e_<name>` is NULL exactly where the value is. When no kept row has such a value
(the common case) the output is `e_<name>` itself, with the text column's Parquet nullability;
otherwise it is rebuilt as text from both (same values; Parquet then marks it OPTIONAL).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import duckdb

from ownlay_pipelines.uploads.formats import quote

MAX_VALUES = 1000
"""More distinct values than this in the sample: not a dictionary (an ENUM per row would be
hashed like a string, and a large sample of distinct values is rarely complete)."""
UNSEEN_SHARE = 0.001
"""A sampled column is a dictionary when at most this share of its sampled cells hold a value
seen only once (Good–Turing: about the share of the file's cells with a value the sample lacks)."""
CASE_LIMIT = 12
"""Up to this many values a row's value is found by comparisons (most frequent first), beyond
it by DuckDB's hash lookup (`TRY_CAST` to the ENUM, ~0.1 CPU-s a column at 1.5 M rows)."""
SENTINEL = ""


@dataclass(frozen=True)
class Dictionary:
    """A text value `value_sql` of the checked rows stored as `e_<name>` / `o_<name>`; `values`
    are the ENUM's values, most frequent first."""

    name: str
    value_sql: str
    values: tuple[str, ...]

    @property
    def enum(self) -> str:
        return enum_type((SENTINEL, *self.values))

    def stored_sql(self) -> str:
        """`e_<name>`: the ENUM value, the sentinel for another value, NULL for NULL."""
        value, enum = self.value_sql, self.enum
        other = f"CASE WHEN {value} IS NOT NULL THEN CAST({quote(SENTINEL)} AS {enum}) END"
        if len(self.values) <= CASE_LIMIT:
            cases = " ".join(
                f"WHEN {quote(v)} THEN CAST({quote(v)} AS {enum})" for v in self.values
            )
            return f"CASE {value} {cases} ELSE {other} END AS e_{self.name}"
        return f"COALESCE(TRY_CAST({value} AS {enum}), {other}) AS e_{self.name}"

    def overflow_sql(self) -> str:
        """`o_<name>`: the text of a value the dictionary lacks (needs `e_<name>`)."""
        return f"CASE WHEN enum_code(e_{self.name}) = 0 THEN {self.value_sql} END AS o_{self.name}"


def enum_type(values: Sequence[str]) -> str:
    return "ENUM(" + ", ".join(quote(v) for v in values) + ")"


def sampled_values(
    connection: duckdb.DuckDBPyConnection, sample: str, texts: Sequence[str], *, complete: bool
) -> dict[str, tuple[str, ...]]:
    """For each trimmed column in `texts` of `sample` that can be a dictionary: its distinct
    values, most frequent first. `complete`: the sample is every row (no saturation test)."""
    found: dict[str, tuple[str, ...]] = {}
    for text in texts:
        rows = connection.execute(
            f"SELECT {text}, count(*) AS n FROM {sample} WHERE {text} IS NOT NULL "
            f"GROUP BY ALL ORDER BY n DESC, {text} LIMIT {MAX_VALUES + 1}"
        ).fetchall()
        if not rows or len(rows) > MAX_VALUES:
            continue
        cells = sum(n for _, n in rows)
        seen_once = sum(1 for _, n in rows if n == 1)
        if complete or seen_once <= UNSEEN_SHARE * cells:
            found[text] = tuple(value for value, _ in rows)
    return found


@dataclass(frozen=True)
class Overflow:
    """What the checked rows hold besides a dictionary's values."""

    values: tuple[str, ...]
    """Distinct values of kept rows (`_reason IS NULL`) that the dictionary lacks."""
    has_null: bool
    """Whether any row (kept or not) has no value: the text column's Parquet nullability."""

    @property
    def text_needed(self) -> bool:
        """The output must be a stored text column: rebuilt from `e_`/`o_` it would be OPTIONAL
        in Parquet where the text column (no NULL anywhere) is REQUIRED."""
        return bool(self.values) and not self.has_null


def overflow(
    connection: duckdb.DuckDBPyConnection, table: str, dictionaries: Sequence[Dictionary]
) -> dict[str, Overflow]:
    """Per dictionary, what `table`'s rows hold besides its values: counts in one scan (a
    DISTINCT aggregate over every row ran on one thread, 0.1 s at 1.5 M rows), then the
    distinct values only of the columns that have some."""
    if not dictionaries:
        return {}
    counts = ", ".join(
        f"count(e_{d.name}), count(o_{d.name}) FILTER (WHERE _reason IS NULL)" for d in dictionaries
    )
    row = connection.execute(f"SELECT count(*), {counts} FROM {table}").fetchone()
    assert row is not None
    found = {}
    for i, d in enumerate(dictionaries):
        values: tuple[str, ...] = ()
        if row[2 + 2 * i]:
            o = f"o_{d.name}"
            values = tuple(
                value
                for (value,) in connection.execute(
                    f"SELECT DISTINCT {o} FROM {table} "
                    f"WHERE {o} IS NOT NULL AND _reason IS NULL ORDER BY {o}"
                ).fetchall()
            )
        found[d.name] = Overflow(values, has_null=row[1 + 2 * i] < row[0])
    return found


def text_sql(dictionary: Dictionary) -> str:
    """The text value again, from `e_<name>` and `o_<name>`."""
    e, o = f"e_{dictionary.name}", f"o_{dictionary.name}"
    return f"CASE WHEN enum_code({e}) = 0 THEN {o} ELSE CAST({e} AS VARCHAR) END"


def output_sql(
    connection: duckdb.DuckDBPyConnection,
    dictionary: Dictionary,
    overflow: Sequence[str],
    transform: Callable[[str], str] | None = None,
) -> str:
    """The output value of a dictionary column of the kept rows: the value itself, or
    `transform` (SQL of one text value) computed once per distinct value."""
    e, o = f"e_{dictionary.name}", f"o_{dictionary.name}"
    if transform is None:
        return text_sql(dictionary) if overflow else e
    inputs = [None, *dictionary.values, *overflow]
    rows = connection.execute(
        f"SELECT {transform('x')} FROM (SELECT unnest($1::VARCHAR[]) AS x, "
        "generate_subscripts($1::VARCHAR[], 1) AS i) ORDER BY i",
        [inputs],
    ).fetchall()
    results = [r[0] for r in rows]
    output = enum_type(sorted({r for r in results if r is not None}))

    def typed(value: str | None) -> str:
        return f"CAST({'NULL' if value is None else quote(value)} AS {output})"

    # Position 1 of the list is the sentinel's (code 0): never read, its rows take `o`. One
    # cast of the whole list: the ENUM's values are written once.
    texts = ("NULL" if r is None else quote(r) for r in results[: len(dictionary.values) + 1])
    mapped = f"CAST([{', '.join(texts)}] AS {output}[])"
    sql = f"CASE WHEN {e} IS NULL THEN {typed(results[0])} "
    if overflow:
        sql += f"WHEN enum_code({e}) = 0 THEN CAST({transform(o)} AS {output}) "
    return sql + f"ELSE list_extract({mapped}, enum_code({e}) + 1) END"
