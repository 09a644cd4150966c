"""The junk bench's floor: the least an ASGI app can do with a flood of 1 MiB bodies.

A raw ASGI app under the same uvicorn (httptools) as the service: a body declared over 64 KiB is
answered 413 at once, unread (uvicorn then drops it as it arrives, as for the service's refusals
from a batch's head); a smaller one is read, parsed and kept in a list, and answered 202. No key,
no validation, no durability. What a valid event's latency is on this app while ten senders
flood it is what the machine itself allows (the senders, the kernel's copying and the server share
the two cores), run beside the real service in the same bench run. Serve with
`uvicorn --factory --app-dir bench/ingest floor_app:create_app`.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

LARGE = 64 * 1024
_JSON = [(b"content-type", b"application/json")]


def create_app() -> Callable[..., Awaitable[None]]:
    """The floor app."""
    events: list[Any] = []

    async def app(scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return
        if scope["method"] != "POST":
            await _answer(send, 200, b"{}")  # the bench's readiness probe
            return
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if int(declared) > LARGE:
            await _answer(send, 413, b'{"error":"batch_too_large"}')
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        events.append(json.loads(body))
        await _answer(send, 202, b'{"accepted":1}')

    return app


async def _answer(send: Callable, status: int, body: bytes) -> None:
    headers = [*_JSON, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
