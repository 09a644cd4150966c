"""One workspace's four CAPI destinations and their credentials (importable without pytest)."""

from __future__ import annotations

from datetime import UTC, datetime

from ownlay_pipelines.capi.destinations import CapiDestination

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
