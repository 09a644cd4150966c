"""A sender that stalls mid-body cannot hold the turns for large bodies: it gives its turn back
while quiet, and gets 408; one that drips keeps its turn at most 10 s."""

import asyncio
import json
import socket
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from ownlay_pipelines.http.clock import FakeClock
from ownlay_pipelines.ingest import app as ingest_app
from ownlay_pipelines.ingest.app import create_app
from ownlay_pipelines.ingest.config import IngestSettings
from ownlay_pipelines.ingest.keys import IssuedApiKey
from ownlay_pipelines.ingest.server import serve_in_background
from ownlay_pipelines_tests.ingest.payloads import (
    ENVIRON,
    auth_header,
    events_scope,
    ownlay_event,
    raw_events_head,
)

MIB = 1024 * 1024


def _large_batch(first: int) -> bytes:
    """50 valid events of ~1.6 KB each: over 64 KiB, so it needs a large-body turn."""
    events = [ownlay_event(n) for n in range(first, first + 50)]
    for event in events:
        event["properties"]["notes"] = "x" * 1500
    body = json.dumps(events).encode()
    assert len(body) > ingest_app.OFF_LOOP_BODY_BYTES
    return body


async def _post(
    handle, key: IssuedApiKey, body: bytes, *, pause: float | None = None
) -> tuple[int, dict, dict]:
    """(status, headers, JSON body) of one request through the raw handler: the body at once, or
    (`pause`) in pieces of 100 bytes, `pause` seconds apart."""
    scope = events_scope(key.plaintext, len(body))
    sent = 0

    async def receive() -> dict:
        nonlocal sent
        if pause is None:
            return {"type": "http.request", "body": body, "more_body": False}
        if sent:
            await asyncio.sleep(pause)
        sent += 100
        return {"type": "http.request", "body": body[sent - 100 : sent], "more_body": True}

    answer: list[dict] = []

    async def send(message: dict) -> None:
        answer.append(message)

    await handle(scope, receive, send)
    headers = {name.decode(): value.decode() for name, value in answer[0]["headers"]}
    return answer[0]["status"], headers, json.loads(answer[1]["body"])


@pytest.mark.parametrize(
    ("pause", "read_seconds", "idle_seconds", "says"),
    [
        (3600, 10, 0.2, "no byte of the request body came for 0.2 s"),
        (0.01, 0.3, 2, "the request body did not arrive within 0.3 s"),
    ],
    ids=["stalled", "dripping"],
)
def test_slow_bodies_get_408_and_free_their_turns_for_the_next_large_body(
    settings: IngestSettings,
    clock: FakeClock,
    acme_key: IssuedApiKey,
    monkeypatch: pytest.MonkeyPatch,
    pause: float,
    read_seconds: float,
    idle_seconds: float,
    says: str,
):
    monkeypatch.setattr(ingest_app, "LARGE_BODY_READ_SECONDS", read_seconds)
    monkeypatch.setattr(ingest_app, "LARGE_BODY_IDLE_SECONDS", idle_seconds)
    tuned = settings.model_copy(update={"max_body_bytes": MIB})
    handle = (app := create_app(tuned, clock=clock, environ=ENVIRON)).raw_routes["/api/v1/events"]
    body = _large_batch(1)

    async def two_slow_then_one_sends() -> tuple[list, tuple]:
        slow = [asyncio.create_task(_post(handle, acme_key, body, pause=pause)) for _ in (1, 2)]
        await asyncio.sleep(0.05)  # both hold a turn now
        sent = await asyncio.wait_for(_post(handle, acme_key, body), 5)
        return await asyncio.gather(*slow), sent

    with TestClient(app):
        started = time.monotonic()
        slow, sent = asyncio.run(two_slow_then_one_sends())
        elapsed = time.monotonic() - started

    for status, headers, refusal in slow:
        assert (status, headers["connection"], refusal["error"]) == (408, "close", "body_timeout")
        assert refusal["message"] == f"{says}; send it at once"
    assert (sent[0], sent[2]["stored"]) == (202, 50)
    assert elapsed < 2


def test_a_large_body_that_finds_no_turn_in_time_gets_503_with_retry_after(
    settings: IngestSettings,
    clock: FakeClock,
    acme_key: IssuedApiKey,
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setattr(ingest_app, "LARGE_BODY_WAIT_SECONDS", 0.1)
    tuned = settings.model_copy(update={"max_body_bytes": MIB})
    handle = (app := create_app(tuned, clock=clock, environ=ENVIRON)).raw_routes["/api/v1/events"]
    body = _large_batch(1)

    async def two_drip_then_one_waits() -> tuple[int, dict, dict]:
        # 100 bytes every 10 ms: never quiet for a grace, so both keep their turns (up to 10 s)
        dripping = [asyncio.create_task(_post(handle, acme_key, body, pause=0.01)) for _ in (1, 2)]
        await asyncio.sleep(0.05)
        waited = await asyncio.wait_for(_post(handle, acme_key, body), 5)
        for task in dripping:
            task.cancel()
        await asyncio.gather(*dripping, return_exceptions=True)
        return waited

    with TestClient(app):
        status, headers, refusal = asyncio.run(two_drip_then_one_waits())

    assert (status, headers["retry-after"], refusal["error"]) == (503, "1", "busy")
    assert refusal["message"].startswith(
        "no turn to read a body over 65536 bytes came within 0.1 s"
    )


def test_the_served_app_keeps_taking_large_batches_while_two_senders_stall(
    settings: IngestSettings, acme_key: IssuedApiKey, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(ingest_app, "LARGE_BODY_IDLE_SECONDS", 0.5)

    response, elapsed, answers = _batch_beside_stalled_senders(
        settings, acme_key, monkeypatch, _large_batch(1), senders=2, sent=1000
    )

    assert (response.status_code, response.json()["stored"]) == (202, 50)
    assert elapsed < 5
    for answer in answers:
        assert answer.startswith(b"HTTP/1.1 408 ") and b'"error":"body_timeout"' in answer


def test_senders_stalled_after_64_kib_do_not_delay_a_large_batch(
    settings: IngestSettings, acme_key: IssuedApiKey, monkeypatch: pytest.MonkeyPatch
):
    """Eight senders send 64 KiB of a large body and stall: holding a turn each for the 2 s idle
    time, they kept a legitimate batch waiting ~8 s on two turns; quiet, they hold none."""
    body = json.dumps([ownlay_event(n) for n in range(1, 401)]).encode()  # ~300 KB

    response, elapsed, answers = _batch_beside_stalled_senders(
        settings, acme_key, monkeypatch, body, senders=8, sent=64 * 1024
    )

    assert (response.status_code, response.json()["stored"]) == (202, 50)
    assert elapsed < 1.5  # 7.8 s while stalled senders held their turns
    for answer in answers:
        assert answer.startswith(b"HTTP/1.1 408 ") and b'"error":"body_timeout"' in answer


def _batch_beside_stalled_senders(
    settings: IngestSettings,
    key: IssuedApiKey,
    monkeypatch: pytest.MonkeyPatch,
    body: bytes,
    *,
    senders: int,
    sent: int,
) -> tuple[httpx.Response, float, list[bytes]]:
    """On the served app, `senders` connections each send the head and `sent` bytes of `body`
    and stall; then a legitimate large batch is posted. Its response, the seconds it took, and
    what each stalled connection got before the server closed it."""
    for name, value in ENVIRON.items():
        monkeypatch.setenv(name, value)
    head = raw_events_head(key.plaintext, len(body))
    tuned = settings.model_copy(update={"max_body_bytes": MIB})
    with serve_in_background(tuned) as url:
        host, port = url.removeprefix("http://").split(":")
        stalled = [socket.create_connection((host, int(port)), timeout=10) for _ in range(senders)]
        for connection in stalled:
            connection.sendall(head + body[:sent])  # and nothing more
        time.sleep(0.2)
        with httpx.Client(base_url=url, timeout=20) as http:
            started = time.monotonic()
            response = http.post(
                "/api/v1/events", content=_large_batch(100), headers=auth_header(key.plaintext)
            )
            elapsed = time.monotonic() - started
        answers = [_read_until_closed(connection) for connection in stalled]
    return response, elapsed, answers


def _read_until_closed(connection: socket.socket) -> bytes:
    answer = b""
    with connection:
        while chunk := connection.recv(65536):
            answer += chunk
    return answer


def test_a_large_body_whose_sender_pauses_under_the_idle_time_is_still_taken(
    settings: IngestSettings, acme_key: IssuedApiKey, monkeypatch: pytest.MonkeyPatch
):
    """Paused longer than the grace it gives its turn back, and takes one again to finish."""
    for name, value in ENVIRON.items():
        monkeypatch.setenv(name, value)
    body = _large_batch(1)
    head = raw_events_head(acme_key.plaintext, len(body))
    tuned = settings.model_copy(update={"max_body_bytes": MIB})
    with serve_in_background(tuned) as url:
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as connection:
            connection.sendall(head + body[:40_000])
            time.sleep(0.5)
            connection.sendall(body[40_000:])
            answer = b""
            while b'"stored"' not in answer:
                answer += connection.recv(65536)

    assert answer.startswith(b"HTTP/1.1 202 ") and b'"stored":50' in answer
