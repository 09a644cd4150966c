"""The rest of an answered body is dropped at a bounded pace when several connections drop at
once, never when one does alone, and every connection stays usable after it."""

from __future__ import annotations

import json
import socket
import time

import pytest

from ownlay_pipelines.http.clock import FakeClock
from ownlay_pipelines.ingest.config import IngestSettings
from ownlay_pipelines.ingest.drain_pace import DrainPace
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


def test_a_lone_connection_drops_at_full_speed_and_leaves_no_debt_behind():
    clock = FakeClock()
    pace = DrainPace(bytes_per_second=MIB, burst_bytes=MIB, clock=clock.monotonic)
    pace.dropping = 1

    waits = [pace.take(4 * MIB) for _ in range(5)]  # 20 MiB at once, far past the bucket
    pace.dropping = 2
    second_joins = pace.take(MIB // 2)

    assert waits == [0.0] * 5
    assert second_joins == pytest.approx(0.5)  # its own half MiB at 1 MiB/s, not a 19 MiB debt


def test_connections_dropping_together_share_the_rate_after_the_burst():
    clock = FakeClock()
    pace = DrainPace(bytes_per_second=MIB, burst_bytes=MIB, clock=clock.monotonic)
    pace.dropping = 3

    within_burst = [pace.take(256 * KIB) for _ in range(4)]
    past_it = [pace.take(256 * KIB) for _ in range(3)]
    clock.advance(1.0)  # one second of refill pays 1 MiB of the 0.75 MiB debt and 0.25 MiB more
    after_refill = pace.take(256 * KIB)
    clock.advance(3600)  # a long quiet spell refills the burst only
    burst_again = [pace.take(256 * KIB) for _ in range(5)]

    assert within_burst == [0.0] * 4
    assert past_it == pytest.approx([0.25, 0.5, 0.75])
    assert after_refill == 0.0
    assert burst_again == pytest.approx([0.0, 0.0, 0.0, 0.0, 0.25])


class _RecordingPace(DrainPace):
    """A pace of 64 MiB/s with no burst that records (connections dropping, wait) per read."""

    def __init__(self) -> None:
        super().__init__(bytes_per_second=64 * MIB, burst_bytes=0)
        self.takes: list[tuple[int, float]] = []

    def take(self, size: int) -> float:
        wait = super().take(size)
        self.takes.append((self.dropping, wait))
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
    assert pace.takes[0] == (1, 0.0)  # the first alone: not paced
    assert pace.takes[1][0] == 2 and pace.takes[1][1] > 0  # the second beside it: paced
    assert all(a.startswith(b"HTTP/1.1 202 ") and b'"stored":1' in a for a in answers)
    assert pace.dropping == 0  # both bodies ended: nobody is counted any more


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
