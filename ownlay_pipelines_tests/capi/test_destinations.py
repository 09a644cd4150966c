"""CAPI destinations in the registry: refused with the field and reason, secrets by env name."""

from __future__ import annotations

import pytest

from ownlay_pipelines.capi.destinations import CapiDestination, CredentialMissing
from ownlay_pipelines.registry.workspaces import RegistryError, load_registry, parse_registry
from ownlay_pipelines.settings import DEFAULT_REGISTRY_FILE


def _registry(destination: dict) -> dict:
    return {
        "workspaces": [
            {
                "id": "w1", "name": "W", "tier": "growth", "timezone": "UTC", "currency": "EUR",
                "capi": {"default_region": "FR", "destinations": [destination]},
            }
        ]
    }  # fmt: skip


@pytest.mark.parametrize(
    ("destination", "reason"),
    [
        ({"id": "m", "platform": "meta", "credentials": {"access_token": "T"}}, "needs pixel_id"),
        ({"id": "m", "platform": "meta", "pixel_id": "1"}, "needs credentials: access_token"),
        (
            {"id": "m", "platform": "meta", "pixel_id": "1", "credentials": {"access_token": "EAAB-x"}},
            "must name an environment variable",
        ),
        ({"id": "g", "platform": "google", "customer_id": "1", "credentials": {}}, "conversion_action_id"),
    ],
)  # fmt: skip
def test_bad_destination_is_refused_naming_the_problem(destination: dict, reason: str) -> None:
    with pytest.raises(RegistryError, match=reason):
        parse_registry(_registry(destination))


def test_secret_comes_from_the_environment_and_a_missing_one_names_the_variable() -> None:
    destination = CapiDestination(
        id="t", platform="tiktok", pixel_code="C1", credentials={"access_token": "TT_TOKEN"}
    )
    assert destination.secret("access_token", {"TT_TOKEN": "v"}) == "v"
    with pytest.raises(CredentialMissing, match="set TT_TOKEN"):
        destination.secret("access_token", {})


def test_every_sandbox_workspace_has_the_four_destinations() -> None:
    for workspace in load_registry(DEFAULT_REGISTRY_FILE).workspaces:
        platforms = sorted(d.platform.value for d in workspace.capi.destinations)
        assert platforms == ["google", "meta", "snapchat", "tiktok"], workspace.id
