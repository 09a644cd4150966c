"""The pace at which the rest of an already answered body is read and dropped.

The service answers some large bodies before they have arrived: an overlong batch is refused
413 from its first kilobytes (`batch_head`), a declared length over the cap at once. HTTP/1.1
still has the client send the rest, and the server reads it (to find the next request on the
connection, or so that closing does not reset the answer away). Read at full speed, ten clients
sending 1 MiB junk bodies in a loop pushed about 1 GB/s through a worker: its event loop and the
kernel spent both cores on dropping bytes, and a valid event sent meanwhile waited 5–7× its idle
p99 (bench/README.md, session 8).

So each worker pays for such leftover bytes from a token bucket while more than one connection
drops them: `BURST_BYTES` at full speed, then `BYTES_PER_SECOND` shared by all of them; a
connection past the bucket stops reading until its bytes are paid for, its sender held by TCP
flow control. A connection is alone, and never slowed, while no other has dropped bytes for
`ALONE_AFTER_SECONDS` (one client whose bodies are refused one after another on its connection
gets each answer at once). Requests not yet answered are never paced here (their bodies are paced
by the app's turns, `body_turns`).
"""

from __future__ import annotations

import asyncio
import math
import time
import weakref
from collections.abc import Callable

BYTES_PER_SECOND = 32 * 1024 * 1024
"""Leftover bytes dropped per second and worker once the burst is spent: 32 refused 1 MiB bodies a
second, whatever their number, so such a flood costs a few percent of a core."""
BURST_BYTES = 4 * 1024 * 1024
"""Leftover bytes a worker drops at full speed before pacing starts."""
ALONE_AFTER_SECONDS = 0.1
"""How long no other connection may have dropped bytes for one to count as alone. Counting the
connections dropping at one instant was not enough: the app reads large bodies a few at a time,
so the ten connections of a flood often took turns dropping one by one."""


class DrainPace:
    """A token bucket of leftover bytes for one worker's event loop, and which connection dropped
    bytes last (not thread-safe: every call comes from that loop)."""

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
        self._last_dropper = 0
        """The `id` of the connection that dropped bytes last (no reference kept to it)."""
        self._last_dropped_at = -math.inf
        self._other_dropped_at = -math.inf
        """When a connection other than `_last_dropper` last dropped bytes."""

    def take(self, size: int, connection: object) -> float:
        """Spend `size` bytes that `connection` dropped; the seconds it should wait before it
        reads again: 0.0 while the bucket holds them, or while it is alone (then they cost
        nothing: a connection that comes next still has the burst). A debt is paid off by later
        refills, so however many connections drop bytes together, they drop at most the rate."""
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._updated) * self._rate)
        self._updated = now
        if id(connection) != self._last_dropper:
            self._other_dropped_at = self._last_dropped_at
            self._last_dropper = id(connection)
        self._last_dropped_at = now
        if now - self._other_dropped_at > ALONE_AFTER_SECONDS:
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
