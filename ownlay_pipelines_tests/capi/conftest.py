"""Shared fixtures: an ops store, one workspace's four destinations, sandbox visitors."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from ownlay_pipelines.capi.destinations import CapiDestination, CapiSettings
from ownlay_pipelines.capi.tables import create_capi_schema
from ownlay_pipelines.watchtower.store import create_store_engine

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
ENV = {
    "META_TOKEN": "meta-secret-token",
    "GOOGLE_DEV": "google-dev-token",
    "GOOGLE_ACCESS": "google-access-token",
    "TIKTOK_TOKEN": "tiktok-secret-token",
    "SNAP_TOKEN": "snap-secret-token",
}
DESTINATIONS = (
    CapiDestination(
        id="meta-capi",
        platform="meta",
        pixel_id="900001",
        credentials={"access_token": "META_TOKEN"},
    ),
    CapiDestination(
        id="google-ec",
        platform="google",
        customer_id="1234567890",
        conversion_action_id="777",
        credentials={"developer_token": "GOOGLE_DEV", "access_token": "GOOGLE_ACCESS"},
    ),
    CapiDestination(
        id="tiktok-events",
        platform="tiktok",
        pixel_code="CABCDEF",
        credentials={"access_token": "TIKTOK_TOKEN"},
    ),
    CapiDestination(
        id="snap-capi",
        platform="snapchat",
        pixel_id="snap-pixel-1",
        credentials={"access_token": "SNAP_TOKEN"},
    ),
)


@pytest.fixture
def store(tmp_path: Path) -> sa.Engine:
    engine = create_store_engine(f"sqlite:///{tmp_path / 'ops.sqlite'}")
    create_capi_schema(engine)
    return engine


@pytest.fixture
def settings() -> CapiSettings:
    return CapiSettings(default_region="FR", destinations=DESTINATIONS)
