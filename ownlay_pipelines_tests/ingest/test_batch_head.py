"""A batch's head is counted exactly, and an overlong one is refused before the rest is read."""

import asyncio
import json
import socket

import pytest
from fastapi.testclient import TestClient

from ownlay_pipelines.http.clock import FakeClock
from ownlay_pipelines.ingest.app import create_app
from ownlay_pipelines.ingest.batch_head import HEAD_BYTES, complete_items_in_head
from ownlay_pipelines.ingest.config import IngestSettings
from ownlay_pipelines.ingest.keys import IssuedApiKey
from ownlay_pipelines.ingest.server import serve_in_background
from ownlay_pipelines_tests.ingest.payloads import (
    ENVIRON,
    events_scope,
    ownlay_event,
    raw_events_head,
    read_answer,
)

MIB = 1024 * 1024


@pytest.mark.parametrize(
    ("body", "counted"),
    [
        (b"[1,2,3,4]", (3, 9)),  # the last item has no comma after it: not known complete
        (b' \n[{"a":"x,y","b":[1,2,{"c":"}],"}]},3,"q\\",",4,', (4, 48)),  # `"q\","` is one
        (b"[[1,2],[3,4],", (2, 13)),
        (b"[1,,2,3,", (1, 8)),  # counting stops where the JSON does
        (b'{"event_type":"page_view","a":1,', (0, 0)),  # one event, not a batch
        (b"[\xff\xfe,1,2,", (0, 0)),
        (b"[" + b"[" * 300 + b"1," * 10, (0, 0)),  # inside an item: no count
    ],
)
def test_the_head_counts_only_complete_top_level_items(body: bytes, counted: tuple[int, int]):
    assert complete_items_in_head(body, 1001) == counted


def test_the_head_reads_more_only_while_too_few_items_are_found():
    tiny = b"[" + b"1," * 100_000
    small = b"[" + b'{"event_type":0},' * 20_000

    assert complete_items_in_head(tiny, 1001) == (2047, 4096)
    assert complete_items_in_head(small, 1001) == (1927, HEAD_BYTES)
    assert complete_items_in_head(small, 100) == (240, 4096)


def test_a_legitimate_batch_of_real_events_is_never_refused_by_its_head():
    batch = json.dumps([ownlay_event(n) for n in range(1, 1001)]).encode()

    items, _ = complete_items_in_head(batch, 1001)

    assert len(batch) > 64 * 1024 and items < 1001


def test_a_streamed_junk_batch_is_answered_before_the_rest_of_it_is_read(
    settings: IngestSettings, clock: FakeClock, acme_key: IssuedApiKey
):
    app = create_app(
        settings.model_copy(update={"max_body_bytes": MIB}), clock=clock, environ=ENVIRON
    )
    handle = app.raw_routes["/api/v1/events"]
    junk = b"[" + b"1," * (MIB // 2 - 2) + b"1]"
    chunks = [junk[start : start + 64 * 1024] for start in range(0, len(junk), 64 * 1024)]
    served: list[int] = []
    sent: list[dict] = []
    scope = events_scope(acme_key.plaintext, len(junk))

    async def receive() -> dict:
        served.append(len(served))
        more = len(served) < len(chunks)
        return {"type": "http.request", "body": chunks[len(served) - 1], "more_body": more}

    async def send(message: dict) -> None:
        sent.append(message)

    with TestClient(app):  # the app's lifespan: its buffer is closed afterwards
        asyncio.run(handle(scope, receive, send))

    assert len(chunks) == 16 and len(served) == 1
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["error"] == "batch_too_large"


def test_the_served_app_answers_an_overlong_batch_mid_body_and_keeps_the_connection(
    settings: IngestSettings, acme_key: IssuedApiKey, monkeypatch: pytest.MonkeyPatch
):
    for name, value in ENVIRON.items():
        monkeypatch.setenv(name, value)
    junk = b"[" + b"1," * (MIB // 2 - 2) + b"1]"
    head = raw_events_head(acme_key.plaintext, len(junk))
    event = json.dumps(ownlay_event(1)).encode()
    follow_up = raw_events_head(acme_key.plaintext, len(event)) + event
    tuned = settings.model_copy(update={"max_body_bytes": MIB})
    with serve_in_background(tuned) as url:
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as connection:
            connection.sendall(head + junk[: 64 * 1024])  # a sixteenth of the body
            early = read_answer(connection)
            connection.sendall(junk[64 * 1024 :] + follow_up)
            after = read_answer(connection)

    assert early.startswith(b"HTTP/1.1 413 ") and b'"error":"batch_too_large"' in early
    assert after.startswith(b"HTTP/1.1 202 ") and b'"stored":1' in after
