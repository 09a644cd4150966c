"""The ops-store engine: SQLite file by default, PostgreSQL through `OWNLAY_DATABASE_URL`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ownlay_pipelines.settings import Settings
from ownlay_pipelines.watchtower.builtin_rules import ensure_builtin_rules
from ownlay_pipelines.watchtower.restatement_rules import ensure_ledger_rules
from ownlay_pipelines.watchtower.seed_data import seed_reference_rows
from ownlay_pipelines.watchtower.tables import create_schema

DATABASE_URL_ENV = "OWNLAY_DATABASE_URL"
SQLITE_FILE_NAME = "ops.sqlite"
SQLITE_BUSY_TIMEOUT_SECONDS = 30
"""Concurrent Dagster runs share the SQLite file; a writer waits this long for another's lock."""


def normalize_database_url(url: str) -> str:
    """Name the PostgreSQL driver explicitly: SQLAlchemy 2.1 maps `postgresql://` to psycopg 3.

    Only psycopg2 is installed (reference/dagster.md §0.2), so plain `postgresql://` and the
    `postgres://` alias become `postgresql+psycopg2://`; any other URL is returned unchanged.
    """
    parsed = sa.make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg2")
    return parsed.render_as_string(hide_password=False)


def database_url_from_env(environ: Mapping[str, str] | None = None) -> str:
    """`OWNLAY_DATABASE_URL` if set, else a SQLite file `ops.sqlite` in the data directory."""
    env = os.environ if environ is None else environ
    url = env.get(DATABASE_URL_ENV, "").strip()
    if url:
        return normalize_database_url(url)
    data_dir = Settings.from_env(dict(env)).data_dir
    return f"sqlite:///{data_dir / SQLITE_FILE_NAME}"


def create_store_engine(url: str) -> sa.Engine:
    """An engine for the ops store at `url` (foreign keys and WAL on for SQLite files)."""
    parsed = sa.make_url(normalize_database_url(url))
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(parsed, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})

    @sa.event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        # SQLite ignores foreign keys unless asked, per connection.
        cursor.execute("PRAGMA foreign_keys=ON")
        if parsed.database and parsed.database != ":memory:":
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    return engine


def open_store(url: str | Path | None = None) -> sa.Engine:
    """Engine for the ops store with every table, seed 004's reference rows and the shipped rules.

    `url` is a database URL, a SQLite file path, or None for `database_url_from_env()`.
    """
    if isinstance(url, Path):
        url = f"sqlite:///{url}"
    engine = create_store_engine(url or database_url_from_env())
    create_schema(engine)
    with engine.begin() as connection:
        seed_reference_rows(connection)
        ensure_builtin_rules(connection)
        ensure_ledger_rules(connection)
    return engine
