"""`ownlay sql`: query the analysts' warehouse (`warehouse.duckdb`) without the DuckDB CLI.

The warehouse is opened read-only, so a query never blocks a pipeline run or the catalog refresh,
and nothing an analyst types can change it.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

CATALOG_QUERY = "SELECT relation, lake_table, description FROM ownlay_catalog ORDER BY relation"


def register_cli(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `sql` to the `ownlay` command's subparsers."""
    sql = subparsers.add_parser(
        "sql",
        help="run SQL on the warehouse (read-only); without a query, list its views",
        description=(
            "Run one or more SQL statements on warehouse.duckdb, read-only, and print each "
            "result. QUERY '-' reads the statements from standard input."
        ),
    )
    sql.add_argument("query", nargs="?", default=CATALOG_QUERY, help="SQL text, or - for stdin")
    sql.add_argument("--warehouse", type=Path, help="default: OWNLAY_DATA_DIR/warehouse.duckdb")
    sql.add_argument("--csv", action="store_true", help="print CSV instead of a table")
    sql.add_argument("--max-rows", type=int, default=100, help="rows shown per result (table)")
    sql.set_defaults(handler=_sql)


def _sql(args: argparse.Namespace) -> int:
    import duckdb

    from ownlay_pipelines.settings import Settings

    path = args.warehouse or Settings.from_env().warehouse_path
    if not path.exists():
        print(f"error: warehouse {path} does not exist; run `make demo` first", file=sys.stderr)
        return 2
    text = sys.stdin.read() if args.query == "-" else args.query
    try:
        with duckdb.connect(str(path), read_only=True) as connection:
            for statement in connection.extract_statements(text):
                result = connection.execute(statement)
                if result.description is None:
                    continue
                header = [column[0] for column in result.description]
                if args.csv:
                    writer = csv.writer(sys.stdout, lineterminator="\n")
                    writer.writerow(header)
                    writer.writerows(result.fetchall())
                else:
                    _print_table(header, result.fetchmany(args.max_rows), more=result.fetchone())
    except duckdb.Error as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def _print_table(header: list[str], rows: list[tuple[object, ...]], *, more: object) -> None:
    """Columns padded to their widest value (NULL shown as NULL), then a blank line."""
    cells = [header, *([("NULL" if v is None else str(v)) for v in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for number, row in enumerate(cells):
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
        if number == 0:
            print("  ".join("-" * w for w in widths))
    shown = f"{len(rows)} row(s)" + (", more not shown (raise --max-rows)" if more else "")
    print(f"({shown})\n")
