"""Shared sandbox fixtures: the default registry's world as of a fixed moment, and a client."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from ownlay_pipelines.registry.workspaces import Registry, load_registry
from ownlay_pipelines.sandbox.transport import SandboxTransport, sandbox_transport
from ownlay_pipelines.sandbox.world import SandboxWorld
from ownlay_pipelines_tests.sandbox.wire import NOW, SANDBOX_REGISTRY


@pytest.fixture(scope="session")
def registry() -> Registry:
    return load_registry(SANDBOX_REGISTRY)


@pytest.fixture(scope="session")
def world(registry: Registry) -> SandboxWorld:
    return SandboxWorld(registry, now=NOW)


@pytest.fixture
def transport(world: SandboxWorld) -> SandboxTransport:
    return sandbox_transport(world)


@pytest.fixture
def client(transport: SandboxTransport) -> Iterator[httpx.Client]:
    with httpx.Client(transport=transport) as http:
        yield http
