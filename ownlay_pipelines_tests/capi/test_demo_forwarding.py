"""The demo's CAPI pass: every sandbox workspace's conversions reach all four destinations."""

from __future__ import annotations

from datetime import UTC, datetime

from ownlay_pipelines.registry.workspaces import load_registry
from ownlay_pipelines.sandbox.capi_demo import forward_demo_conversions
from ownlay_pipelines.settings import DEFAULT_REGISTRY_FILE


def test_demo_forwards_to_every_destination_with_full_match_rate(store) -> None:
    registry = load_registry(DEFAULT_REGISTRY_FILE)
    text = forward_demo_conversions(store, registry, now=datetime.now(UTC), per_workspace=40)
    lines = [line for line in text.splitlines() if "match rate" in line]
    with_destinations = [w for w in registry.workspaces if w.capi.destinations]
    assert len(lines) == 4 * len(with_destinations)
    assert all("match rate 100.0%" in line and "health healthy" in line for line in lines), text
    assert all(" accepted    0" not in line for line in lines), text
