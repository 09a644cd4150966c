"""The rest of an answered body is dropped at a bounded pace when several connections drop at
once, never when one does alone, and every connection stays usable after it."""

from __future__ import annotations

import json
import socket
import time

import pytest

from ownlay_pipelines.http.clock import FakeClock
from ownlay_pipelines.ingest import drain_pace
from ownlay_pipelines.ingest.config import IngestSettings
from ownlay_pipelines.ingest.drain_pace import ALONE_AFTER_SECONDS, DrainPace
from ownlay_pipelines.ingest.http_protocol import CoalescingHttpToolsProtocol
from ownlay_pipelines.ingest.keys import IssuedApiKey
from ownlay_pipelines.ingest.server import serve_in_background
from ownlay_pipelines_tests.ingest.payloads import (
    ENVIRON,
    ownlay_event,
    raw_events_head,
    read_answer,
)

MIB = 1024 * 1024
KIB = 1024


def test_a_lone_connection_drops_at_full_speed_and_spends_nothing():
    clock = FakeClock()
    pace = DrainPace(bytes_per_second=MIB, burst_bytes=MIB, clock=clock.monotonic)
    lone, other = object(), object()

    waits = [pace.take(4 * MIB, lone) for _ in range(5)]  # 20 MiB at once, far past the bucket
    other_joins = [pace.take(MIB // 2, other) for _ in range(3)]

    assert waits == [0.0] * 5
    assert other_joins == pytest.approx([0.0, 0.0, 0.5])  # the whole burst, then the rate


def test_connections_dropping_in_turn_share_the_rate_after_the_burst():
    clock = FakeClock()
    pace = DrainPace(bytes_per_second=MIB, burst_bytes=MIB, clock=clock.monotonic)
    first, second = object(), object()
    pace.take(0, first)  # `first` has dropped bytes just now, so `second` is not alone

    within_burst = [pace.take(256 * KIB, c) for c in (second, second, first, second)]
    past_it = [pace.take(256 * KIB, c) for c in (first, second, first)]
    clock.advance(1.0)  # one second of refill pays 1 MiB: the 0.75 MiB debt and 0.25 MiB more
    after_refill = pace.take(256 * KIB, second)
    clock.advance(3600)  # a long quiet spell: `first` is alone again, and the bucket full
    alone_again = pace.take(8 * MIB, first)
    second_back = [pace.take(512 * KIB, second) for _ in range(3)]

    assert within_burst == [0.0] * 4
    assert past_it == pytest.approx([0.25, 0.5, 0.75])
    assert after_refill == 0.0
    assert alone_again == 0.0
    assert second_back == pytest.approx([0.0, 0.0, 0.5])


def test_a_connection_is_alone_again_once_the_others_have_been_quiet_a_while():
    clock = FakeClock()
    pace = DrainPace(bytes_per_second=MIB, burst_bytes=0, clock=clock.monotonic)
    first, second = object(), object()
    pace.take(KIB, first)

    beside_first = pace.take(KIB, second)
    clock.advance(ALONE_AFTER_SECONDS / 2)
    still_beside = pace.take(KIB, second)
    clock.advance(ALONE_AFTER_SECONDS)
    alone = pace.take(KIB, second)

    assert beside_first > 0 and still_beside > 0
    assert alone == 0.0


class _RecordingPace(DrainPace):
    """A pace of 64 MiB/s with no burst that records (connection, wait) per read."""

    def __init__(self) -> None:
        super().__init__(bytes_per_second=64 * MIB, burst_bytes=0)
        self.takes: list[tuple[int, float]] = []

    def take(self, size: int, connection: object) -> float:
        wait = super().take(size, connection)
        self.takes.append((id(connection), wait))
        return wait


@pytest.fixture
def served_with_recording_pace(
    settings: IngestSettings, monkeypatch: pytest.MonkeyPatch
) -> tuple[tuple[str, int], list[_RecordingPace]]:
    for name, value in ENVIRON.items():
        monkeypatch.setenv(name, value)
    made: list[_RecordingPace] = []

    def make() -> _RecordingPace:
        made.append(_RecordingPace())
        return made[-1]

    monkeypatch.setattr(CoalescingHttpToolsProtocol, "make_drain_pace", staticmethod(make))
    # Connections count as beside each other however slowly the test machine sends.
    monkeypatch.setattr(drain_pace, "ALONE_AFTER_SECONDS", 60.0)
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
        for number, connection in enumerate((first, second)):
            connection.sendall(head + junk[: 64 * KIB])
            assert read_answer(connection).startswith(b"HTTP/1.1 413 ")
            connection.sendall(junk[64 * KIB : 128 * KIB])  # dropped: the body was answered
            _wait_until(lambda n=number: made and len(made[0].takes) > n)
        answers = []
        for number, connection in enumerate((first, second)):
            connection.sendall(junk[128 * KIB :] + _follow_up(acme_key, number))
        for connection in (first, second):
            answers.append(read_answer(connection))

    [pace] = made
    (first_id, first_wait), (second_id, second_wait) = pace.takes[:2]
    assert first_id != second_id
    assert first_wait == 0.0  # the first alone: not paced
    assert second_wait > 0  # the second right after it: paced
    assert all(a.startswith(b"HTTP/1.1 202 ") and b'"stored":1' in a for a in answers)


def test_a_lone_refused_body_is_never_paced(
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
    assert pace.takes and all(wait == 0.0 for _, wait in pace.takes)


def _follow_up(key: IssuedApiKey, number: int) -> bytes:
    event = json.dumps(ownlay_event(number)).encode()
    return raw_events_head(key.plaintext, len(event)) + event


def _wait_until(condition, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the server did not read the bytes sent"
        time.sleep(0.005)
