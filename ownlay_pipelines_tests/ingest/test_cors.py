"""Browsers on other origins may send events: CORS preflights and answers of the event routes.

A tracking snippet on https://shop.example posting to the collector on another origin sends the
API key header and a JSON body, so the browser first asks with an `OPTIONS` preflight, then
shows the answer to the page only if it carries `Access-Control-Allow-Origin` (Fetch standard,
CORS protocol). The webhook routes are server-to-server: no preflight, no CORS headers.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ownlay_pipelines.http.clock import FakeClock
from ownlay_pipelines.ingest.app import create_app
from ownlay_pipelines.ingest.config import IngestSettings, IngestSettingsInvalid
from ownlay_pipelines.ingest.keys import IssuedApiKey
from ownlay_pipelines.ingest.server import serve_in_background
from ownlay_pipelines_tests.ingest.payloads import (
    ENVIRON,
    SHOPIFY_SECRET,
    auth_header,
    ownlay_event,
    shopify_delivery,
    track_event,
)

SHOP = "https://shop.example"
ELSEWHERE = "https://evil.example"
PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "content-type,x-ownlay-api-key",
}
EVENT_PATHS = ("/api/v1/track", "/api/v1/events")
CORS_HEADER_PREFIX = "access-control-"


def _cors_headers(response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.startswith(CORS_HEADER_PREFIX)}


def _vary(response) -> set[str]:
    return {token.strip().lower() for token in response.headers.get("vary", "").split(",")}


@pytest.fixture
def cors_settings(settings: IngestSettings) -> IngestSettings:
    """The test settings with the shop's origin (and a staging one) allowed."""
    return settings.model_copy(update={"cors_origins": (SHOP, "http://localhost:3000")})


@pytest.fixture
def cors_client(cors_settings: IngestSettings, clock: FakeClock) -> Iterator[TestClient]:
    app = create_app(cors_settings, clock=clock, environ=ENVIRON)
    with TestClient(app) as test_client:
        yield test_client


@pytest.mark.parametrize("path", EVENT_PATHS)
def test_a_preflight_from_an_allowed_origin_is_answered_204_with_the_route_s_terms(
    cors_client: TestClient, path: str
):
    response = cors_client.options(path, headers={"Origin": SHOP, **PREFLIGHT})

    assert response.status_code == 204
    assert response.content == b""
    assert _cors_headers(response) == {
        "access-control-allow-origin": SHOP,
        "access-control-allow-methods": "POST",
        "access-control-allow-headers": "Content-Type, Content-Encoding, X-Ownlay-Api-Key",
        "access-control-max-age": "7200",
    }
    assert "origin" in _vary(response)
    assert "content-type" not in response.headers  # a 204 has no content


def test_an_allowed_origin_is_echoed_exactly_never_a_wildcard(cors_client: TestClient):
    staging = cors_client.options(
        "/api/v1/track", headers={"Origin": "http://localhost:3000", **PREFLIGHT}
    )

    assert staging.status_code == 204
    assert staging.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert "access-control-allow-credentials" not in staging.headers


@pytest.mark.parametrize(
    "origin",
    [
        ELSEWHERE,
        "https://shop.example.evil.example",  # a suffix, not the origin
        "http://shop.example",  # another scheme is another origin
        "https://shop.example:8443",  # and another port
        "null",  # sandboxed frames and file: pages
    ],
)
def test_a_preflight_from_another_origin_gets_no_allow_headers_and_a_clear_403(
    cors_client: TestClient, origin: str
):
    response = cors_client.options("/api/v1/track", headers={"Origin": origin, **PREFLIGHT})

    assert response.status_code == 403
    assert _cors_headers(response) == {}
    assert "origin" in _vary(response)
    body = response.json()
    assert body["error"] == "origin_not_allowed"
    assert f"origin '{origin}' is not allowed" in body["message"]
    assert "OWNLAY_INGEST_CORS_ORIGINS" in body["message"]


def test_by_default_no_origin_is_allowed_and_the_preflight_says_so(client: TestClient):
    response = client.options("/api/v1/track", headers={"Origin": SHOP, **PREFLIGHT})

    assert response.status_code == 403
    assert _cors_headers(response) == {}
    assert response.json()["error"] == "origin_not_allowed"
    assert "no origin is allowed" in response.json()["message"]


def test_by_default_event_answers_carry_no_cors_headers(client: TestClient, acme_key: IssuedApiKey):
    response = client.post(
        "/api/v1/track",
        json=track_event(),
        headers={"Origin": SHOP, **auth_header(acme_key.plaintext)},
    )

    assert response.status_code == 202
    assert _cors_headers(response) == {}
    assert "vary" not in response.headers


@pytest.mark.parametrize(
    ("asked", "error", "named"),
    [
        ({"Access-Control-Request-Method": "PUT"}, "cors_method_not_allowed", "'PUT'"),
        (
            {
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type,x-ownlay-api-key,x-debug",
            },
            "cors_header_not_allowed",
            "'x-debug'",
        ),
        (
            {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "cookie"},
            "cors_header_not_allowed",
            "'cookie'",
        ),
    ],
)
def test_a_preflight_for_a_method_or_header_the_route_does_not_take_is_403_naming_it(
    cors_client: TestClient, asked: dict[str, str], error: str, named: str
):
    response = cors_client.options("/api/v1/track", headers={"Origin": SHOP, **asked})

    assert response.status_code == 403
    assert _cors_headers(response) == {}
    assert response.json()["error"] == error
    assert named in response.json()["message"]


def test_a_preflight_may_ask_for_fewer_headers_in_any_case_and_spacing(cors_client: TestClient):
    asked = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": " X-Ownlay-Api-Key ",
    }
    gzip = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-encoding, content-type, x-ownlay-api-key",
    }

    assert (
        cors_client.options("/api/v1/track", headers={"Origin": SHOP, **asked}).status_code == 204
    )
    assert (
        cors_client.options("/api/v1/events", headers={"Origin": SHOP, **gzip}).status_code == 204
    )


def test_an_options_request_that_is_no_preflight_lists_the_methods(cors_client: TestClient):
    plain = cors_client.options("/api/v1/track")
    no_method = cors_client.options("/api/v1/track", headers={"Origin": SHOP})

    assert (plain.status_code, plain.headers["allow"]) == (204, "OPTIONS, POST")
    assert _cors_headers(plain) == {}
    assert (no_method.status_code, no_method.headers["allow"]) == (204, "OPTIONS, POST")
    assert _cors_headers(no_method) == {}


def test_another_method_on_an_event_route_is_405_listing_options_and_post(
    cors_client: TestClient,
):
    response = cors_client.get("/api/v1/track", headers={"Origin": SHOP})

    assert response.status_code == 405
    assert response.headers["allow"] == "OPTIONS, POST"


@pytest.mark.parametrize("path", EVENT_PATHS)
def test_an_accepted_event_s_answer_is_readable_by_the_allowed_origin(
    cors_client: TestClient, acme_key: IssuedApiKey, path: str
):
    event = track_event() if path == "/api/v1/track" else ownlay_event()
    headers = {"Origin": SHOP, **auth_header(acme_key.plaintext)}

    response = cors_client.post(path, json=event, headers=headers)

    assert response.status_code == 202 and response.json()["stored"] == 1
    assert _cors_headers(response) == {
        "access-control-allow-origin": SHOP,
        "access-control-expose-headers": "Retry-After",
    }
    assert _vary(response) == {"origin"}


def test_refusals_are_readable_by_the_allowed_origin_so_the_sdk_can_act_on_them(
    cors_settings: IngestSettings, clock: FakeClock, acme_key: IssuedApiKey
):
    limited = cors_settings.model_copy(update={"rate_limit_events_per_second": 2.0})
    origin = {"Origin": SHOP}
    key = auth_header(acme_key.plaintext)
    with TestClient(create_app(limited, clock=clock, environ=ENVIRON)) as http:
        answers = {
            401: http.post("/api/v1/track", json=track_event(), headers=origin),
            400: http.post("/api/v1/track", content=b"{", headers={**origin, **key}),
            413: http.post("/api/v1/track", content=b" " * 5000, headers={**origin, **key}),
            422: http.post("/api/v1/track", json={"event_type": ""}, headers={**origin, **key}),
            429: http.post(
                "/api/v1/track",
                json=[track_event(n) for n in range(1, 4)],
                headers={**origin, **key},
            ),
        }

    assert {status: answer.status_code for status, answer in answers.items()} == {
        s: s for s in answers
    }
    for answer in answers.values():
        assert answer.headers["access-control-allow-origin"] == SHOP
        assert answer.headers["access-control-expose-headers"] == "Retry-After"
        assert "origin" in _vary(answer)
    assert int(answers[429].headers["retry-after"]) >= 1


def test_an_answer_to_another_origin_has_no_allow_origin_but_varies_by_origin(
    cors_client: TestClient, acme_key: IssuedApiKey
):
    headers = {"Origin": ELSEWHERE, **auth_header(acme_key.plaintext)}

    response = cors_client.post("/api/v1/track", json=track_event(), headers=headers)

    # The key authorises the write (a server can send any Origin); CORS only keeps the answer
    # from another site's scripts.
    assert response.status_code == 202
    assert _cors_headers(response) == {}
    assert _vary(response) == {"origin"}


def test_server_to_server_answers_without_origin_are_unchanged(
    cors_client: TestClient, acme_key: IssuedApiKey
):
    response = cors_client.post(
        "/api/v1/events", json=ownlay_event(), headers=auth_header(acme_key.plaintext)
    )

    assert response.status_code == 202
    assert _cors_headers(response) == {}
    assert "vary" not in response.headers


def test_webhook_routes_refuse_options_with_405_and_never_send_cors_headers(
    cors_client: TestClient,
):
    body, headers = shopify_delivery(SHOPIFY_SECRET)
    shopify = "/api/v1/webhooks/shopify/acme"
    delivery = cors_client.post(shopify, content=body, headers={"Origin": SHOP, **headers})
    for path in (shopify, "/api/v1/webhooks/stripe/acme"):
        preflight = cors_client.options(path, headers={"Origin": SHOP, **PREFLIGHT})

        assert preflight.status_code == 405, path
        assert preflight.headers["allow"] == "POST"
        assert _cors_headers(preflight) == {} and "vary" not in preflight.headers, path
    assert delivery.status_code == 200
    assert _cors_headers(delivery) == {} and "vary" not in delivery.headers


def test_a_beacon_without_the_key_header_is_refused_401_readably(
    cors_client: TestClient, acme_key: IssuedApiKey
):
    """`navigator.sendBeacon` sends `text/plain` JSON without a preflight, but cannot send the
    key header; the service takes no key from the URL or body, so a beacon gets 401. A
    `fetch(…, {keepalive: true})` with the header is the SDK's way to send during page unload."""
    beacon = {"Origin": SHOP, "Content-Type": "text/plain;charset=UTF-8"}
    body = json.dumps(track_event()).encode()

    refused = cors_client.post("/api/v1/track", content=body, headers=beacon)
    keepalive = cors_client.post(
        "/api/v1/track", content=body, headers={**beacon, **auth_header(acme_key.plaintext)}
    )

    assert (refused.status_code, refused.json()["error"]) == (401, "missing_api_key")
    assert refused.headers["access-control-allow-origin"] == SHOP
    assert keepalive.status_code == 202 and keepalive.json()["stored"] == 1


def test_the_declared_fastapi_routes_answer_preflights_and_events_like_the_raw_handlers(
    cors_client: TestClient, acme_key: IssuedApiKey
):
    app = cors_client.app

    async def through_fastapi(scope, receive, send):
        await FastAPI.__call__(app, scope, receive, send)

    declared = TestClient(through_fastapi)  # the app is running already (cors_client's lifespan)
    preflights = [
        http.options("/api/v1/track", headers={"Origin": origin, **PREFLIGHT})
        for http in (declared, cors_client)
        for origin in (SHOP, ELSEWHERE)
    ]
    tracked = declared.post(
        "/api/v1/track",
        json=track_event(),
        headers={"Origin": SHOP, **auth_header(acme_key.plaintext)},
    )

    assert [p.status_code for p in preflights] == [204, 403, 204, 403]
    assert _cors_headers(preflights[0]) == _cors_headers(preflights[2])
    assert preflights[1].json() == preflights[3].json()
    assert tracked.status_code == 202
    assert tracked.headers["access-control-allow-origin"] == SHOP


def test_the_openapi_document_declares_the_preflight_of_each_event_route_only(
    cors_client: TestClient,
):
    paths = cors_client.get("/openapi.json").json()["paths"]

    for path in EVENT_PATHS:
        preflight = paths[path]["options"]
        assert {"204", "403"} <= set(preflight["responses"]), path
        allowed = preflight["responses"]["204"]["headers"]
        assert {"Access-Control-Allow-Origin", "Access-Control-Max-Age", "Vary"} <= set(allowed)
        assert "security" not in preflight  # a preflight never carries the key
        answered = paths[path]["post"]["responses"]["202"]
        assert "Access-Control-Allow-Origin" in answered["headers"], path
    webhooks = [path for path in paths if path.startswith("/api/v1/webhooks/")]
    assert webhooks and all("options" not in paths[path] for path in webhooks)


def test_the_served_app_answers_a_raw_preflight_then_the_event_on_one_connection(
    cors_settings: IngestSettings, acme_key: IssuedApiKey, monkeypatch: pytest.MonkeyPatch
):
    """As a browser does it: the preflight, then the POST on the same kept-alive connection."""
    for name, value in ENVIRON.items():
        monkeypatch.setenv(name, value)
    event = json.dumps(track_event()).encode()
    preflight = (
        f"OPTIONS /api/v1/track HTTP/1.1\r\nHost: collect.example\r\nOrigin: {SHOP}\r\n"
        "Access-Control-Request-Method: POST\r\n"
        "Access-Control-Request-Headers: content-type,x-ownlay-api-key\r\n\r\n"
    ).encode()
    post = (
        f"POST /api/v1/track HTTP/1.1\r\nHost: collect.example\r\nOrigin: {SHOP}\r\n"
        f"Content-Type: application/json\r\nX-Ownlay-Api-Key: {acme_key.plaintext}\r\n"
        f"Content-Length: {len(event)}\r\n\r\n"
    ).encode() + event
    with serve_in_background(cors_settings) as url:
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as connection:
            connection.sendall(preflight)
            first = _read_answer(connection)
            connection.sendall(post)
            second = _read_answer(connection)

    first_head, first_body = first
    second_head, second_body = second
    assert first_head[0] == "HTTP/1.1 204 No Content" and first_body == b""
    assert "content-length" not in _header_names(first_head)
    assert f"access-control-allow-origin: {SHOP}" in first_head
    assert "access-control-max-age: 7200" in first_head
    assert second_head[0] == "HTTP/1.1 202 Accepted"
    assert f"access-control-allow-origin: {SHOP}" in second_head
    assert json.loads(second_body)["stored"] == 1


def _header_names(head: list[str]) -> set[str]:
    return {line.split(":", 1)[0] for line in head[1:]}


def _read_answer(connection: socket.socket) -> tuple[list[str], bytes]:
    """One HTTP/1.1 answer off the connection: its head lines (names lower-cased) and body."""
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = connection.recv(65536)
        assert chunk, "the server closed the connection"
        received += chunk
    head_bytes, body = received.split(b"\r\n\r\n", 1)
    status, *fields = head_bytes.decode("latin-1").split("\r\n")
    head = [status] + [
        f"{name.strip().lower()}: {value.strip()}"
        for name, value in (field.split(":", 1) for field in fields)
    ]
    length = next(
        (int(line.split(": ")[1]) for line in head if line.startswith("content-length:")), 0
    )
    while len(body) < length:
        body += connection.recv(65536)
    return head, body


def test_allowed_origins_come_from_the_environment(tmp_path):
    settings = IngestSettings.from_env(
        {
            "OWNLAY_DATA_DIR": str(tmp_path),
            "OWNLAY_INGEST_CORS_ORIGINS": " https://shop.example, http://localhost:3000 ,"
            "http://[::1]:8080",
        }
    )
    default = IngestSettings.from_env({"OWNLAY_DATA_DIR": str(tmp_path)})

    assert settings.cors_origins == (
        "https://shop.example",
        "http://localhost:3000",
        "http://[::1]:8080",
    )
    assert default.cors_origins == ()


@pytest.mark.parametrize(
    ("written", "reason"),
    [
        ("https://shop.example/", "write it 'https://shop.example'"),
        ("https://shop.example/checkout", "write it 'https://shop.example'"),
        ("https://Shop.Example", "write it 'https://shop.example'"),
        ("https://shop.example:443", "write it 'https://shop.example'"),
        ("*", "list each origin"),
        ("shop.example", "scheme://host[:port]"),
        ("ftp://shop.example", "http or https"),
        ("https://user@shop.example", "scheme://host[:port]"),
    ],
)
def test_an_origin_that_is_not_exactly_as_browsers_send_it_is_refused_naming_it(
    tmp_path, written: str, reason: str
):
    environ = {"OWNLAY_DATA_DIR": str(tmp_path), "OWNLAY_INGEST_CORS_ORIGINS": written}

    with pytest.raises(IngestSettingsInvalid) as refused:
        IngestSettings.from_env(environ)

    message = str(refused.value)
    assert message.startswith(f"OWNLAY_INGEST_CORS_ORIGINS: '{written}' ")
    assert reason in message
