"""A quick GIL handoff while large bodies arrive, so commits do not queue behind them.

An event is acknowledged once the group-commit writer thread has stored it, and that thread
takes the GIL back after each SQLite call and fsync of a commit, about eight times. While the
event loop is busy — receiving and dropping a flood of 1 MiB bodies, say — each take may wait for
Python's switch interval (5 ms). A shorter interval lets the writer in sooner
(`bench/ingest/run_gil_handoff_probe.py`, a four-statement commit beside one busy Python thread:
p50 21–26 ms at 5 ms, 2.0–2.3 ms at 0.5 ms), but under an ordinary load of small requests it
looked costly (more handoffs per event), so it is used only while large bodies come in: from
the first until `LINGER_SECONDS` after the last (bench/README.md, session 7).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable

QUICK_INTERVAL_SECONDS = 0.0005
LINGER_SECONDS = 1.0


class QuickHandoffWhileLarge:
    """Sets the switch interval to `QUICK_INTERVAL_SECONDS` while large bodies arrive (one event
    loop; every call comes from it) and puts the previous one back when they stop."""

    def __init__(
        self,
        *,
        get_interval: Callable[[], float] = sys.getswitchinterval,
        set_interval: Callable[[float], None] = sys.setswitchinterval,
    ) -> None:
        self._get_interval = get_interval
        self._set_interval = set_interval
        self._normal: float | None = None
        self._last_seen = 0.0
        self._check: asyncio.TimerHandle | None = None

    def large_body_seen(self) -> None:
        """A large body is arriving: hand over quickly until `LINGER_SECONDS` after the last."""
        loop = asyncio.get_running_loop()
        self._last_seen = loop.time()
        if self._normal is None:
            self._normal = self._get_interval()
            self._set_interval(QUICK_INTERVAL_SECONDS)
            self._check = loop.call_later(LINGER_SECONDS, self._restore_when_quiet)

    def _restore_when_quiet(self) -> None:
        loop = asyncio.get_running_loop()
        remaining = self._last_seen + LINGER_SECONDS - loop.time()
        if remaining > 0:
            self._check = loop.call_later(remaining, self._restore_when_quiet)
        else:
            self.restore()

    def restore(self) -> None:
        """Put the usual switch interval back (also when the service stops)."""
        if self._check is not None:
            self._check.cancel()
            self._check = None
        if self._normal is not None:
            self._set_interval(self._normal)
            self._normal = None
