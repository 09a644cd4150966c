"""An order id on more than one row of an orders file that loads: the order is loaded once.

A row whose order id repeats an earlier row's is one of two things:

- its total is empty: a further line item of the same order, as Shopify's order export writes
  one row per line item with the order's totals on the first only. It is refused by the pass
  (its total is required) and then skipped as `line item of the order above` (`skipped`, with
  the key `order_id` and head `total` when the file is no known export).
- it has a total of its own: two rows claim to be the same order, and which one is right cannot
  be told. The first kept row loads; each later kept row is quarantined with the reason
  `order id repeats line <N>`, N the first row's line, so the order is never counted twice. The
  load's reason counts (from `upload_refused`) say `order id repeats an earlier row`, one count
  for all of them instead of one per first line.

Finding them costs one aggregate over the checked rows. Only when there are some does the load
run its pass again keeping those rows' cells (`convert.create_checked`'s `cells_also`), which
the quarantine record needs; then `mark_repeated_orders` refuses them.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb

from ownlay_pipelines.uploads.convert import CHECKED, REFUSED
from ownlay_pipelines.uploads.formats import quote

REPEATED_IDS = "upload_repeated_order_ids"
KEEP_CELLS = f"v_order_id IN (SELECT order_id FROM {REPEATED_IDS})"
"""`cells_also` of the pass that keeps the cells of the rows `mark_repeated_orders` refuses."""
REASON_PREFIX = "order id repeats line "
COUNTED_REASON = "order id repeats an earlier row"


def find_repeated_orders(connection: duckdb.DuckDBPyConnection) -> int:
    """(Re)create `upload_repeated_order_ids`: order ids that more than one kept row of
    `upload_checked` has; returns how many."""
    connection.execute(
        f"CREATE OR REPLACE TEMP TABLE {REPEATED_IDS} AS SELECT v_order_id AS order_id "
        f"FROM {CHECKED} WHERE _reason IS NULL AND v_order_id IS NOT NULL "
        "GROUP BY ALL HAVING count(*) > 1"
    )
    found = connection.execute(f"SELECT count(*) FROM {REPEATED_IDS}").fetchone()
    return found[0] if found else 0


def mark_repeated_orders(
    connection: duckdb.DuckDBPyConnection, line: Callable[[str], str], column: str
) -> None:
    """Refuse every kept row of a repeated order id but the first, naming the first's line
    (`line`: SQL of a checked row's file line given SQL of its row id), under the file's order
    id header `column`; add them to `upload_refused` with the `COUNTED_REASON`."""
    connection.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE upload_repeated_rows AS
        WITH kept AS (
            SELECT rowid AS row_id, v_order_id AS order_id, {line("rowid")} AS line
            FROM {CHECKED} WHERE _reason IS NULL AND {KEEP_CELLS}
        ),
        firsts AS (SELECT order_id, arg_min(line, row_id) AS first_line, min(row_id) AS first_row
                   FROM kept GROUP BY order_id)
        SELECT row_id, {quote(REASON_PREFIX)} || first_line AS reason
        FROM kept JOIN firsts USING (order_id) WHERE row_id > first_row
        """
    )
    connection.execute(
        f"UPDATE {CHECKED} SET _reason = r.reason, _column = {quote(column)} "
        f"FROM upload_repeated_rows r WHERE {CHECKED}.rowid = r.row_id"
    )
    counted = {"row_id": "rowid", "_reason": quote(COUNTED_REASON)}
    columns = [f"{counted.get(c, c)} AS {c}" for c in connection.table(REFUSED).columns]
    connection.execute(
        f"INSERT INTO {REFUSED} SELECT {', '.join(columns)} FROM {CHECKED} "
        "WHERE rowid IN (SELECT row_id FROM upload_repeated_rows)"
    )
