"""Fixtures for the orchestration tests: an ops store per test, copied from one built once."""

import shutil
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from ownlay_pipelines.definitions import build_definitions
from ownlay_pipelines.defs.resources import (
    OpsStoreResource,
    PlatformClientsResource,
    RegistryResource,
)
from ownlay_pipelines.settings import DEFAULT_REGISTRY_FILE, Settings
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


SANDBOX_NOW = "2026-11-20T15:00:00+00:00"
"""The sandbox clock of the sensor tests: a Friday afternoon, UTC."""


def sandbox_definitions(data_dir: Path, store_url: str, **faults: dict) -> dg.Definitions:
    """The code location on the sandbox at `SANDBOX_NOW`, writing under `data_dir`; `faults`
    switches sandbox faults on per platform (e.g. `meta_ads={"throttle_rate": 1.0}`)."""
    platforms = PlatformClientsResource(
        registry=RegistryResource(registry_file=str(DEFAULT_REGISTRY_FILE)),
        sandbox_now=SANDBOX_NOW,
        sandbox_faults=faults,
    )
    return build_definitions(
        Settings(data_dir=data_dir, registry_file=DEFAULT_REGISTRY_FILE),
        resource_overrides={
            "platforms": platforms,
            "ops_store": OpsStoreResource(database_url=store_url),
        },
    )
