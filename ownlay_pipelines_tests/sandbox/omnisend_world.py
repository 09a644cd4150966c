"""A registry of two workspaces with Omnisend brands, its world, and clients over the sandbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import yaml

from ownlay_pipelines.connectors.omnisend import ApiFlavour, OmnisendClient
from ownlay_pipelines.http.clock import FakeClock
from ownlay_pipelines.registry.workspaces import Connection, parse_registry
from ownlay_pipelines.sandbox.credentials import sandbox_credential
from ownlay_pipelines.sandbox.world import SandboxWorld

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
"""A Friday: the brands' last campaign went out on Tuesday and is still gathering opens."""
LATER = NOW + timedelta(hours=6)
ACME_BRAND = "5f1a2b3c4d5e6f7a8b9c0d1e"
KUMO_BRAND = "60aa11bb22cc33dd44ee55ff"
V3 = "https://api.omnisend.com/v3"
API = "https://api.omnisend.com/api"

REGISTRY_DOCUMENT = {
    "workspaces": [
        {
            "id": "acme-outdoor",
            "name": "Acme Outdoor Co.",
            "tier": "growth",
            "timezone": "America/New_York",
            "currency": "USD",
            "connections": [
                {
                    "platform": "omnisend",
                    "account_id": ACME_BRAND,
                    "account_name": "Acme Outdoor",
                    "credentials": {"api_key": "OWNLAY_ACME_OMNISEND_API_KEY"},
                }
            ],
        },
        {
            "id": "kumo-tea",
            "name": "Kumo Tea K.K.",
            "tier": "enterprise",
            "timezone": "Asia/Tokyo",
            "currency": "JPY",
            "connections": [
                {
                    "platform": "omnisend",
                    "account_id": KUMO_BRAND,
                    "credentials": {"api_key": "OWNLAY_KUMO_OMNISEND_API_KEY"},
                }
            ],
        },
    ]
}
REGISTRY = parse_registry(REGISTRY_DOCUMENT)


def world_at(now: datetime) -> SandboxWorld:
    """The Omnisend registry's world as of `now`."""
    return SandboxWorld(REGISTRY, now=now)


def write_registry(folder: Path) -> Path:
    """The registry as a YAML file in `folder` (for Dagster resources)."""
    path = folder / "workspaces.yaml"
    path.write_text(yaml.safe_dump(REGISTRY_DOCUMENT), encoding="utf-8")
    return path


def v3_headers(brand: str = ACME_BRAND) -> dict[str, str]:
    return {"X-API-KEY": sandbox_credential("api_key", brand)}


def api_headers(brand: str = ACME_BRAND, version: str = "2026-03-15") -> dict[str, str]:
    return {
        "Authorization": f"Omnisend-API-Key {sandbox_credential('api_key', brand)}",
        "Omnisend-Version": version,
    }


def sandbox_opener(transport: httpx.BaseTransport, clock: FakeClock, flavour: ApiFlavour):
    """Opens an Omnisend client for a connection over `transport`, as the sandbox resource does."""

    def open_client(connection: Connection) -> OmnisendClient:
        return OmnisendClient(
            api_key=sandbox_credential("api_key", connection.account_id),
            account_id=connection.account_id,
            flavour=flavour,
            transport=transport,
            clock=clock,
        )

    return open_client
