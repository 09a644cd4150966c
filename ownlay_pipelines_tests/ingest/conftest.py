"""Fixtures of the ingest tests: settings under tmp_path, API keys, a fake clock and the app."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from ownlay_pipelines.http.clock import FakeClock
from ownlay_pipelines.ingest.app import create_app
from ownlay_pipelines.ingest.config import IngestSettings
from ownlay_pipelines.ingest.keys import IssuedApiKey, create_api_key, open_key_store
from ownlay_pipelines_tests.ingest.payloads import ENVIRON, NOW

POSTGRES_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
"""The server CI and developer machines run; `OWNLAY_TEST_DATABASE_URL` overrides it."""


@pytest.fixture
def settings(tmp_path: Path) -> IngestSettings:
    """Lake, buffer and ops store under tmp_path; a 4 KiB body cap keeps 413 tests small."""
    return IngestSettings(
        lake_dir=tmp_path / "lake",
        buffer_path=tmp_path / "ingest" / "event_buffer.sqlite",
        database_url=f"sqlite:///{tmp_path / 'ops.sqlite'}",
        max_body_bytes=4096,
    )


@pytest.fixture
def key_store(settings: IngestSettings) -> Iterator[sa.Engine]:
    """The ops store holding the ingest API keys."""
    engine = open_key_store(settings.database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def acme_key(key_store: sa.Engine) -> IssuedApiKey:
    """An active key of workspace `acme`."""
    return create_api_key(key_store, "acme", label="storefront")


@pytest.fixture
def clock() -> FakeClock:
    """The server clock, fixed at 2026-11-21T12:00Z."""
    return FakeClock(NOW)


@pytest.fixture
def client(settings: IngestSettings, clock: FakeClock) -> Iterator[TestClient]:
    """The ingestion app on the fake clock, with the test PII key and webhook secrets."""
    app = create_app(settings, clock=clock, environ=ENVIRON)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def postgresql_url() -> Iterator[str]:
    """A plain `postgresql://` URL (no driver named) to a schema of its own, dropped afterwards."""
    admin_url = os.environ.get("OWNLAY_TEST_DATABASE_URL", POSTGRES_URL)
    admin = sa.create_engine(admin_url, connect_args={"connect_timeout": 2})
    try:
        with admin.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as error:
        admin.dispose()
        reason = f"no PostgreSQL at {sa.make_url(admin_url).render_as_string()}: {error.orig}"
        if os.environ.get("CI"):
            pytest.fail(reason)  # CI runs a server; a skip there would hide a broken key store.
        pytest.skip(reason)
    schema = f"ingest_test_{uuid.uuid4().hex[:12]}"
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield (
            sa.make_url(admin_url)
            .set(drivername="postgresql")
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
