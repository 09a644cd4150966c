"""Export to Snowflake with the official connector: stage a day through `write_pandas`, then
replace it in one transaction.

`write_pandas` uploads the rows as Parquet to a temporary stage and `COPY INTO`s a temporary
table; then `DELETE` of the (workspace, day) and `INSERT … SELECT` from the temporary table run in
one transaction, so readers see the old day or the new one and a rerun replaces, never
duplicates. Tables are created from the lake's Arrow schema.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pyarrow as pa

PARTITION_COLUMN = "report_date"
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,254}$")


def snowflake_type(data_type: pa.DataType) -> str:
    """The Snowflake column type holding an Arrow type of the lake."""
    if pa.types.is_string(data_type) or pa.types.is_large_string(data_type):
        return "VARCHAR"
    if pa.types.is_integer(data_type):
        return "NUMBER(38,0)"
    if pa.types.is_floating(data_type):
        return "FLOAT"
    if pa.types.is_boolean(data_type):
        return "BOOLEAN"
    if pa.types.is_decimal(data_type):
        return f"NUMBER({min(data_type.precision, 38)},{data_type.scale})"
    if pa.types.is_date(data_type):
        return "DATE"
    if pa.types.is_timestamp(data_type):
        return "TIMESTAMP_TZ" if data_type.tz else "TIMESTAMP_NTZ"
    raise TypeError(f"no Snowflake type for Arrow {data_type}")


def _identifier(name: str) -> str:
    if not IDENTIFIER.fullmatch(name):
        raise ValueError(f"{name!r} is not a plain Snowflake identifier")
    return name.upper()


def connect_snowflake(
    *, account: str, user: str, password: str, database: str, schema: str, warehouse: str
) -> Any:
    """A connection of the official connector (secrets come from the caller's EnvVars)."""
    import snowflake.connector

    return snowflake.connector.connect(
        account=account,
        user=user,
        password=password,
        database=database,
        schema=schema,
        warehouse=warehouse,
    )


class SnowflakeTarget:
    """One schema of a customer's Snowflake database, written through `connection`."""

    def __init__(self, connection: Any, database: str, schema: str) -> None:
        self.connection = connection
        self.database = _identifier(database)
        self.schema = _identifier(schema)

    def ensure_table(self, name: str, schema: pa.Schema) -> None:
        columns = ", ".join(
            f"{_identifier(field.name)} {snowflake_type(field.type)}"
            + ("" if field.nullable else " NOT NULL")
            for field in schema
        )
        with self.connection.cursor() as cursor:
            cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {self.database}.{self.schema}")
            cursor.execute(f"CREATE TABLE IF NOT EXISTS {self._table(name)} ({columns})")

    def replace_day(self, name: str, workspace_id: str, day: date, rows: pa.Table) -> int:
        """Replace the table's rows of (`workspace_id`, `day`) with `rows`, in one transaction."""
        from snowflake.connector.pandas_tools import write_pandas

        self.ensure_table(name, rows.schema)
        staging = f"{_identifier(name)}_STAGING"
        frame = rows.to_pandas()
        frame.columns = [column.upper() for column in frame.columns]
        write_pandas(
            self.connection,
            frame,
            staging,
            database=self.database,
            schema=self.schema,
            auto_create_table=True,
            overwrite=True,
            table_type="temporary",
            quote_identifiers=False,
            use_logical_type=True,
        )
        columns = ", ".join(_identifier(field.name) for field in rows.schema)
        with self.connection.cursor() as cursor:
            cursor.execute("BEGIN")
            try:
                cursor.execute(
                    f"DELETE FROM {self._table(name)} WHERE WORKSPACE_ID = %s "
                    f"AND {PARTITION_COLUMN.upper()} = %s",
                    (workspace_id, day.isoformat()),
                )
                cursor.execute(
                    f"INSERT INTO {self._table(name)} ({columns}) "
                    f"SELECT {columns} FROM {self.database}.{self.schema}.{staging}"
                )
                cursor.execute("COMMIT")
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
        return rows.num_rows

    def _table(self, name: str) -> str:
        return f"{self.database}.{self.schema}.{_identifier(name)}"
