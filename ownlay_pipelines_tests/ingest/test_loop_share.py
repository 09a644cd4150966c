"""The event loop's share of the GIL beside the thread that parses large bodies."""

from __future__ import annotations

from ownlay_pipelines.ingest.loop_share import LoopShare


class _Time:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


def test_a_parse_followed_by_validation_pays_the_loop_at_once():
    time = _Time()
    share = LoopShare(clock=time.clock, sleep=time.sleep)

    share.settle_debt()
    share.pay_now(0.02)
    share.settle_debt()

    assert time.slept == [0.02]


def test_a_refused_parse_is_answered_at_once_and_the_next_parse_waits_out_the_rest():
    time = _Time()
    share = LoopShare(clock=time.clock, sleep=time.sleep)

    share.pay_later(0.03)  # the 413 goes out now, nothing slept
    answered_without_sleeping = list(time.slept)
    time.now += 0.01  # the next large body arrives 10 ms later
    share.settle_debt()
    time.now += 0.05
    share.settle_debt()  # long paid: no more sleeping

    assert answered_without_sleeping == []
    assert time.slept == [0.02]
