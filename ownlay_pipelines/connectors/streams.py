"""Declarative stream specs: what one platform table is, how it is fetched and normalised.

A connector module lists its streams as `StreamSpec`s; the Dagster factory turns each into an
asset, and `connectors/sync.py` runs it. Adding a table is adding a spec, not copying an asset.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import pyarrow as pa

from ownlay_pipelines.http.client import ApiClient
from ownlay_pipelines.http.rate_limit import RateLimit
from ownlay_pipelines.lake.tables import TableRef
from ownlay_pipelines.registry.workspaces import Connection, Workspace
from ownlay_pipelines.schema.campaign_metrics import MONEY
from ownlay_pipelines.schema.date_range import DateRange
from ownlay_pipelines.schema.platforms import Platform


class Partitioning(StrEnum):
    """How a stream's lake table is partitioned (ARCHITECTURE.md §3)."""

    WORKSPACE = "workspace"
    """Entity snapshots: one file per workspace, replaced on every sync."""
    DATE_AND_WORKSPACE = "date_and_workspace"
    """Reporting data: one file per workspace and account-local report date."""


class Cadence(StrEnum):
    """Seed 000's sync frequency of an entity; the tier decides which cadences a workspace gets."""

    EVERY_15_MINUTES = "15min"
    HOURLY = "hourly"
    EVERY_6_HOURS = "6hourly"
    DAILY = "daily"


@dataclass(frozen=True)
class FetchRequest:
    """What one fetch is for: a workspace's connection and, for reports, the days wanted."""

    workspace: Workspace
    connection: Connection
    date_range: DateRange | None = None

    def row_keys(self) -> dict[str, str]:
        """The tenant and account columns every normalised row of this fetch starts with."""
        return {"workspace_id": self.workspace.id, "account_id": self.connection.account_id}


def key_fields(*names: str) -> list[pa.Field]:
    """Non-null text columns: workspace_id, account_id, then `names` (an entity's identity)."""
    return [
        pa.field(n, pa.string(), nullable=False) for n in ("workspace_id", "account_id", *names)
    ]


def text_fields(*names: str) -> list[pa.Field]:
    """Nullable text columns."""
    return [pa.field(n, pa.string()) for n in names]


def campaign_snapshot_schema(*extra: pa.Field) -> pa.Schema:
    """A `campaigns` snapshot: the columns the unified model joins on (`connectors/platform.py`)
    plus objective, daily budget and currency, then a platform's `extra` columns."""
    return pa.schema(
        [
            *key_fields("campaign_id"),
            *text_fields("campaign_name", "status", "platform_status", "objective"),
            pa.field("daily_budget", MONEY),
            pa.field("currency", pa.string()),
            *extra,
        ]
    )


Record = Mapping[str, Any]
Fetcher = Callable[[ApiClient, FetchRequest], Iterator[Record]]
Normaliser = Callable[[Record, FetchRequest], dict[str, Any]]


@dataclass(frozen=True)
class StreamSpec:
    """One platform table: where it lands, how it is partitioned, fetched and normalised."""

    platform: Platform
    table: str
    description: str
    partitioning: Partitioning
    cadence: Cadence
    schema: pa.Schema
    primary_key: tuple[str, ...]
    fetch: Fetcher
    normalise: Normaliser
    restatement_lookback_days: int = 0
    """Days before today re-pulled on every scheduled sync because the platform restates them."""
    feeds_campaign_metrics: bool = False
    """True when rows carry the shared campaign-day columns and flow into the unified table."""
    wire_date_path: str | None = None
    """Dotted path of the report date in a raw record, used to file a refused row by its day."""

    def __post_init__(self) -> None:
        missing = [name for name in self.primary_key if name not in self.schema.names]
        if missing:
            raise ValueError(f"{self.ref}: primary key columns {missing} are not in the schema")
        if self.partitioning is Partitioning.DATE_AND_WORKSPACE and (
            "report_date" not in self.schema.names
        ):
            raise ValueError(f"{self.ref}: a date-partitioned stream needs a report_date column")

    @property
    def ref(self) -> TableRef:
        return TableRef.of("raw", self.platform.value, self.table)


@dataclass(frozen=True)
class Connector:
    """A platform: how to build its client for a connection, its rate limits and its streams."""

    platform: Platform
    build_client: Callable[..., ApiClient]
    rate_limits: tuple[RateLimit, ...]
    streams: tuple[StreamSpec, ...] = field(default_factory=tuple)
    credential_names: tuple[str, ...] = ()
    """Credentials a live connection must name in the registry (e.g. access_token)."""
    optional_credential_names: tuple[str, ...] = ()
    """Credentials read when the registry names them (e.g. a refresh grant, `http/oauth.py`)."""
