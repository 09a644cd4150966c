"""The pace at which a worker takes in the bytes of large bodies.

A body over 64 KiB is either read by the app (an event batch, in turns: `app._read_large_body`; a
webhook delivery, `request_body.read_capped_body`) or refused before it has arrived (an overlong
batch from its first kilobytes, `batch_head`; a declared length over the cap at once) and then read
and dropped by uvicorn: HTTP/1.1 has the client send the rest, and the server reads it to find the
next request on the connection, or so that closing does not reset the answer away. Taken in at full
speed, ten clients sending 1 MiB junk bodies in a loop pushed about 1 GB/s through a worker: its
event loop and the kernel spent both cores on them, and a valid event sent meanwhile waited 5–7× its
idle p99 (bench/README.md, session 8).

So each worker pays for such bytes from a token bucket: while more than one client sends them,
`BURST_BYTES` at full speed, then `BYTES_PER_SECOND` shared by all; a client past the bucket
waits (the app sleeps before it reads on; the protocol stops reading the connection), its sender
held by TCP flow control. A client is alone while no other has sent such bytes for
`ALONE_AFTER_SECONDS`; alone, it pays from a bucket of its own, `ALONE_BYTES_PER_SECOND` after
the same burst, so one client whose large batches or refused bodies come one after another gets
each answer within milliseconds, and a lone client looping junk (or a worker that got one
connection of a flood) still cannot take a core. Small requests (every single event, batches up
to 64 KiB) are never paced.
"""

from __future__ import annotations

import asyncio
import math
import time
import weakref
from collections.abc import Callable, Hashable

BYTES_PER_SECOND = 32 * 1024 * 1024
"""Large-body bytes taken in per second and worker once the burst is spent while several clients
send them: 32 bodies of 1 MiB a second whatever their number (the per-workspace limit of 1,000
events a second is reached with far fewer), so such a flood costs a few percent of a core."""
ALONE_BYTES_PER_SECOND = 128 * 1024 * 1024
"""The same for a client alone: a 1 MiB body in 8 ms. Unpaced, one connection looping 1 MiB
junk pushed ~1 GB/s, and with two workers a flood of ten left one worker a lone connection."""
BURST_BYTES = 4 * 1024 * 1024
"""Large-body bytes taken in at full speed before pacing starts (each bucket)."""
ALONE_AFTER_SECONDS = 0.1
"""How long no other client may have sent large-body bytes for one to count as alone. Counting
the clients sending at one instant was not enough: the app reads large bodies a few at a time,
so the ten clients of a flood often took turns, each alone."""


class _TokenBucket:
    """Bytes paid for at `rate` a second with up to `burst` in hand; a debt is paid off by later
    refills, so however many payers share it, together they get at most the rate."""

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self._rate = rate
        self._burst = burst
        self._tokens = burst
        self._updated = now

    def pay(self, size: int, now: float) -> float:
        """Spend `size`; the seconds to wait until it is paid for (0.0 while the bucket holds
        it)."""
        self._tokens = min(self._burst, self._tokens + (now - self._updated) * self._rate)
        self._updated = now
        self._tokens -= size
        return 0.0 if self._tokens >= 0 else -self._tokens / self._rate


class LargeBodyPace:
    """The buckets of large-body bytes for one worker's event loop — shared, and for a client
    alone — and which client sent such bytes last (not thread-safe: every call comes from that
    loop)."""

    def __init__(
        self,
        bytes_per_second: float = BYTES_PER_SECOND,
        burst_bytes: float = BURST_BYTES,
        *,
        alone_bytes_per_second: float = ALONE_BYTES_PER_SECOND,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        now = clock()
        self._shared = _TokenBucket(bytes_per_second, burst_bytes, now)
        self._alone = _TokenBucket(alone_bytes_per_second, burst_bytes, now)
        self._last_client: Hashable = None
        self._last_at = -math.inf
        self._other_at = -math.inf
        """When a client other than `_last_client` last sent large-body bytes."""

    def take(self, size: int, client: Hashable) -> float:
        """Spend `size` large-body bytes that `client` (its connection's address) sent; the
        seconds it should wait before more of its bytes are read: from the shared bucket, or
        from the lone client's while no other client has sent such bytes lately."""
        now = self._clock()
        if client != self._last_client:
            self._other_at = self._last_at
            self._last_client = client
        self._last_at = now
        alone = now - self._other_at > ALONE_AFTER_SECONDS
        return (self._alone if alone else self._shared).pay(size, now)


_PACES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LargeBodyPace] = (
    weakref.WeakKeyDictionary()
)


def pace_of(
    loop: asyncio.AbstractEventLoop, make: Callable[[], LargeBodyPace] = LargeBodyPace
) -> LargeBodyPace:
    """The one `LargeBodyPace` of the worker whose event loop is `loop` (made by `make` at first,
    by whichever of the protocol and the app asks first)."""
    pace = _PACES.get(loop)
    if pace is None:
        pace = _PACES[loop] = make()
    return pace
