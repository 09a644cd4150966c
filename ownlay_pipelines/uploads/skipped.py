"""Rows of a file that are not data and not errors either: they are skipped and counted apart.

Only rows the pass refused can be skipped (each would otherwise be quarantined), so a row that
loads is never dropped. Four kinds:

- **Empty rows** (`EMPTY_ROW`): every cell empty or blank, as a spreadsheet's "Save as CSV"
  writes an empty sheet row (`,,,`). A blank line is not a row at all (the reader skips it); a
  line of delimiters is the same thing and is counted here instead of quarantined for its empty
  required values. Empty rows are no data either when deciding where the data ends, so a totals
  line followed by them is still in the trailing block.
- **Summary rows** (`SUMMARY_ROW`): the totals lines ad platforms and spreadsheets write before or
  after the data (`Total`, `Totals`, `Grand total`, `Total: Account`, Google Ads' `Total:
  Campaigns`, `Gesamt: Konto`, `Summe`, `Insgesamt`, `Total général`, `Totale`, `Totaal`…). A row
  is one when its first non-empty cell is such a label (alone or followed by `:`, `-` and more),
  each of its identifying cells (the kind's `LABEL_TARGETS`: a cost row's date and campaign) is
  empty or holds the label, and it sits in the leading or trailing block of the data: no row that
  is not a summary row comes before it, or none after it. A row labelled like a total in the middle
  of the data, or one with a real date, stays a bad row (quarantined) as before.
- **Line items of an order above** (`CONTINUATION_ROW`): see `layouts` (Shopify orders export)
  and, for other orders files, `repeated_orders` (keyed on the order id).
- **Repeated headers** (`REPEATED_HEADER`): a row whose every cell is the header's cell in the
  same position (spaces around and case aside), as exports that concatenate pages write the
  header again above each page. Anywhere in the data.

`mark_skipped` writes the skipped rows' ids in `upload_checked` and their reason to the temp table
`upload_skipped`; the quarantine and its counts leave them out, the load reports them apart.
"""

from __future__ import annotations

import duckdb

from ownlay_pipelines.uploads.convert import CHECKED, REFUSED, refused_cell
from ownlay_pipelines.uploads.formats import quote
from ownlay_pipelines.uploads.kinds import UploadKind
from ownlay_pipelines.uploads.layouts import ExportLayout

SKIPPED = "upload_skipped"
EMPTY_ROWS = "upload_empty_rows"
EMPTY_ROW = "empty row"
SUMMARY_ROW = "summary row (totals)"
CONTINUATION_ROW = "line item of the order above"
REPEATED_HEADER = "repeated header"

TOTALS_LABEL = (
    r"(grand total|totals?|total general|total geral|totale( complessivo| generale)?|totaal"
    r"|totaux|gesamt(summe|ergebnis)?|insgesamt|summe|suma( total)?|soma)(\s*[:\-–].*)?"
)
"""A totals label, matched on the trimmed, lower-cased cell without accents."""

LABEL_TARGETS: dict[UploadKind, tuple[str, ...]] = {
    UploadKind.COSTS: ("report_date", "campaign_id", "campaign_name"),
    UploadKind.ORDERS: ("order_id", "order_name", "order_date"),
    UploadKind.EVENTS: ("occurred_at", "event_type"),
}
"""The cells that say what a row is about; a summary row has none of them (or the label)."""

CONTINUATION_BY_KIND: dict[UploadKind, tuple[str, str]] = {
    UploadKind.ORDERS: ("order_id", "total"),
}
"""(key, head) of a file that is no known export with its own (`layouts`): an orders row whose
order id repeats an earlier row's and whose total is empty is a line item of that order
(`repeated_orders`)."""


def _is_label(cell: str) -> str:
    return f"regexp_full_match(strip_accents(lower(trim({cell}))), {quote(TOTALS_LABEL)})"


def _blank(cell: str) -> str:
    return f"NULLIF(trim({cell}), '') IS NULL"


def _summary_candidates(kind: UploadKind, columns: dict[str, int]) -> str:
    """SQL of the row ids of refused rows that look like summary rows, wherever they are."""
    first = "list_filter(_cells, lambda x: NULLIF(trim(x), '') IS NOT NULL)[1]"
    identifying = [
        f"({_blank(refused_cell(columns[t]))} OR {_is_label(refused_cell(columns[t]))})"
        for t in LABEL_TARGETS[kind]
        if t in columns
    ]
    candidate = " AND ".join([f"{first} IS NOT NULL", _is_label(first), *identifying])
    return f"SELECT row_id FROM {REFUSED} WHERE {candidate}"


def _empty_rows() -> str:
    """SQL of the row ids of refused rows whose every cell is empty or blank."""
    return (
        f"SELECT row_id FROM {REFUSED} "
        "WHERE len(list_filter(_cells, lambda x: NULLIF(trim(x), '') IS NOT NULL)) = 0"
    )


def _repeated_headers(header: tuple[str, ...]) -> str:
    """SQL of (row_id, reason) of the refused rows that are the header again."""
    cells = "list_transform(_cells, lambda x: lower(trim(coalesce(x, ''))))"
    written = ", ".join(quote(h.strip(" ").lower()) for h in header)
    return (
        f"SELECT row_id, {quote(REPEATED_HEADER)} AS reason FROM {REFUSED} "
        f"WHERE {cells} = CAST([{written}] AS VARCHAR[])"
    )


def _summary_rows(connection: duckdb.DuckDBPyConnection, candidates: str) -> str:
    """SQL of (row_id, reason) of the `candidates` (a table of row ids) in the leading or
    trailing block of the data (empty rows are not data); FALSE-filtered when there are none
    (the usual case, which then costs no scan of every row)."""
    row = connection.execute(f"SELECT count(*) FROM {candidates}").fetchone()
    if not row or not row[0]:
        return f"SELECT NULL::BIGINT AS row_id, {quote(SUMMARY_ROW)} AS reason WHERE false"
    return f"""
        WITH data AS (
            SELECT min(rowid) AS first_row, max(rowid) AS last_row FROM {CHECKED}
            WHERE rowid NOT IN (SELECT row_id FROM {candidates})
                AND rowid NOT IN (SELECT row_id FROM {EMPTY_ROWS})
        )
        SELECT row_id, {quote(SUMMARY_ROW)} AS reason FROM {candidates}, data
        WHERE data.first_row IS NULL OR row_id < data.first_row OR row_id > data.last_row
    """


def _continuation_rows(continuation: tuple[str, str], columns: dict[str, int]) -> str | None:
    """SQL of (row_id, reason) of the refused rows that continue an earlier row (`layouts`)."""
    key, head = continuation
    if key not in columns or head not in columns:
        return None
    head_filled = f"(_reason IS NULL OR NOT {_blank(refused_cell(columns[head]))})"
    return f"""
        WITH keyed AS (
            SELECT rowid AS row_id, v_{key} AS key, {head_filled} AS head FROM {CHECKED}
            WHERE v_{key} IS NOT NULL
        ),
        heads AS (SELECT key, min(row_id) AS head_row FROM keyed WHERE head GROUP BY key)
        SELECT row_id, {quote(CONTINUATION_ROW)} AS reason
        FROM keyed JOIN heads USING (key)
        WHERE NOT keyed.head AND row_id > heads.head_row
    """


def mark_skipped(
    connection: duckdb.DuckDBPyConnection,
    *,
    kind: UploadKind,
    header: tuple[str, ...],
    columns: dict[str, int],
    export: ExportLayout | None,
) -> int:
    """(Re)create `upload_skipped (row_id, reason)` for the refused rows of `upload_checked` that
    are empty rows, summary rows, line-item continuations or the `header` repeated (module
    docstring); returns how many."""
    connection.execute(f"CREATE OR REPLACE TEMP TABLE {EMPTY_ROWS} AS {_empty_rows()}")
    connection.execute(
        f"CREATE OR REPLACE TEMP TABLE upload_summary_candidates AS "
        f"{_summary_candidates(kind, columns)}"
    )
    selects = [
        f"SELECT row_id, {quote(EMPTY_ROW)} AS reason FROM {EMPTY_ROWS}",
        _summary_rows(connection, "upload_summary_candidates"),
        _repeated_headers(header),
    ]
    grouping = export.continuation if export is not None else None
    grouping = grouping or CONTINUATION_BY_KIND.get(kind)
    if grouping is not None and (continuation := _continuation_rows(grouping, columns)):
        selects.append(continuation)
    # A row that is both (a continuation labelled like a total) is counted once.
    union = " UNION ALL ".join(f"SELECT * FROM ({s})" for s in selects)
    connection.execute(
        f"CREATE OR REPLACE TEMP TABLE {SKIPPED} AS "
        f"SELECT row_id, min(reason) AS reason FROM ({union}) GROUP BY row_id"
    )
    counted = connection.execute(f"SELECT count(*) FROM {SKIPPED}").fetchone()
    return counted[0] if counted else 0
