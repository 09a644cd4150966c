"""Which lake tables go to which customer warehouse: destinations read from a YAML file.

`OWNLAY_EXPORT_CONFIG` names the file (default: none, nothing is exported). Each destination
belongs to one workspace (a customer exports into their own warehouse) and names its secrets
only by environment variable (read with Dagster's `EnvVar` when a run opens the connection),
never by value:

```yaml
destinations:
  - name: acme_bigquery
    workspace_id: acme
    kind: bigquery
    project: acme-analytics
    dataset: ownlay
    credentials_env: ACME_BIGQUERY_SERVICE_ACCOUNT_JSON
    tables: [unified/campaign_metrics_daily, marts/roas_daily]
  - name: acme_snowflake
    workspace_id: acme
    kind: snowflake
    account_env: ACME_SNOWFLAKE_ACCOUNT
    user_env: ACME_SNOWFLAKE_USER
    password_env: ACME_SNOWFLAKE_PASSWORD
    database: ANALYTICS
    schema: OWNLAY
    warehouse: LOADING
    tables: [marts/roas_daily]
```
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ownlay_pipelines.lake.tables import TableRef
from ownlay_pipelines.registry.tenant import validate_workspace_id

EXPORT_CONFIG_ENV = "OWNLAY_EXPORT_CONFIG"
EXPORTABLE_TABLES = (
    "unified/campaign_metrics_daily",
    "marts/roas_daily",
    "marts/attribution",
    "marts/channel_claims_daily",
    "marts/mrr_daily",
)
"""Warehouse tables partitioned by workspace and report date, the unit an export replaces."""


class WarehouseKind(StrEnum):
    BIGQUERY = "bigquery"
    SNOWFLAKE = "snowflake"


class Destination(BaseModel):
    """One customer warehouse and the tables copied into it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")
    workspace_id: str
    kind: WarehouseKind
    tables: tuple[str, ...] = Field(min_length=1)
    # BigQuery
    project: str | None = None
    dataset: str | None = None
    location: str = "US"
    credentials_env: str | None = None
    # Snowflake
    account_env: str | None = None
    user_env: str | None = None
    password_env: str | None = None
    database: str | None = None
    schema_: str | None = Field(default=None, alias="schema")
    warehouse: str | None = None

    @field_validator("workspace_id")
    @classmethod
    def _workspace(cls, value: str) -> str:
        validate_workspace_id(value)
        return value

    @field_validator("tables")
    @classmethod
    def _tables(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - set(EXPORTABLE_TABLES))
        if unknown:
            raise ValueError(
                f"tables {unknown} cannot be exported; choose from {EXPORTABLE_TABLES}"
            )
        return value

    def model_post_init(self, _context: object) -> None:
        required = (
            ("project", "dataset")
            if self.kind is WarehouseKind.BIGQUERY
            else ("account_env", "user_env", "password_env", "database", "schema_", "warehouse")
        )
        missing = [name.rstrip("_") for name in required if getattr(self, name) is None]
        if missing:
            raise ValueError(f"destination {self.name} ({self.kind}): missing {missing}")

    def table_refs(self) -> list[TableRef]:
        return [TableRef.parse(name) for name in self.tables]


class ExportConfig(BaseModel):
    """Every destination of the deployment."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    destinations: tuple[Destination, ...] = ()

    def for_table(self, kind: WarehouseKind, table: str, workspace_id: str) -> list[Destination]:
        """The destinations of `kind` that receive `table` for `workspace_id`."""
        return [
            d
            for d in self.destinations
            if d.kind is kind and d.workspace_id == workspace_id and table in d.tables
        ]


def load_export_config(environ: Mapping[str, str] | None = None) -> ExportConfig:
    """The destinations in `OWNLAY_EXPORT_CONFIG`, or none when it is unset."""
    env = os.environ if environ is None else environ
    path = env.get(EXPORT_CONFIG_ENV, "").strip()
    if not path:
        return ExportConfig()
    return ExportConfig.model_validate(yaml.safe_load(Path(path).read_text()) or {})
