"""Fixtures for the orchestration tests: an ops store per test, copied from one built once."""

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from ownlay_pipelines.watchtower.store import open_store


@pytest.fixture(scope="session")
def store_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An ops-store file created once; creating the schema is the slow part."""
    path = tmp_path_factory.mktemp("ops_template") / "ops.sqlite"
    open_store(f"sqlite:///{path}").dispose()
    return path


@pytest.fixture
def store_url(tmp_path: Path, store_template: Path) -> str:
    path = tmp_path / "ops.sqlite"
    shutil.copyfile(store_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def store(store_url: str) -> Iterator[sa.Engine]:
    engine = open_store(store_url)
    yield engine
    engine.dispose()
