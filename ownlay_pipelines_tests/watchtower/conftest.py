"""Fixtures for the watchtower tests: an injected clock and ops stores on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from ownlay_pipelines.watchtower.builtin_rules import ensure_builtin_rules
from ownlay_pipelines.watchtower.seed_data import seed_reference_rows
from ownlay_pipelines.watchtower.store import open_store
from ownlay_pipelines.watchtower.tables import metadata

POSTGRES_CANDIDATES = (
    "postgresql+psycopg2://postgres@127.0.0.1:5432/test",
    "postgresql+psycopg2://root@127.0.0.1:5432/test",
)


class FakeClock:
    """A clock that only moves when the test says so."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 21, 8, 0, tzinfo=UTC))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """An ops-store file created once; each test gets a copy (creating the schema is the slow part)."""
    path = tmp_path_factory.mktemp("ops_template") / "ops.sqlite"
    open_store(f"sqlite:///{path}").dispose()
    return path


@pytest.fixture
def sqlite_store(tmp_path, sqlite_template) -> Iterator[sa.Engine]:
    path = tmp_path / "ops.sqlite"
    shutil.copyfile(sqlite_template, path)
    engine = open_store(f"sqlite:///{path}")
    yield engine
    engine.dispose()


def _postgres_admin_url() -> str:
    candidates = (
        [os.environ["OWNLAY_TEST_DATABASE_URL"]] if "OWNLAY_TEST_DATABASE_URL" in os.environ else []
    )
    problems = []
    for url in [*candidates, *POSTGRES_CANDIDATES]:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 2})
        try:
            with engine.connect() as connection:
                connection.execute(sa.text("SELECT 1"))
            return url
        except sa.exc.OperationalError as exc:
            problems.append(f"{sa.make_url(url).username}: {str(exc.orig).strip().splitlines()[0]}")
        finally:
            engine.dispose()
    reason = f"no PostgreSQL on 127.0.0.1:5432: {'; '.join(problems)}"
    if os.environ.get("CI"):
        # CI machines run a PostgreSQL server; a skip there would hide a broken store.
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgresql_session_store() -> Iterator[sa.Engine]:
    """An ops store in a schema of its own, dropped at the end, so parallel runs never collide."""
    url = _postgres_admin_url()
    schema = f"watchtower_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(url)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        engine = open_store(
            sa.make_url(url)
            .update_query_dict({"options": f"-csearch_path={schema},public"})
            .render_as_string(hide_password=False)
        )
        yield engine
        engine.dispose()
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def postgresql_store(postgresql_session_store) -> sa.Engine:
    """The session's PostgreSQL ops store, emptied and re-seeded for this test."""
    engine = postgresql_session_store
    with engine.begin() as connection:
        # DELETE beats TRUNCATE on a handful of rows: no table rewrite, no exclusive locks.
        for table in reversed(metadata.sorted_tables):
            connection.execute(table.delete())
        seed_reference_rows(connection)
        ensure_builtin_rules(connection)
    return engine


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request) -> sa.Engine:
    """The ops store on each supported database."""
    return request.getfixturevalue(f"{request.param}_store")
