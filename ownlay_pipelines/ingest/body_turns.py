"""Turns to read large bodies, given back while the sender is quiet.

At most `LARGE_BODY_READS` bodies over 64 KiB are read at once per worker (`app._read_large_body`);
the others wait with their bytes unread in the socket. A turn held for a whole body let a sender
that sent 64 KiB and stalled keep it until the idle timeout (2 s), so N such senders delayed a
legitimate large batch by about N s. `TurnTakingReceive` gives the turn back when the sender has
been quiet for `GRACE_SECONDS` and takes one again when its next bytes have come (meanwhile
uvicorn buffers at most 64 KiB of them, as it does for a body before its first turn). While
several clients send large bodies, the bytes read are also paid for from the worker's
`LargeBodyPace` (`large_body_pace`), which may make the reader wait before it reads on.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import anyio

from ownlay_pipelines.ingest.asgi import Receive
from ownlay_pipelines.ingest.large_body_pace import LargeBodyPace

GRACE_SECONDS = 0.1
"""How long a turn waits for a sender's next bytes before it is given back. A sender streaming
its body keeps its turn; one that pauses longer waits again behind the others for its next one."""


class NoTurnInTime(Exception):
    """No turn came within the wait allowed."""


class TurnTakingReceive:
    """An ASGI `receive` for one large body that takes a turn of `turns` before its first read
    and holds it until the sender has been quiet for `GRACE_SECONDS`, then again from the arrival
    of its next bytes. It raises TimeoutError when no
    message comes for `idle_seconds`, NoTurnInTime when no turn comes within `wait_seconds`, and
    `read_scope` (to be entered around the reading) ends `read_seconds` after the first turn.
    With a `pace`, each body message is paid for as bytes of `client` (its address), waiting
    as long as the pace says before it is handed on."""

    def __init__(
        self,
        receive: Receive,
        turns: anyio.CapacityLimiter,
        *,
        idle_seconds: float,
        wait_seconds: float,
        read_seconds: float,
        pace: LargeBodyPace | None = None,
        client: Hashable = None,
    ) -> None:
        self._receive = receive
        self._pace = pace
        self._client = client
        self._turns = turns
        self._idle_seconds = idle_seconds
        self._wait_seconds = wait_seconds
        self._read_seconds = read_seconds
        self._holding = False
        self._turns_taken = 0
        self.read_scope = anyio.CancelScope()

    async def __call__(self) -> dict[str, Any]:
        message = await self._next_message()
        if self._pace is not None and (body := message.get("body")):
            wait = self._pace.take(len(body), self._client)
            if wait > 0:  # meanwhile uvicorn stops reading past 64 KiB: TCP holds the sender
                await anyio.sleep(wait)
        return message

    async def _next_message(self) -> dict[str, Any]:
        if not self._turns_taken:  # until then its bytes wait unread in the socket
            await self._take_turn()
        with anyio.fail_after(self._idle_seconds):
            if self._holding:
                with anyio.move_on_after(GRACE_SECONDS):
                    return await self._receive()
                self.release()
            message = await self._receive()
        await self._take_turn()
        return message

    async def _take_turn(self) -> None:
        with anyio.move_on_after(self._wait_seconds) as waiting:
            await self._turns.acquire()
        if waiting.cancelled_caught:
            raise NoTurnInTime
        self._holding = True
        self._turns_taken += 1
        if self._turns_taken == 1:
            self.read_scope.deadline = anyio.current_time() + self._read_seconds

    def release(self) -> None:
        """Give the turn back, if held (idempotent: call it when the body is done)."""
        if self._holding:
            self._holding = False
            self._turns.release()
