"""Export to BigQuery with the official client: one Parquet load job per (table, day).

The destination dataset belongs to one workspace, so a day's rows are replaced atomically by a
load job with `WRITE_TRUNCATE` on the partition decorator `table$YYYYMMDD`: a rerun replaces that
day, never duplicates it, and other days stay. Tables are created from the lake's Arrow schema,
partitioned by day on `report_date` and clustered by `workspace_id` (seed 000's BigQuery schema).
"""

from __future__ import annotations

import io
import json
from datetime import date

import pyarrow as pa
import pyarrow.parquet as pq
from google.api_core.exceptions import NotFound
from google.cloud import bigquery

PARTITION_COLUMN = "report_date"


def bigquery_type(data_type: pa.DataType) -> str:
    """The BigQuery column type holding an Arrow type of the lake."""
    if pa.types.is_string(data_type) or pa.types.is_large_string(data_type):
        return "STRING"
    if pa.types.is_integer(data_type):
        return "INT64"
    if pa.types.is_floating(data_type):
        return "FLOAT64"
    if pa.types.is_boolean(data_type):
        return "BOOL"
    if pa.types.is_decimal(data_type):
        fits = data_type.precision - data_type.scale <= 29 and data_type.scale <= 9
        return "NUMERIC" if fits else "BIGNUMERIC"
    if pa.types.is_date(data_type):
        return "DATE"
    if pa.types.is_timestamp(data_type):
        return "TIMESTAMP"
    raise TypeError(f"no BigQuery type for Arrow {data_type}")


def bigquery_schema(schema: pa.Schema) -> list[bigquery.SchemaField]:
    return [
        bigquery.SchemaField(
            field.name, bigquery_type(field.type), mode="NULLABLE" if field.nullable else "REQUIRED"
        )
        for field in schema
    ]


def client_from_service_account(project: str, service_account_json: str) -> bigquery.Client:
    """A client authenticated with a service account key (the JSON text, from an EnvVar)."""
    from google.oauth2 import service_account

    credentials = service_account.Credentials.from_service_account_info(
        json.loads(service_account_json)
    )
    return bigquery.Client(project=project, credentials=credentials)


class BigQueryTarget:
    """One dataset of a customer's project, written through `client`."""

    def __init__(self, client: bigquery.Client, dataset: str, location: str = "US") -> None:
        self.client = client
        self.dataset = bigquery.DatasetReference(client.project, dataset)
        self.location = location

    def ensure_table(self, name: str, schema: pa.Schema) -> bigquery.Table:
        """The table `name`, created (dataset too) from the lake schema if missing."""
        reference = self.dataset.table(name)
        try:
            return self.client.get_table(reference)
        except NotFound:
            pass
        dataset = bigquery.Dataset(self.dataset)
        dataset.location = self.location
        self.client.create_dataset(dataset, exists_ok=True)
        table = bigquery.Table(reference, schema=bigquery_schema(schema))
        table.time_partitioning = bigquery.TimePartitioning(
            type_=bigquery.TimePartitioningType.DAY, field=PARTITION_COLUMN
        )
        table.clustering_fields = ["workspace_id"]
        return self.client.create_table(table, exists_ok=True)

    def replace_day(self, name: str, workspace_id: str, day: date, rows: pa.Table) -> int:
        """Replace the table's partition of `day` with `rows` (one Parquet load job).

        The dataset is the workspace's own (a destination belongs to one workspace), so the
        day's partition holds only `workspace_id`'s rows."""
        self.ensure_table(name, rows.schema)
        buffer = io.BytesIO()
        pq.write_table(rows, buffer)
        buffer.seek(0)
        job_config = bigquery.LoadJobConfig(
            source_format=bigquery.SourceFormat.PARQUET,
            write_disposition=bigquery.WriteDisposition.WRITE_TRUNCATE,
        )
        job = self.client.load_table_from_file(
            buffer,
            self.dataset.table(f"{name}${day:%Y%m%d}"),
            job_config=job_config,
            location=self.location,
        )
        job.result()
        return rows.num_rows
