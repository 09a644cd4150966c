"""The pace at which the rest of an already answered body is read and dropped.

The service answers some large bodies before they have arrived: an overlong batch is refused
413 from its first kilobytes (`batch_head`), a declared length over the cap at once. HTTP/1.1
still has the client send the rest, and the server reads it (to find the next request on the
connection, or so that closing does not reset the answer away). Read at full speed, ten clients
sending 1 MiB junk bodies in a loop pushed about 1 GB/s through a worker: its event loop and the
kernel spent both cores on dropping bytes, and a valid event sent meanwhile waited 5–7× its idle
p99 (bench/README.md, session 8).

So each worker pays for such leftover bytes from a token bucket while more than one connection
drops them at once: `BURST_BYTES` at full speed, then `BYTES_PER_SECOND` shared by all of them;
a connection past the bucket stops reading until its bytes are paid for, its sender held by TCP
flow control. A connection dropping bytes alone is never slowed (one client whose bodies are
refused one after another gets each answer at once). Requests not yet answered are never paced
here (their bodies are paced by the app's turns, `body_turns`).
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Callable

BYTES_PER_SECOND = 32 * 1024 * 1024
"""Leftover bytes dropped per second and worker once the burst is spent: 32 refused 1 MiB bodies a
second, whatever their number, so such a flood costs a few percent of a core."""
BURST_BYTES = 4 * 1024 * 1024
"""Leftover bytes a worker drops at full speed before pacing starts."""


class DrainPace:
    """A token bucket of leftover bytes for one worker's event loop, and the number of its
    connections dropping bytes now (not thread-safe: every call comes from that loop)."""

    def __init__(
        self,
        bytes_per_second: float = BYTES_PER_SECOND,
        burst_bytes: float = BURST_BYTES,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rate = bytes_per_second
        self._burst = burst_bytes
        self._clock = clock
        self._tokens = burst_bytes
        self._updated = clock()
        self.dropping = 0
        """Connections between their first dropped read and the end of that body."""

    def take(self, size: int) -> float:
        """Spend `size` dropped bytes; the seconds the connection should wait before it reads
        again: 0.0 while the bucket holds them or while it is the only connection dropping
        bytes. A debt is paid off by later refills, so however many connections drop bytes,
        together they drop at most the rate; alone, a connection spends the bucket down to
        empty, never into debt."""
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._updated) * self._rate)
        self._updated = now
        if self.dropping <= 1:
            self._tokens = max(self._tokens - size, 0.0)
            return 0.0
        self._tokens -= size
        return 0.0 if self._tokens >= 0 else -self._tokens / self._rate


_PACES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, DrainPace] = (
    weakref.WeakKeyDictionary()
)


def pace_of(
    loop: asyncio.AbstractEventLoop, make: Callable[[], DrainPace] = DrainPace
) -> DrainPace:
    """The one `DrainPace` of the worker whose event loop is `loop` (made by `make` at first)."""
    pace = _PACES.get(loop)
    if pace is None:
        pace = _PACES[loop] = make()
    return pace
