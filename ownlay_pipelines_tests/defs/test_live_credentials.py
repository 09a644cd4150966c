"""Live clients read their credentials from the environment, the optional refresh grant included."""

import dagster as dg
import pytest

from ownlay_pipelines.connectors import ga4, snapchat_ads
from ownlay_pipelines.defs.resources import PlatformClientsResource, RegistryResource
from ownlay_pipelines.registry.workspaces import load_registry
from ownlay_pipelines.settings import DEFAULT_REGISTRY_FILE

REGISTRY = load_registry(DEFAULT_REGISTRY_FILE)


def _resource() -> PlatformClientsResource:
    return PlatformClientsResource(
        registry=RegistryResource(registry_file=str(DEFAULT_REGISTRY_FILE)), mode="live"
    )


def test_a_named_refresh_grant_turns_on_token_refresh_and_an_unnamed_one_does_not(monkeypatch):
    connection = REGISTRY.get("acme-outdoor").connections_for("ga4")[0]
    monkeypatch.setenv("OWNLAY_ACME_GA4_ACCESS_TOKEN", "token")
    plain = _resource().opener(ga4.CONNECTOR)(connection)
    assert plain.tokens is None

    refreshing = connection.model_copy(
        update={"credentials": {**connection.credentials, "client_id": "GA4_ID",
                                "client_secret": "GA4_SECRET", "refresh_token": "GA4_REFRESH"}}
    )  # fmt: skip
    for name in ("GA4_ID", "GA4_SECRET", "GA4_REFRESH"):
        monkeypatch.setenv(name, f"value-of-{name}")
    client = _resource().opener(ga4.CONNECTOR)(refreshing)
    assert client.tokens is not None and "value-of-GA4_REFRESH" in client.tokens.secrets


def test_snapchat_needs_its_refresh_grant_from_the_environment(monkeypatch):
    connection = REGISTRY.get("kumo-tea").connections_for("snapchat_ads")[0]
    monkeypatch.setenv("OWNLAY_SNAPCHAT_CLIENT_ID", "app")
    monkeypatch.setenv("OWNLAY_SNAPCHAT_CLIENT_SECRET", "secret")
    monkeypatch.delenv("OWNLAY_KUMO_SNAPCHAT_REFRESH_TOKEN", raising=False)
    with pytest.raises(
        dg.Failure, match=r"'refresh_token' needs environment variable OWNLAY_KUMO_SNAPCHAT_REFRESH"
    ):
        _resource().opener(snapchat_ads.CONNECTOR)(connection)


@pytest.mark.parametrize("value", [None, "", "  \n"])
def test_a_missing_or_blank_stripe_or_mailchimp_key_fails_naming_the_variable(monkeypatch, value):
    from ownlay_pipelines.connectors import mailchimp, stripe

    cases = [
        (stripe.CONNECTOR, "acme-outdoor", "OWNLAY_ACME_STRIPE_API_KEY"),
        (mailchimp.CONNECTOR, "blumen-haus", "OWNLAY_BLUMEN_MAILCHIMP_API_KEY"),
    ]
    for connector, workspace, env_var in cases:
        connection = REGISTRY.get(workspace).connections_for(connector.platform)[0]
        if value is None:
            monkeypatch.delenv(env_var, raising=False)
        else:
            # A blank value (an empty line in a secret store) is no key: without this check the
            # Stripe client would send `Bearer ` and fail later as a wrong key.
            monkeypatch.setenv(env_var, value)
        with pytest.raises(dg.Failure, match=rf"'api_key' needs environment variable {env_var} "):
            _resource().opener(connector)(connection)


@pytest.mark.parametrize("key", ["0123456789abcdef0123456789abcdef", "0123456789abcdef-", "k-u21"])
def test_a_mailchimp_key_without_its_data_centre_fails_in_one_line_naming_the_variable(
    monkeypatch, key
):
    from ownlay_pipelines.connectors import mailchimp

    connection = REGISTRY.get("blumen-haus").connections_for("mailchimp")[0]
    monkeypatch.setenv("OWNLAY_BLUMEN_MAILCHIMP_API_KEY", key)
    with pytest.raises(dg.Failure) as failure:
        _resource().opener(mailchimp.CONNECTOR)(connection)
    message = failure.value.description or ""
    assert "\n" not in message and key not in message
    assert message.startswith(
        "mailchimp account b7e2c9d4f1-us21: credential 'api_key' from environment variable "
        "OWNLAY_BLUMEN_MAILCHIMP_API_KEY has no data-centre suffix (it should end like '-us21')"
    )
    assert not failure.value.allow_retries
    # With its suffix the same key opens a client on that data centre's host.
    monkeypatch.setenv("OWNLAY_BLUMEN_MAILCHIMP_API_KEY", "0123456789abcdef-us6\n")
    client = _resource().opener(mailchimp.CONNECTOR)(connection)
    assert client.base_url == "https://us6.api.mailchimp.com/3.0"
