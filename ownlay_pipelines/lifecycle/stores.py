"""Where lifecycle jobs find the stores, from the same settings the pipeline uses."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from ownlay_pipelines.ingest.config import BUFFER_FILE
from ownlay_pipelines.ingest.webhook_store import webhook_store_path
from ownlay_pipelines.settings import Settings
from ownlay_pipelines.watchtower.store import database_url_from_env, open_store


@dataclass(frozen=True)
class Stores:
    """Every place data about customers and their visitors is kept."""

    lake_root: Path
    webhook_store: Path
    ops_store: sa.Engine | None
    event_buffer: Path


def stores_at(data_dir: Path, database_url: str | None = None) -> Stores:
    """The lake, buffer, webhook store and ops store under `data_dir` (ops store: the URL or the
    environment's `OWNLAY_DATABASE_URL`, else `ops.sqlite` there)."""
    data_dir = data_dir.resolve()
    return Stores(
        lake_root=data_dir / "lake",
        webhook_store=webhook_store_path(data_dir),
        ops_store=open_store(database_url or Path(data_dir / "ops.sqlite")),
        event_buffer=data_dir / BUFFER_FILE,
    )


def stores_from_env(environ: Mapping[str, str] | None = None) -> Stores:
    """The stores of the deployment the environment describes."""
    settings = Settings.from_env(None if environ is None else dict(environ))
    return stores_at(settings.data_dir, database_url_from_env(environ))
