"""Shared fixtures: an ops store, one workspace's four destinations, sandbox visitors."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from ownlay_pipelines.capi.destinations import CapiSettings
from ownlay_pipelines.capi.tables import create_capi_schema
from ownlay_pipelines.watchtower.store import create_store_engine
from ownlay_pipelines_tests.capi.destinations import DESTINATIONS


@pytest.fixture
def store(tmp_path: Path) -> sa.Engine:
    engine = create_store_engine(f"sqlite:///{tmp_path / 'ops.sqlite'}")
    create_capi_schema(engine)
    return engine


@pytest.fixture
def settings() -> CapiSettings:
    return CapiSettings(default_region="FR", destinations=DESTINATIONS)
