import logging

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ownlay_pipelines.ingest.config import IngestSettings
from ownlay_pipelines.ingest.flush import flush_buffer
from ownlay_pipelines.ingest.keys import IssuedApiKey, create_api_key, revoke_api_key
from ownlay_pipelines.lake.event_views import read_event_day
from ownlay_pipelines_tests.ingest.payloads import (
    IPHONE_UA,
    NOW,
    RAW_EMAIL,
    RAW_IP,
    auth_header,
    ownlay_event,
    track_event,
)


def _post(client: TestClient, key: IssuedApiKey, body: object, path: str = "/api/v1/events"):
    return client.post(path, json=body, headers=auth_header(key.plaintext))


def test_single_event_is_acknowledged_with_202(client: TestClient, acme_key: IssuedApiKey):
    response = _post(client, acme_key, ownlay_event())

    assert response.status_code == 202
    assert response.json() == {
        "status": "accepted",
        "accepted": 1,
        "stored": 1,
        "duplicates": [],
        "rejected_count": 0,
        "rejected": [],
    }


def test_missing_key_is_401(client: TestClient):
    response = client.post("/api/v1/events", json=ownlay_event())

    assert response.status_code == 401
    assert response.json()["error"] == "missing_api_key"


@pytest.mark.parametrize(
    "presented",
    ["not-a-key", "olk_000000000000_" + "A" * 43],
)
def test_wrong_key_is_401(client: TestClient, acme_key: IssuedApiKey, presented: str):
    response = client.post("/api/v1/events", json=ownlay_event(), headers=auth_header(presented))

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_api_key"


def test_tampered_and_revoked_keys_are_401(
    client: TestClient, acme_key: IssuedApiKey, key_store: sa.Engine
):
    tampered = acme_key.plaintext[:-1] + ("A" if acme_key.plaintext[-1] != "A" else "B")
    assert (
        client.post(
            "/api/v1/events", json=ownlay_event(), headers=auth_header(tampered)
        ).status_code
        == 401
    )

    revoke_api_key(key_store, acme_key.key_id)

    assert _post(client, acme_key, ownlay_event()).status_code == 401


def test_refused_key_is_never_logged(
    client: TestClient, acme_key: IssuedApiKey, caplog: pytest.LogCaptureFixture
):
    wrong = acme_key.plaintext[:-4] + "zzzz"
    with caplog.at_level(logging.DEBUG):
        client.post("/api/v1/events", json=ownlay_event(), headers=auth_header(wrong))

    assert acme_key.key_id in caplog.text
    assert wrong not in caplog.text
    assert wrong[17:] not in caplog.text


def test_key_cannot_write_another_workspace(
    client: TestClient, acme_key: IssuedApiKey, key_store: sa.Engine
):
    create_api_key(key_store, "globex")
    batch = [ownlay_event(1), ownlay_event(2, workspace_id="globex")]

    response = _post(client, acme_key, batch)
    tracked = _post(client, acme_key, track_event(project_id="globex"), "/api/v1/track")

    assert response.status_code == 403
    assert response.json()["message"] == (
        "this API key writes workspace 'acme' only; the payload names 'globex'"
    )
    assert tracked.status_code == 403
    assert _post(client, acme_key, ownlay_event(3, workspace_id="acme")).status_code == 202


def test_malformed_json_is_400_naming_the_position(client: TestClient, acme_key: IssuedApiKey):
    response = client.post(
        "/api/v1/events",
        content=b'{"event_type": "purchase",',
        headers=auth_header(acme_key.plaintext),
    )

    assert response.status_code == 400
    assert response.json() == {
        "error": "malformed_json",
        "message": "the request body is not JSON: EOF while parsing a value at line 1 column 26",
    }


@pytest.mark.parametrize(
    ("body", "code"),
    [(b"", "malformed_json"), (b'"purchase"', "malformed_json"), (b"[]", "empty_batch")],
)
def test_bodies_that_are_not_events_are_400(
    client: TestClient, acme_key: IssuedApiKey, body: bytes, code: str
):
    response = client.post("/api/v1/events", content=body, headers=auth_header(acme_key.plaintext))

    assert response.status_code == 400
    assert response.json()["error"] == code


def test_body_over_the_cap_is_413_declared_or_streamed(
    client: TestClient, acme_key: IssuedApiKey, settings: IngestSettings
):
    big = [ownlay_event(number) for number in range(1, 10)]
    declared = _post(client, acme_key, big)

    def chunks():
        yield b"[" + b" " * settings.max_body_bytes
        yield b"]"

    streamed = client.post(
        "/api/v1/events", content=chunks(), headers=auth_header(acme_key.plaintext)
    )

    assert declared.status_code == 413
    assert declared.json()["message"] == (
        "the request body exceeds 4096 bytes; split the batch into smaller requests"
    )
    assert streamed.status_code == 413


def test_no_valid_event_is_422_with_index_field_and_reason(
    client: TestClient, acme_key: IssuedApiKey
):
    response = _post(
        client, acme_key, [ownlay_event(1, event_type="teleport"), ownlay_event(2, user_id=None)]
    )

    assert response.status_code == 422
    assert response.json()["rejected"] == [
        {
            "index": 0,
            "errors": [
                {
                    "field": "event_type",
                    "reason": "event_type 'teleport' is not allowed; use one of page_view, click, "
                    "impression, form_submit, add_to_cart, checkout_start, purchase, conversion, "
                    "lead, signup, login, custom (or 'custom' with a name in properties)",
                }
            ],
        },
        {
            "index": 1,
            "errors": [
                {"field": "user_id", "reason": "user_id is required unless anonymous_id is given"}
            ],
        },
    ]


def test_mixed_batch_stores_the_good_events_and_lists_the_rejected(
    client: TestClient, acme_key: IssuedApiKey, settings: IngestSettings
):
    future = NOW.replace(hour=13).isoformat()
    batch = [ownlay_event(1), ownlay_event(2, timestamp=future), ownlay_event(3)]

    response = _post(client, acme_key, batch)
    flushed = flush_buffer(settings.buffer_path, settings.lake_dir, now=NOW)

    assert response.status_code == 202
    body = response.json()
    assert (body["status"], body["accepted"], body["stored"]) == ("partial", 2, 2)
    assert body["rejected"][0]["index"] == 1
    assert body["rejected"][0]["errors"][0]["field"] == "timestamp"
    assert flushed.events_flushed == 2


def test_repeated_event_id_across_requests_is_acknowledged_once(
    client: TestClient, acme_key: IssuedApiKey
):
    _post(client, acme_key, [ownlay_event(1), ownlay_event(2)])

    again = _post(client, acme_key, [ownlay_event(3), ownlay_event(2), ownlay_event(3)]).json()

    assert (again["accepted"], again["stored"], again["duplicates"]) == (3, 1, [1, 2])


def test_raw_ip_and_email_never_reach_the_buffer_or_lake_files(
    client: TestClient, acme_key: IssuedApiKey, settings: IngestSettings
):
    _post(client, acme_key, ownlay_event())
    buffer_bytes = b"".join(
        path.read_bytes() for path in settings.buffer_path.parent.iterdir() if path.is_file()
    )
    result = flush_buffer(settings.buffer_path, settings.lake_dir, now=NOW)
    lake_bytes = result.days[0].path.read_bytes()

    for raw in (RAW_IP.encode(), RAW_EMAIL.encode(), b"203.0.113.0"):
        assert raw not in buffer_bytes
        assert raw not in lake_bytes


def test_track_endpoint_takes_the_user_agent_from_the_request(
    client: TestClient, acme_key: IssuedApiKey, settings: IngestSettings
):
    headers = {**auth_header(acme_key.plaintext), "User-Agent": IPHONE_UA}
    response = client.post("/api/v1/track", json=track_event(), headers=headers)
    flush_buffer(settings.buffer_path, settings.lake_dir, now=NOW)

    row = read_event_day(settings.lake_dir, "acme", NOW.date()).to_pylist()[0]
    assert response.status_code == 202
    assert (row["device_type"], row["os"], row["source_platform"]) == ("mobile", "iOS", "api")
    assert row["url"] == "https://shop.example.com/tents?fbclid=IwAR0x&utm_campaign=spring"
    assert row["utm_campaign"] == "spring"


def test_the_declared_fastapi_routes_answer_like_the_raw_handlers(
    client: TestClient, acme_key: IssuedApiKey
):
    # `client.app` answers the event routes with raw ASGI handlers; FastAPI's own `__call__`
    # reaches the routes that declare them, which must give the same answers.
    app = client.app

    async def through_fastapi(scope, receive, send):
        await FastAPI.__call__(app, scope, receive, send)

    declared = TestClient(through_fastapi)  # the app is running already (client's lifespan)
    stored = _post(declared, acme_key, [ownlay_event(1), {"event_type": "nope"}])
    repeated = _post(client, acme_key, [ownlay_event(1), {"event_type": "nope"}])
    tracked = _post(declared, acme_key, track_event(), path="/api/v1/track")
    refused = declared.post("/api/v1/events", json=ownlay_event(2))

    assert (stored.status_code, repeated.status_code, tracked.status_code) == (202, 202, 202)
    assert stored.json() == {**repeated.json(), "stored": 1, "duplicates": []}
    assert repeated.json()["duplicates"] == [0] and repeated.json()["stored"] == 0
    assert stored.headers["content-type"] == repeated.headers["content-type"] == "application/json"
    assert (refused.status_code, refused.json()["error"]) == (401, "missing_api_key")
