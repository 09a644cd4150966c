"""Resources: the workspace registry, the lake, and platform clients (sandbox or live).

Secrets never appear in resource config: a live connection names environment variables in the
registry and they are read with `EnvVar` when a run opens the client.
"""

import os
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import dagster as dg
import httpx
import sqlalchemy as sa
from pydantic import Field

from ownlay_pipelines.connectors.streams import Connector
from ownlay_pipelines.http.client import ApiClient
from ownlay_pipelines.http.clock import FakeClock, SystemClock
from ownlay_pipelines.http.errors import MalformedCredential
from ownlay_pipelines.http.rate_limit import RateLimiterRegistry
from ownlay_pipelines.ingest.config import BUFFER_FILE
from ownlay_pipelines.registry.cache import load_registry_cached
from ownlay_pipelines.registry.workspaces import Connection, Registry, Workspace
from ownlay_pipelines.sandbox.credentials import sandbox_credential
from ownlay_pipelines.sandbox.faults import FaultPlan, PlatformFaults
from ownlay_pipelines.sandbox.transport import sandbox_transport
from ownlay_pipelines.sandbox.world import SandboxWorld
from ownlay_pipelines.settings import DEFAULT_REGISTRY_FILE, Mode, Settings
from ownlay_pipelines.watchtower.store import (
    DATABASE_URL_ENV,
    SQLITE_FILE_NAME,
    normalize_database_url,
    open_store,
)

RATE_LIMITERS = RateLimiterRegistry()
"""One token bucket per (platform, account) for the whole process, shared by every run in it."""


class RegistryResource(dg.ConfigurableResource):
    """The workspace registry file (workspaces, tiers, connections)."""

    registry_file: str = str(DEFAULT_REGISTRY_FILE)

    def load(self) -> Registry:
        """The registry as the file is now: re-read only when its size or mtime changed."""
        return load_registry_cached(Path(self.registry_file).resolve())

    def workspace(self, workspace_id: str) -> Workspace:
        """The workspace of a partition key; a Failure names it when the registry lost it."""
        try:
            return self.load().get(workspace_id)
        except KeyError as exc:
            raise dg.Failure(
                description=f"{exc.args[0]}; remove the partition or add the workspace back",
                allow_retries=False,
            ) from exc


class LakeResource(dg.ConfigurableResource):
    """Where the Parquet lake and the warehouse file live."""

    data_dir: str = "data"

    @property
    def lake_root(self) -> Path:
        return Path(self.data_dir).resolve() / "lake"

    @property
    def warehouse_path(self) -> Path:
        return Path(self.data_dir).resolve() / "warehouse.duckdb"

    @property
    def event_buffer_path(self) -> Path:
        """The ingestion service's durable buffer of acknowledged, unflushed events."""
        return Path(self.data_dir).resolve() / BUFFER_FILE


class PlatformClientsResource(dg.ConfigurableResource):
    """Opens an API client per connection: against the sandbox simulators, or the live APIs."""

    registry: dg.ResourceDependency[RegistryResource]
    mode: str = Field(default=Mode.SANDBOX.value, description="'sandbox' or 'live'.")
    sandbox_seed: int = 7
    sandbox_now: str | None = Field(
        default=None,
        description="ISO timestamp the sandbox world reports as of (default: this hour).",
    )
    sandbox_faults: dict[str, dict[str, float]] = Field(
        default_factory=dict,
        description="Per platform, PlatformFaults fields to switch on (e.g. throttle_rate).",
    )

    def opener(self, connector: Connector) -> Callable[[Connection], ApiClient]:
        """A function that opens a ready client for one of `connector`'s connections."""
        if Mode(self.mode) is Mode.SANDBOX:
            return self._sandbox_opener(connector)
        return self._live_opener(connector)

    def _sandbox_opener(self, connector: Connector) -> Callable[[Connection], ApiClient]:
        world = _cached_world(
            Path(self.registry.registry_file).resolve(), self.sandbox_seed, self.now()
        )
        faults = FaultPlan(
            faults={p: PlatformFaults(**f) for p, f in self.sandbox_faults.items()},
            seed=self.sandbox_seed,
        )
        transport = sandbox_transport(world, faults)
        # Simulated time: waits and polls advance a fake clock instead of sleeping.
        clock = FakeClock()
        limiters = RateLimiterRegistry()

        def open_client(connection: Connection) -> ApiClient:
            return connector.build_client(
                credentials={
                    name: sandbox_credential(name, connection.account_id)
                    for name in connector.credential_names
                },
                account_id=connection.account_id,
                transport=transport,
                clock=clock,
                rate_limits=connector.rate_limits,
                limiter_registry=limiters,
            )

        return open_client

    def _live_opener(self, connector: Connector) -> Callable[[Connection], ApiClient]:
        def open_client(connection: Connection) -> ApiClient:
            credentials = {}
            for name in connector.credential_names:
                env_var = connection.credentials.get(name)
                value = dg.EnvVar(env_var).get_value() if env_var else None
                # A blank value (an empty line kept by a secret store) is no credential either.
                if not value or not value.strip():
                    raise dg.Failure(
                        description=(
                            f"{connector.platform} account {connection.account_id}: credential "
                            f"'{name}' needs environment variable "
                            f"{env_var or '(none named in the registry)'} to be set"
                        ),
                        allow_retries=False,
                    )
                credentials[name] = value
            for name in connector.optional_credential_names:
                env_var = connection.credentials.get(name)
                value = dg.EnvVar(env_var).get_value() if env_var else None
                if value:
                    credentials[name] = value
            try:
                return connector.build_client(
                    credentials=credentials,
                    account_id=connection.account_id,
                    clock=SystemClock(),
                    rate_limits=connector.rate_limits,
                    limiter_registry=RATE_LIMITERS,
                )
            except MalformedCredential as error:
                # The value is set but of the wrong form: name the variable to fix, never the value.
                raise dg.Failure(
                    description=(
                        f"{connector.platform} account {connection.account_id}: credential "
                        f"'{error.credential}' from environment variable "
                        f"{connection.credentials.get(error.credential)} {error.problem}"
                    ),
                    allow_retries=False,
                ) from None

        return open_client

    def http_transport(self) -> httpx.BaseTransport | None:
        """The transport plain-HTTP feeds (the ECB's FX rates) use: the sandbox's, or None for
        httpx's default network transport in live mode."""
        if Mode(self.mode) is not Mode.SANDBOX:
            return None
        world = _cached_world(
            Path(self.registry.registry_file).resolve(), self.sandbox_seed, self.now()
        )
        return sandbox_transport(world)

    def now(self) -> datetime:
        """The instant the APIs answer as of: `sandbox_now` (default this hour) in the sandbox,
        the current hour live. Windows computed from it match what the simulators hold."""
        if self.sandbox_now:
            return datetime.fromisoformat(self.sandbox_now)
        return SystemClock().now().replace(minute=0, second=0, microsecond=0)


class OpsStoreResource(dg.ConfigurableResource):
    """The ops store (seed 004's tables, watchtower rules and alerts): SQLite or PostgreSQL."""

    database_url: str = Field(
        description="SQLAlchemy URL; plain postgresql:// is mapped to the psycopg2 driver."
    )

    def engine(self) -> sa.Engine:
        """The store's engine, created (tables, seeded rows, built-in rules) once per process."""
        return _cached_store(normalize_database_url(self.database_url))


@lru_cache(maxsize=4)
def _cached_store(url: str) -> sa.Engine:
    return open_store(url)


@lru_cache(maxsize=4)
def _cached_world(registry_file: Path, seed: int, now: datetime) -> SandboxWorld:
    return SandboxWorld(load_registry_cached(registry_file), seed=seed, now=now)


def default_resources(settings: Settings) -> dict[str, dg.ConfigurableResource]:
    """The resources `definitions.py` binds, configured from the environment's settings."""
    registry = RegistryResource(registry_file=str(settings.registry_file))
    # A PostgreSQL URL may hold a password: pass it as an EnvVar so the UI never shows it.
    database_url: str | dg.EnvVar = (
        dg.EnvVar(DATABASE_URL_ENV)
        if os.environ.get(DATABASE_URL_ENV)
        else f"sqlite:///{settings.data_dir / SQLITE_FILE_NAME}"
    )
    return {
        "registry": registry,
        "ops_store": OpsStoreResource(database_url=database_url),
        "lake": LakeResource(data_dir=str(settings.data_dir)),
        "platforms": PlatformClientsResource(
            registry=registry, mode=settings.mode.value, sandbox_seed=settings.sandbox_seed
        ),
    }
