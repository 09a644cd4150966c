"""LinkedIn's lead notification endpoint: challenge, X-LI-Signature, rotation, storage, repeats."""

import hashlib
import hmac
import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from ownlay_pipelines.http.clock import FakeClock
from ownlay_pipelines.ingest.app import create_app
from ownlay_pipelines.ingest.config import IngestSettings
from ownlay_pipelines.ingest.openapi import LINKEDIN_LEAD_EXAMPLE
from ownlay_pipelines.ingest.webhook_store import read_webhook_deliveries
from ownlay_pipelines_tests.ingest.payloads import ENVIRON, NOW

URL = "/api/v1/webhooks/linkedin/acme"
SECRET = "li_client_secret_current_7Qa"
OLD_SECRET = "li_client_secret_previous_2Zk"
LINKEDIN_ENVIRON = {
    **ENVIRON,
    "OWNLAY_LINKEDIN_WEBHOOK_SECRET__ACME": SECRET,
    "OWNLAY_LINKEDIN_WEBHOOK_SECRET_PREVIOUS__ACME": OLD_SECRET,
}


@pytest.fixture
def linkedin_client(settings: IngestSettings) -> Iterator[TestClient]:
    app = create_app(settings, clock=FakeClock(NOW), environ=LINKEDIN_ENVIRON)
    with TestClient(app) as test_client:
        yield test_client


def _signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    # Written out from LinkedIn's documentation, independently of the module under test.
    digest = hmac.new(secret.encode(), b"hmacsha256=" + body, hashlib.sha256).hexdigest()
    return {"X-LI-Signature": digest, "Content-Type": "application/json"}


def _body(**overrides) -> bytes:
    return json.dumps({**LINKEDIN_LEAD_EXAMPLE, **overrides}).encode()


def test_challenge_answers_hex_hmac_of_the_code_under_the_current_secret(linkedin_client):
    code = "890e4665-4dfe-4ab1-b689-ed553bceeed0"
    response = linkedin_client.get(URL, params={"challengeCode": code})
    expected = hmac.new(SECRET.encode(), code.encode(), hashlib.sha256).hexdigest()
    assert response.status_code == 200
    assert response.json() == {"challengeCode": code, "challengeResponse": expected}


@pytest.mark.parametrize("query", ["", "?challengeCode=", "?challengeCode=a%20b"])
def test_challenge_without_a_valid_code_is_400(linkedin_client, query):
    assert linkedin_client.get(URL + query).status_code == 400


def test_challenge_for_a_workspace_without_a_secret_is_401(linkedin_client):
    response = linkedin_client.get("/api/v1/webhooks/linkedin/other", params={"challengeCode": "x"})
    assert response.status_code == 401


def test_signed_notification_is_stored_byte_for_byte_and_a_repeat_once(linkedin_client, settings):
    body = _body()
    first = linkedin_client.post(URL, content=body, headers=_signed(body))
    again = linkedin_client.post(URL, content=body, headers=_signed(body))

    assert (first.status_code, first.json()) == (200, {"status": "stored"})
    assert (again.status_code, again.json()) == (200, {"status": "duplicate"})
    (stored,) = read_webhook_deliveries(
        settings.webhook_deliveries_path, provider="linkedin", workspace_id="acme"
    )
    assert stored.raw_body == body
    assert stored.delivery_id == f"{LINKEDIN_LEAD_EXAMPLE['leadGenFormResponse']}/CREATED"
    assert stored.topic == "lead/created"


def test_deletion_of_the_same_lead_is_a_separate_delivery(linkedin_client, settings):
    for action in ("CREATED", "DELETED"):
        body = _body(leadAction=action)
        assert linkedin_client.post(URL, content=body, headers=_signed(body)).status_code == 200
    stored = read_webhook_deliveries(
        settings.webhook_deliveries_path, provider="linkedin", workspace_id="acme"
    )
    assert [d.topic for d in stored] == ["lead/created", "lead/deleted"]


def test_previous_secret_is_accepted_during_rotation(linkedin_client):
    body = _body()
    response = linkedin_client.post(URL, content=body, headers=_signed(body, OLD_SECRET))
    assert response.status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-LI-Signature": "zz"},
        _signed(b"another body"),
        _signed(_body(), "unknown-secret"),
        # The digest of the bare body (without LinkedIn's "hmacsha256=" prefix) is not valid.
        {"X-LI-Signature": hmac.new(SECRET.encode(), _body(), hashlib.sha256).hexdigest()},
    ],
    ids=["missing", "not-hex", "other-body", "unknown-secret", "unprefixed"],
)
def test_unverified_notification_is_401_and_not_stored(linkedin_client, settings, headers):
    response = linkedin_client.post(URL, content=_body(), headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_signature"
    assert not read_webhook_deliveries(
        settings.webhook_deliveries_path, provider="linkedin", workspace_id="acme"
    )


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"type": "ORGANIZATION_SOCIAL_ACTION_NOTIFICATIONS"}, "type"),
        ({"leadGenFormResponse": "urn:li:person:1"}, "leadGenFormResponse"),
        ({"leadAction": "UPDATED"}, "leadAction"),
    ],
)
def test_verified_but_malformed_notification_is_400_naming_the_field(
    linkedin_client, overrides, field
):
    body = _body(**overrides)
    response = linkedin_client.post(URL, content=body, headers=_signed(body))
    assert response.status_code == 400
    assert field in response.json()["message"]
