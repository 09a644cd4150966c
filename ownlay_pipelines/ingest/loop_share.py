"""The event loop's share of the GIL while a thread parses a large body.

pydantic-core holds the GIL for a whole parse (~20 ms per MiB of small items), so the event loop,
and every small request on it, waited that long. The loop then gets as long again before the
parsing thread takes the GIL back: at once when that thread goes on to validate the events, or —
when the parse ended in a refusal — before the next large body's parse starts, so the refusal
itself is answered without waiting (one thread parses at a time: `IngestService.off_loop`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class LoopShare:
    """Time the event loop is owed by the parsing thread, paid by sleeping (releasing the GIL)."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.perf_counter,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._owed_until = 0.0
        self._lock = threading.Lock()

    def settle_debt(self) -> None:
        """Before a parse: sleep out what an earlier refused parse still owes the loop."""
        with self._lock:
            owed = self._owed_until - self._clock()
        if owed > 0:
            self._sleep(owed)

    def pay_now(self, held_seconds: float) -> None:
        """After a parse that more work follows: give the loop as long as the parse held it."""
        self._sleep(held_seconds)

    def pay_later(self, held_seconds: float) -> None:
        """After a parse that ended in a refusal: the next parse pays instead of this answer."""
        with self._lock:
            self._owed_until = self._clock() + held_seconds
