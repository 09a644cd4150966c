"""Responses leave in one socket write: the coalescing transport under uvicorn's protocol; malformed
HTTP is refused in JSON after the answers owed before it."""

from __future__ import annotations

import asyncio
import json
import re
import socket

import httpx
import pytest

from ownlay_pipelines.ingest.coalescing_transport import CoalescingTransport
from ownlay_pipelines.ingest.config import IngestSettings
from ownlay_pipelines.ingest.keys import IssuedApiKey
from ownlay_pipelines.ingest.server import serve_in_background
from ownlay_pipelines_tests.ingest.payloads import ENVIRON, auth_header, ownlay_event


class _RecordingTransport:
    """Stands in for the socket transport: records every write and whether it was closed."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False
        self.aborted = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str) -> str:
        return f"extra:{name}"


def test_writes_of_one_loop_turn_leave_as_one_write_in_order():
    async def one_turn_then_next() -> tuple[list[bytes], int, list[bytes]]:
        socket = _RecordingTransport()
        transport = CoalescingTransport(socket, asyncio.get_running_loop())
        transport.write(b"HTTP/1.1 202 Accepted\r\ncontent-length: 2\r\n\r\n")
        transport.write(b"{}")
        during_turn = list(socket.writes)
        pending = transport.get_write_buffer_size()
        await asyncio.sleep(0)
        return during_turn, pending, socket.writes

    during_turn, pending, writes = asyncio.run(one_turn_then_next())

    assert during_turn == []
    assert pending == len(b"HTTP/1.1 202 Accepted\r\ncontent-length: 2\r\n\r\n{}")
    assert writes == [b"HTTP/1.1 202 Accepted\r\ncontent-length: 2\r\n\r\n{}"]


def test_close_sends_what_is_pending_first_and_abort_drops_it():
    async def close_and_abort() -> tuple[_RecordingTransport, _RecordingTransport, str]:
        loop = asyncio.get_running_loop()
        closed, aborted = _RecordingTransport(), _RecordingTransport()
        closing = CoalescingTransport(closed, loop)
        closing.write(b"last answer")
        closing.close()
        dropping = CoalescingTransport(aborted, loop)
        dropping.write(b"never sent")
        dropping.abort()
        await asyncio.sleep(0)
        return closed, aborted, closing.get_extra_info("peername")

    closed, aborted, extra = asyncio.run(close_and_abort())

    assert (closed.writes, closed.closed) == ([b"last answer"], True)
    assert (aborted.writes, aborted.aborted) == ([], True)
    assert extra == "extra:peername"  # everything else is the socket transport's


def test_the_served_app_answers_keep_alive_requests_through_the_coalescing_protocol(
    settings: IngestSettings, acme_key: IssuedApiKey, monkeypatch: pytest.MonkeyPatch
):
    for name, value in ENVIRON.items():
        monkeypatch.setenv(name, value)
    headers = auth_header(acme_key.plaintext)
    with serve_in_background(settings) as url, httpx.Client(base_url=url, timeout=10) as http:
        answers = [
            http.post("/api/v1/events", json=ownlay_event(number), headers=headers)
            for number in (1, 2, 2)
        ]
        refused = http.post("/api/v1/events", content=b"{", headers=headers)
        document = http.get("/openapi.json")

    assert [(a.status_code, a.json()["stored"]) for a in answers] == [(202, 1), (202, 1), (202, 0)]
    assert refused.status_code == 400 and len(refused.content) < 2048
    assert document.status_code == 200 and "/api/v1/events" in document.json()["paths"]


def test_malformed_http_after_pipelined_events_is_refused_in_json_after_their_answers(
    settings: IngestSettings, acme_key: IssuedApiKey, monkeypatch: pytest.MonkeyPatch
):
    for name, value in ENVIRON.items():
        monkeypatch.setenv(name, value)

    def post(body: bytes, length: str) -> bytes:
        return (
            f"POST /api/v1/events HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            f"X-Ownlay-Api-Key: {acme_key.plaintext}\r\nContent-Length: {length}\r\n\r\n"
        ).encode() + body

    events = [json.dumps(ownlay_event(number)).encode() for number in (1, 2)]
    pipelined = b"".join(post(event, str(len(event))) for event in events) + post(b"", "-1")
    with serve_in_background(settings) as url:
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as connection:
            connection.sendall(pipelined)
            answers = b""
            while chunk := connection.recv(65536):
                answers += chunk
        with httpx.Client(base_url=url, timeout=10) as http:
            retried = http.post(
                "/api/v1/events", content=events[0], headers=auth_header(acme_key.plaintext)
            )

    statuses = re.findall(rb"HTTP/1.1 (\d{3}) ", answers)
    refusal = json.loads(answers[answers.rindex(b"\r\n\r\n") + 4 :])
    assert statuses == [b"202", b"202", b"400"]
    assert refusal["error"] == "malformed_http" and "\n" not in refusal["message"]
    assert retried.json()["stored"] == 0  # the first event was stored before its answer


def test_a_request_head_over_64_kib_is_refused_431_while_it_arrives(
    settings: IngestSettings, acme_key: IssuedApiKey, monkeypatch: pytest.MonkeyPatch
):
    for name, value in ENVIRON.items():
        monkeypatch.setenv(name, value)
    event = json.dumps(ownlay_event(1)).encode()
    batch = json.dumps([ownlay_event(n, session_id="s" * 200) for n in range(2, 302)]).encode()
    assert len(batch) > 64 * 1024

    def post(body: bytes, extra_header: str) -> bytes:
        return (
            f"POST /api/v1/events HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            f"X-Ownlay-Api-Key: {acme_key.plaintext}\r\n{extra_header}"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body

    with serve_in_background(settings.model_copy(update={"max_body_bytes": 1 << 20})) as url:
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as connection:
            long_head = post(event, f"X-Padding: {'a' * 70_000}\r\n")
            for start in range(0, 66_000, 1000):  # piece by piece, as a slow sender sends it
                connection.sendall(long_head[start : start + 1000])
            refused = connection.recv(65536)
        with socket.create_connection((host, int(port)), timeout=10) as connection:
            connection.sendall(post(event, f"X-Padding: {'a' * 60_000}\r\n"))
            near_limit = connection.recv(65536)
        with socket.create_connection((host, int(port)), timeout=10) as connection:
            connection.sendall(post(batch, ""))  # head and a 100 KB body in one write
            with_body = b""
            while b'"stored"' not in with_body:
                with_body += connection.recv(65536)

    assert refused.startswith(b"HTTP/1.1 431 ")
    assert json.loads(refused.partition(b"\r\n\r\n")[2]) == {
        "error": "head_too_large",
        "message": "the request line and headers exceed 65536 bytes; the connection is closed",
    }
    assert near_limit.startswith(b"HTTP/1.1 202 ")
    assert with_body.startswith(b"HTTP/1.1 202 ") and b'"stored":300' in with_body


@pytest.mark.parametrize(
    ("chunk_bytes", "answer"),
    [(1, b"HTTP/1.1 400 "), (1024, b"HTTP/1.1 202 ")],
    ids=["1-byte chunks", "1 KiB chunks"],
)
def test_a_body_in_more_than_16384_chunks_is_refused_400_and_the_answer_reaches_the_client(
    settings: IngestSettings,
    acme_key: IssuedApiKey,
    monkeypatch: pytest.MonkeyPatch,
    chunk_bytes: int,
    answer: bytes,
):
    for name, value in ENVIRON.items():
        monkeypatch.setenv(name, value)
    batch = json.dumps([ownlay_event(n) for n in range(1, 41)]).encode()  # ~30 KB
    chunked = b"".join(
        b"%x\r\n%s\r\n" % (len(piece), piece)
        for piece in (batch[i : i + chunk_bytes] for i in range(0, len(batch), chunk_bytes))
    )
    head = (
        f"POST /api/v1/events HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        f"X-Ownlay-Api-Key: {acme_key.plaintext}\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()
    with serve_in_background(settings.model_copy(update={"max_body_bytes": 1 << 20})) as url:
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as connection:
            connection.sendall(head + chunked + b"0\r\n\r\n")
            reply = connection.recv(65536)

    assert reply.startswith(answer)
    if chunk_bytes == 1:
        assert json.loads(reply.partition(b"\r\n\r\n")[2])["error"] == "fragmented_body"
