"""uvicorn's httptools protocol, sending each response with one socket write instead of two.

uvicorn writes a response's head (status line and headers) and its body with two `transport.write`
calls, and uvloop sends each at once: two `write` system calls per request, and on loopback two
deliveries to the client. For the ingestion service's small answers that was ~20 % of the event
loop's time under load (py-spy, bench/README.md, Ingestion). `CoalescingHttpToolsProtocol` hands
each request cycle a transport that joins whatever is written in one turn of the event loop and
sends it at the end of that turn, so head and body leave in one write. Everything else — reading,
flow control, keep-alive, closing — is uvicorn's own; the protocol class is uvicorn's documented
`http=` setting.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """`HttpToolsProtocol` whose request cycles write through a `CoalescingTransport`."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.transport = CoalescingTransport(transport, self.loop)  # type: ignore[assignment]


class CoalescingTransport:
    """A transport that sends the writes of one event-loop turn as one write, in order.

    The first write of a turn schedules the send for the end of the turn (`call_soon`), so
    nothing waits longer than that turn; `close` sends what is pending first. Every other
    attribute is the socket transport's.
    """

    __slots__ = ("_loop", "_pending", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not data:
            return
        if not self._pending:
            self._loop.call_soon(self._send_pending)
        self._pending.append(data)

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(map(len, self._pending))

    def close(self) -> None:
        self._send_pending()
        self._transport.close()

    def abort(self) -> None:
        self._pending.clear()
        self._transport.abort()

    def _send_pending(self) -> None:
        if not self._pending:
            return
        data = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
        self._pending.clear()
        if not self._transport.is_closing():
            self._transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)
