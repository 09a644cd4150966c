"""Merging webhook rows into a stored lake partition: per primary key, the newest version wins.

Webhooks arrive at least once and out of order (Shopify and Stripe alike), so a delivery may
repeat a row the partition already holds or be older than it. The merge keeps, per primary key,
the row with the greatest version; a stored row wins a tie (a replay changes nothing), and among
the incoming rows of one batch the later delivery wins — except that a deletion (a tombstone row)
wins a tie with any other version of its second.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from ownlay_pipelines.connectors.streams import StreamSpec


def newest_per_key(
    spec: StreamSpec,
    stored: pa.Table | None,
    incoming: pa.Table,
    *,
    version_column: str | None,
    tombstone_column: str | None = None,
) -> pa.Table:
    """One row per primary key of `spec`: the highest `version_column` (NULL loses to any
    value), then — with a `tombstone_column` — a row marking the object deleted (a deletion is
    final, so it is the last of its second), then the stored row, then the later incoming row;
    without a version column the stored row, then the later incoming row. Sorted by primary key,
    in `spec.schema`."""
    key = ", ".join(spec.primary_key)
    order = "_arrival = 0 DESC, _arrival DESC"
    if tombstone_column is not None:
        order = f"coalesce({tombstone_column}, false) DESC, {order}"
    if version_column is not None:
        order = f"{version_column} DESC NULLS LAST, {order}"
    arrivals = pa.array(range(1, incoming.num_rows + 1), pa.int64())
    tables = {"incoming": incoming.append_column("_arrival", arrivals)}
    if stored is not None:
        tables["stored"] = stored.append_column(
            "_arrival", pa.array([0] * stored.num_rows, pa.int64())
        )
    with duckdb.connect() as connection:
        for name, table in tables.items():
            connection.register(name, table)
        union = " UNION ALL BY NAME ".join(f"SELECT * FROM {name}" for name in tables)
        newest = connection.sql(
            f"SELECT * EXCLUDE (_arrival) FROM ({union}) QUALIFY row_number() OVER "
            f"(PARTITION BY {key} ORDER BY {order}) = 1 ORDER BY {key}"
        ).to_arrow_table()
    return newest.select(spec.schema.names).cast(spec.schema)


def keep_known(
    spec: StreamSpec, stored: pa.Table | None, merged: pa.Table, columns: tuple[str, ...]
) -> pa.Table:
    """`merged` with each of `columns` that is NULL taken from the stored row of the same key:
    for fields that never change once set, which a newer version may no longer send (a Stripe
    Charge from API 2025-03-31 on has no `invoice`). Sorted by primary key, in `spec.schema`."""
    if stored is None or not columns or stored.num_rows == 0:
        return merged
    keys = ", ".join(spec.primary_key)
    kept = ", ".join(f"coalesce(m.{c}, s.{c}) AS {c}" for c in columns)
    with duckdb.connect() as connection:
        connection.register("merged", merged)
        connection.register("stored", stored.select([*spec.primary_key, *columns]))
        table = connection.sql(
            f"SELECT m.* REPLACE ({kept}) FROM merged m LEFT JOIN stored s USING ({keys}) "
            f"ORDER BY {', '.join(f'm.{k}' for k in spec.primary_key)}"
        ).to_arrow_table()
    return table.select(spec.schema.names).cast(spec.schema)
