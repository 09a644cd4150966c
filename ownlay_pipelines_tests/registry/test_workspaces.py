from pathlib import Path

import pytest

from ownlay_pipelines.registry.tenant import validate_workspace_id
from ownlay_pipelines.registry.workspaces import RegistryError, Tier, load_registry, parse_registry
from ownlay_pipelines.schema.platforms import Platform
from ownlay_pipelines.settings import DEFAULT_REGISTRY_FILE


def _workspace(**overrides):
    document = {
        "id": "acme",
        "name": "Acme",
        "tier": "growth",
        "timezone": "Europe/Berlin",
        "currency": "EUR",
        "connections": [{"platform": "meta_ads", "account_id": "123"}],
    }
    document.update(overrides)
    return {"workspaces": [document]}


def test_default_registry_has_three_workspaces_with_different_tiers_currencies_and_timezones():
    registry = load_registry(DEFAULT_REGISTRY_FILE)

    assert registry.workspace_ids == ["acme-outdoor", "blumen-haus", "kumo-tea"]
    assert {w.tier for w in registry.workspaces} == set(Tier)
    assert len({w.currency for w in registry.workspaces}) == 3
    assert len({w.timezone for w in registry.workspaces}) == 3
    assert registry.platforms() == {
        Platform.META_ADS,
        Platform.GOOGLE_ADS,
        Platform.SHOPIFY,
        Platform.OMNISEND,
        Platform.STRIPE,
        Platform.MAILCHIMP,
    }


@pytest.mark.parametrize("bad_id", ["../x", "acme; DROP TABLE x", "", "Acme", "a/b", "-lead"])
def test_workspace_id_that_is_not_a_slug_is_refused_naming_the_field(bad_id):
    with pytest.raises(RegistryError, match=r"workspaces\.0\.id"):
        parse_registry(_workspace(id=bad_id))


def test_slug_error_says_what_a_slug_is():
    with pytest.raises(ValueError, match=r"'\.\./x' is not a slug \(lowercase letters"):
        validate_workspace_id("../x")


def test_unknown_timezone_and_bad_currency_are_named():
    with pytest.raises(RegistryError, match=r"timezone.*'Mars/Olympus' is not an IANA timezone"):
        parse_registry(_workspace(timezone="Mars/Olympus"))
    with pytest.raises(RegistryError, match=r"currency 'euro' is not a three-letter ISO 4217"):
        parse_registry(_workspace(currency="euro"))


def test_credentials_must_name_environment_variables_not_hold_secrets():
    connection = {
        "platform": "meta_ads",
        "account_id": "1",
        "credentials": {"access_token": "EAAB..."},
    }
    with pytest.raises(RegistryError, match="must name an environment variable"):
        parse_registry(_workspace(connections=[connection]))


def test_duplicate_workspace_ids_and_connections_are_refused():
    twice = _workspace()
    twice["workspaces"].append(dict(twice["workspaces"][0]))
    with pytest.raises(RegistryError, match="repeated: acme"):
        parse_registry(twice)
    connection = {"platform": "meta_ads", "account_id": "1"}
    with pytest.raises(RegistryError, match="listed twice"):
        parse_registry(_workspace(connections=[connection, connection]))


def test_unknown_platform_and_unknown_key_are_refused():
    with pytest.raises(RegistryError, match=r"connections\.0\.platform"):
        parse_registry(_workspace(connections=[{"platform": "myspace", "account_id": "1"}]))
    with pytest.raises(RegistryError, match=r"workspaces\.0\.colour"):
        parse_registry(_workspace(colour="red"))


def test_missing_file_and_bad_yaml_give_clear_errors(tmp_path: Path):
    with pytest.raises(RegistryError, match="does not exist"):
        load_registry(tmp_path / "nope.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("workspaces: [\n")
    with pytest.raises(RegistryError, match="not valid YAML"):
        load_registry(broken)
