"""Large bodies' bytes, read by the app or dropped after an early answer, are taken in at a bounded
pace while several clients send them, never when one does alone, and every connection stays
usable after it."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Hashable, Iterator

import pytest

from ownlay_pipelines.http.clock import FakeClock
from ownlay_pipelines.ingest import large_body_pace
from ownlay_pipelines.ingest.config import IngestSettings
from ownlay_pipelines.ingest.http_protocol import CoalescingHttpToolsProtocol
from ownlay_pipelines.ingest.keys import IssuedApiKey
from ownlay_pipelines.ingest.large_body_pace import ALONE_AFTER_SECONDS, LargeBodyPace
from ownlay_pipelines.ingest.server import serve_in_background
from ownlay_pipelines_tests.ingest.payloads import (
    ENVIRON,
    ownlay_event,
    raw_events_head,
    read_answer,
)

MIB = 1024 * 1024
KIB = 1024
NOT_SLOWED = 1e-6
"""Seconds: what the recording pace makes a lone client wait for a read, at most."""


def test_a_lone_client_pays_its_own_bucket_and_leaves_the_shared_one_full():
    clock = FakeClock()
    pace = LargeBodyPace(
        bytes_per_second=MIB, burst_bytes=MIB, alone_bytes_per_second=8 * MIB, clock=clock.monotonic
    )
    lone, other = ("127.0.0.1", 50001), ("127.0.0.1", 50002)

    waits = [pace.take(MIB, lone) for _ in range(5)]  # 5 MiB at once, past its 1 MiB burst
    other_joins = [pace.take(MIB // 2, other) for _ in range(3)]

    assert waits == pytest.approx([0.0, 0.125, 0.25, 0.375, 0.5])  # 8 MiB/s after the burst
    assert other_joins == pytest.approx([0.0, 0.0, 0.5])  # the whole shared burst, then 1 MiB/s


def test_clients_sending_in_turn_share_the_rate_after_the_burst():
    clock = FakeClock()
    pace = LargeBodyPace(
        bytes_per_second=MIB, burst_bytes=MIB, alone_bytes_per_second=8 * MIB, clock=clock.monotonic
    )
    first, second = ("127.0.0.1", 50001), ("127.0.0.1", 50002)
    pace.take(0, first)  # `first` has sent bytes just now, so `second` is not alone

    within_burst = [pace.take(256 * KIB, c) for c in (second, second, first, second)]
    past_it = [pace.take(256 * KIB, c) for c in (first, second, first)]
    clock.advance(1.0)  # one second of refill pays 1 MiB: the 0.75 MiB debt and 0.25 MiB more
    after_refill = pace.take(256 * KIB, second)
    clock.advance(3600)  # a long quiet spell: `first` is alone again, and the buckets full
    alone_again = pace.take(3 * MIB, first)
    second_back = [pace.take(512 * KIB, second) for _ in range(3)]

    assert within_burst == [0.0] * 4
    assert past_it == pytest.approx([0.25, 0.5, 0.75])
    assert after_refill == 0.0
    assert alone_again == pytest.approx(0.25)  # 2 MiB past its own burst at 8 MiB/s
    assert second_back == pytest.approx([0.0, 0.0, 0.5])  # the shared bucket was left full


def test_a_client_is_alone_again_once_the_others_have_been_quiet_a_while():
    clock = FakeClock()
    pace = LargeBodyPace(
        bytes_per_second=MIB, burst_bytes=0, alone_bytes_per_second=64 * MIB, clock=clock.monotonic
    )
    first, second = ("127.0.0.1", 50001), ("127.0.0.1", 50002)
    pace.take(KIB, first)

    beside_first = pace.take(KIB, second)
    clock.advance(ALONE_AFTER_SECONDS / 2)
    still_beside = pace.take(KIB, second)
    clock.advance(ALONE_AFTER_SECONDS)
    alone = pace.take(KIB, second)

    assert beside_first == pytest.approx(KIB / MIB)
    assert still_beside == pytest.approx(KIB / MIB)  # the first debt was paid off meanwhile
    assert alone == pytest.approx(KIB / (64 * MIB))


class _RecordingPace(LargeBodyPace):
    """A pace of 64 MiB/s shared and a lone client's of 1 PB/s (as good as unpaced), no burst,
    that records (client, wait) per payment."""

    def __init__(self) -> None:
        super().__init__(bytes_per_second=64 * MIB, burst_bytes=0, alone_bytes_per_second=1e15)
        self.takes: list[tuple[Hashable, float]] = []

    def take(self, size: int, client: Hashable) -> float:
        wait = super().take(size, client)
        self.takes.append((client, wait))
        return wait


@pytest.fixture
def served_with_recording_pace(
    settings: IngestSettings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[tuple[str, int], list[_RecordingPace]]]:
    """The served app's address, and the pace it made (one per event loop), recording."""
    for name, value in ENVIRON.items():
        monkeypatch.setenv(name, value)
    made: list[_RecordingPace] = []

    def make() -> _RecordingPace:
        made.append(_RecordingPace())
        return made[-1]

    monkeypatch.setattr(CoalescingHttpToolsProtocol, "make_large_body_pace", staticmethod(make))
    # Clients count as beside each other however slowly the test machine sends.
    monkeypatch.setattr(large_body_pace, "ALONE_AFTER_SECONDS", 60.0)
    tuned = settings.model_copy(update={"max_body_bytes": MIB})
    with serve_in_background(tuned) as url:
        host, port = url.removeprefix("http://").split(":")
        yield (host, int(port)), made


def test_two_refused_bodies_dropped_at_once_are_paced_and_both_connections_go_on(
    served_with_recording_pace: tuple[tuple[str, int], list[_RecordingPace]],
    acme_key: IssuedApiKey,
):
    address, made = served_with_recording_pace
    junk = b"[" + b"1," * (MIB // 2 - 2) + b"1]"
    head = raw_events_head(acme_key.plaintext, len(junk))
    with (
        socket.create_connection(address, timeout=10) as first,
        socket.create_connection(address, timeout=10) as second,
    ):
        for connection in (first, second):
            connection.sendall(head + junk[: 64 * KIB])
            assert read_answer(connection).startswith(b"HTTP/1.1 413 ")
            sent = len(made[0].takes)
            connection.sendall(junk[64 * KIB : 128 * KIB])  # dropped: the body was answered
            _wait_until(lambda sent=sent: len(made[0].takes) > sent)
        for number, connection in enumerate((first, second)):
            connection.sendall(junk[128 * KIB :] + _follow_up(acme_key, number))
        answers = [read_answer(connection) for connection in (first, second)]
        clients = [connection.getsockname() for connection in (first, second)]

    [pace] = made
    waits = {client: [w for c, w in pace.takes if c == client] for client in clients}
    assert waits[clients[0]][0] < NOT_SLOWED  # the first client, alone at first
    assert max(waits[clients[1]]) > 0  # the second, beside it: paced
    assert set(waits) == {c for c, _ in pace.takes}  # nothing but these two paid
    assert all(a.startswith(b"HTTP/1.1 202 ") and b'"stored":1' in a for a in answers)


def test_two_clients_sending_large_batches_are_read_at_the_pace_and_both_stored(
    served_with_recording_pace: tuple[tuple[str, int], list[_RecordingPace]],
    acme_key: IssuedApiKey,
):
    address, made = served_with_recording_pace
    batches = [
        json.dumps([ownlay_event(1000 * client + n) for n in range(400)]).encode()
        for client in range(2)
    ]
    assert all(len(batch) > 128 * KIB for batch in batches)  # large: read in the app's turns
    with (
        socket.create_connection(address, timeout=10) as first,
        socket.create_connection(address, timeout=10) as second,
    ):
        for connection, batch in zip((first, second), batches, strict=True):
            connection.sendall(raw_events_head(acme_key.plaintext, len(batch)) + batch)
        answers = [read_answer(connection) for connection in (first, second)]

    [pace] = made
    assert all(a.startswith(b"HTTP/1.1 202 ") and b'"stored":400' in a for a in answers)
    assert sum(1 for _, wait in pace.takes if wait > 0) > 0  # the app waited for the pace
    assert len({client for client, _ in pace.takes}) == 2


def test_a_client_refused_again_and_again_alone_pays_only_the_lone_rate(
    served_with_recording_pace: tuple[tuple[str, int], list[_RecordingPace]],
    acme_key: IssuedApiKey,
):
    address, made = served_with_recording_pace
    junk = b"[" + b"{}," * (MIB // 3 - 2) + b"{}]"
    with socket.create_connection(address, timeout=10) as connection:
        for number in range(3):  # refused one after another on one connection
            connection.sendall(raw_events_head(acme_key.plaintext, len(junk)) + junk[: 64 * KIB])
            refused = read_answer(connection)
            connection.sendall(junk[64 * KIB :] + _follow_up(acme_key, number))
            accepted = read_answer(connection)
            assert refused.startswith(b"HTTP/1.1 413 ") and accepted.startswith(b"HTTP/1.1 202 ")

    [pace] = made
    assert pace.takes and all(wait < NOT_SLOWED for _, wait in pace.takes)


def _follow_up(key: IssuedApiKey, number: int) -> bytes:
    event = json.dumps(ownlay_event(number)).encode()
    return raw_events_head(key.plaintext, len(event)) + event


def _wait_until(condition, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the server did not read the bytes sent"
        time.sleep(0.005)


def test_large_webhook_bodies_from_two_clients_are_read_at_the_pace(
    served_with_recording_pace: tuple[tuple[str, int], list[_RecordingPace]],
):
    address, made = served_with_recording_pace
    body = b'{"id":1,"note":"' + b"a" * (200 * KIB) + b'"}'
    head = (
        "POST /api/v1/webhooks/shopify/acme HTTP/1.1\r\nHost: test\r\n"
        "Content-Type: application/json\r\nX-Shopify-Hmac-Sha256: AAAA\r\n"
        f"X-Shopify-Webhook-Id: w1\r\nX-Shopify-Topic: orders/create\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    with (
        socket.create_connection(address, timeout=10) as first,
        socket.create_connection(address, timeout=10) as second,
    ):
        for connection in (first, second):
            connection.sendall(head + body)
        answers = [read_answer(connection) for connection in (first, second)]

    [pace] = made
    assert all(a.startswith(b"HTTP/1.1 401 ") for a in answers)  # unsigned: refused, once read
    assert len({client for client, _ in pace.takes}) == 2
    assert any(wait > 0 for _, wait in pace.takes)
