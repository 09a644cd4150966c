"""The GIL changes hands quickly only while large bodies arrive, and the usual interval returns."""

import asyncio

import pytest

from ownlay_pipelines.ingest import gil_handoff
from ownlay_pipelines.ingest.gil_handoff import QUICK_INTERVAL_SECONDS, QuickHandoffWhileLarge


class Interval:
    """Stands in for `sys.getswitchinterval`/`setswitchinterval`, recording every change."""

    def __init__(self) -> None:
        self.value = 0.005
        self.changes: list[float] = []

    def get(self) -> float:
        return self.value

    def set(self, value: float) -> None:
        self.value = value
        self.changes.append(value)


@pytest.fixture
def interval(monkeypatch: pytest.MonkeyPatch) -> Interval:
    monkeypatch.setattr(gil_handoff, "LINGER_SECONDS", 0.05)
    return Interval()


def test_large_bodies_shorten_the_interval_until_they_stop_for_the_linger(interval: Interval):
    handoff = QuickHandoffWhileLarge(get_interval=interval.get, set_interval=interval.set)

    async def flood_then_quiet() -> tuple[float, float, float]:
        handoff.large_body_seen()
        during = interval.value
        for _ in range(4):  # bodies keep coming for twice the linger: still quick
            await asyncio.sleep(0.025)
            handoff.large_body_seen()
        still = interval.value
        await asyncio.sleep(0.15)
        return during, still, interval.value

    during, still, after = asyncio.run(flood_then_quiet())

    assert (during, still, after) == (QUICK_INTERVAL_SECONDS, QUICK_INTERVAL_SECONDS, 0.005)
    assert interval.changes == [QUICK_INTERVAL_SECONDS, 0.005]  # set once, restored once


def test_restore_puts_the_interval_back_at_once_and_is_harmless_when_idle(interval: Interval):
    handoff = QuickHandoffWhileLarge(get_interval=interval.get, set_interval=interval.set)

    async def stop_mid_flood() -> None:
        handoff.large_body_seen()
        handoff.restore()
        handoff.restore()
        await asyncio.sleep(0.1)  # the cancelled check never runs

    asyncio.run(stop_mid_flood())

    assert interval.changes == [QUICK_INTERVAL_SECONDS, 0.005]
