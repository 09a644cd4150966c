"""A request head, or a small body, that arrives too slowly or stalls gets 408 and its connection
closed (slowloris); a connection idle between requests, or a pipelined request, is left alone."""

from __future__ import annotations

import json
import re
import select
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from ownlay_pipelines.ingest import http_protocol
from ownlay_pipelines.ingest.config import IngestSettings
from ownlay_pipelines.ingest.keys import IssuedApiKey
from ownlay_pipelines.ingest.server import serve_in_background
from ownlay_pipelines_tests.ingest.payloads import ENVIRON, ownlay_event, raw_events_head

TOTAL_SECONDS = 1.0
IDLE_SECONDS = 0.3
CLOCK_SLACK = 0.005
"""How early a refusal may look from here: uvloop's `loop.time()` counts whole milliseconds,
read once per loop iteration, so the server's clock can trail this one by a little over 1 ms."""


@pytest.fixture
def served(settings: IngestSettings, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, int]]:
    """(host, port) of the real server, with the request pace shortened to keep tests quick."""
    for name, value in ENVIRON.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(http_protocol, "REQUEST_SECONDS", TOTAL_SECONDS)
    monkeypatch.setattr(http_protocol, "REQUEST_IDLE_SECONDS", IDLE_SECONDS)
    # A 1 MiB cap, so a large webhook body that stalls is not refused 413 first.
    with serve_in_background(settings.model_copy(update={"max_body_bytes": 1 << 20})) as url:
        host, port = url.removeprefix("http://").split(":")
        yield host, int(port)


def _post(key: IssuedApiKey, number: int) -> bytes:
    body = json.dumps(ownlay_event(number)).encode()
    return raw_events_head(key.plaintext, len(body)) + body


@contextmanager
def _connection(address: tuple[str, int]) -> Iterator[socket.socket]:
    with socket.create_connection(address, timeout=5) as connection:
        yield connection


def _read_until_closed(connection: socket.socket) -> bytes:
    """Everything the server sends until it closes (a socket timeout fails the test)."""
    answer = b""
    while chunk := connection.recv(65536):
        answer += chunk
    return answer


def _refusal(answer: bytes) -> dict:
    assert answer.startswith(b"HTTP/1.1 408 ") and b"\r\nconnection: close\r\n" in answer
    return json.loads(answer.partition(b"\r\n\r\n")[2])


def test_a_head_sent_byte_by_byte_is_refused_408_when_its_time_is_up(
    served: tuple[str, int], acme_key: IssuedApiKey
):
    request = _post(acme_key, 1)
    with _connection(served) as connection:
        started = time.monotonic()
        sent = 0
        while sent < 200 and not select.select([connection], [], [], 0.05)[0]:
            connection.sendall(request[sent : sent + 1])  # never idle, but 200 bytes take 10 s
            sent += 1
        elapsed = time.monotonic() - started
        answer = _read_until_closed(connection)

    assert _refusal(answer) == {
        "error": "head_timeout",
        "message": "the request line and headers did not arrive within 1 s of the request's "
        "first byte; send it at once",
    }
    assert sent < 200
    assert TOTAL_SECONDS - CLOCK_SLACK <= elapsed < TOTAL_SECONDS + 5  # slack for a busy CI


@pytest.mark.parametrize(
    ("sent_bytes", "refusal"),
    [
        (
            40,
            {
                "error": "head_timeout",
                "message": "no byte of the request line and headers "
                "came for 0.3 s; send it at once",
            },
        ),
        (
            -20,
            {
                "error": "body_timeout",
                "message": "no byte of the request body came for 0.3 s; send it at once",
            },
        ),
    ],
    ids=["head", "small body"],
)
def test_a_request_that_stalls_mid_way_is_refused_408_after_the_idle_time(
    served: tuple[str, int], acme_key: IssuedApiKey, sent_bytes: int, refusal: dict
):
    with _connection(served) as connection:
        started = time.monotonic()
        connection.sendall(_post(acme_key, 1)[:sent_bytes])  # and nothing more
        select.select([connection], [], [], 5)
        elapsed = time.monotonic() - started
        answer = _read_until_closed(connection)

    assert _refusal(answer) == refusal
    assert IDLE_SECONDS - CLOCK_SLACK <= elapsed < IDLE_SECONDS + 5  # slack for a busy CI


def test_idle_keep_alive_connections_and_pipelined_requests_are_not_timed_out(
    served: tuple[str, int], acme_key: IssuedApiKey
):
    with _connection(served) as connection:
        connection.sendall(_post(acme_key, 1))
        first = connection.recv(65536)
        time.sleep(TOTAL_SECONDS + IDLE_SECONDS)  # idle between requests: keep-alive's business
        second_and_third = _post(acme_key, 2) + _post(acme_key, 3)
        split = len(_post(acme_key, 2)) + 30  # the third's head arrives in two reads
        connection.sendall(second_and_third[:split])
        time.sleep(IDLE_SECONDS / 3)
        connection.sendall(second_and_third[split:])
        answers = b""
        while len(re.findall(rb"HTTP/1.1 (\d{3}) ", answers)) < 2:
            answers += connection.recv(65536)

    assert first.startswith(b"HTTP/1.1 202 ") and b'"stored":1' in first
    assert re.findall(rb"HTTP/1.1 (\d{3}) ", answers) == [b"202", b"202"]


def test_a_connection_that_never_sends_a_byte_is_closed_after_the_keep_alive_timeout(
    served: tuple[str, int],
):
    with _connection(served) as connection:
        connection.settimeout(15)
        started = time.monotonic()
        answer = _read_until_closed(connection)
        elapsed = time.monotonic() - started

    assert answer == b""  # closed quietly, as uvicorn closes an idle keep-alive connection
    assert 4.5 <= elapsed < 12  # uvicorn's default timeout_keep_alive, 5 s from its accept


@pytest.mark.parametrize(
    "framing",
    [
        b"Transfer-Encoding: chunked\r\n\r\n4000\r\n" + b"{" * 0x4000 + b"\r\n",
        b"Content-Length: 200000\r\n\r\n" + b"{" * 100_000,
    ],
    ids=["chunked", "large declared"],
)
def test_a_webhook_body_that_stalls_is_refused_408_whatever_its_framing(
    served: tuple[str, int], framing: bytes
):
    """Only the event routes pace their own large or chunked bodies (in turns); a webhook's body
    that stalls, chunked or declared over 64 KiB, held its connection forever."""
    head = b"POST /api/v1/webhooks/shopify/acme HTTP/1.1\r\nHost: test\r\n"
    with _connection(served) as connection:
        started = time.monotonic()
        connection.sendall(head + b"Content-Type: application/json\r\n" + framing)
        select.select([connection], [], [], 5)
        elapsed = time.monotonic() - started
        answer = _read_until_closed(connection)

    assert _refusal(answer) == {
        "error": "body_timeout",
        "message": "no byte of the request body came for 0.3 s; send it at once",
    }
    assert IDLE_SECONDS - CLOCK_SLACK <= elapsed < IDLE_SECONDS + 5  # slack for a busy CI


@pytest.mark.parametrize("method", [b"OPTIONS", b"GET"])
def test_a_body_that_stalls_after_an_event_route_answered_another_method_is_cut_408(
    served: tuple[str, int], method: bytes
):
    """The app answers an event route's OPTIONS (the CORS preflight) or GET without reading a
    body; only a POST's large body is paced by the app's turns, so another method's body that
    stalls after its answer held the connection forever."""
    head = method + b" /api/v1/track HTTP/1.1\r\nHost: test\r\nOrigin: https://shop.example\r\n"
    framing = b"Transfer-Encoding: chunked\r\n\r\n4000\r\n" + b"{" * 0x4000 + b"\r\n"
    with _connection(served) as connection:
        started = time.monotonic()
        connection.sendall(head + framing)
        answers = _read_until_closed(connection)
        elapsed = time.monotonic() - started

    first, _, refusal = answers.rpartition(b"HTTP/1.1 408 ")
    assert first.startswith((b"HTTP/1.1 204 ", b"HTTP/1.1 405 "))  # answered at once
    assert _refusal(b"HTTP/1.1 408 " + refusal)["error"] == "body_timeout"
    assert IDLE_SECONDS - CLOCK_SLACK <= elapsed < IDLE_SECONDS + 5  # slack for a busy CI
