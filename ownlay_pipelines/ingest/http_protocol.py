"""uvicorn's httptools protocol, sending each response with one socket write instead of two.

uvicorn writes a response's head (status line and headers) and its body with two `transport.write`
calls, and uvloop sends each at once: two `write` system calls per request, and on loopback two
deliveries to the client. For the ingestion service's small answers that was ~20 % of the event
loop's time under load (py-spy, bench/README.md, Ingestion). `CoalescingHttpToolsProtocol` hands
each request cycle a transport that joins whatever is written in one turn of the event loop and
sends it at the end of that turn, so head and body leave in one write. Everything else — reading,
flow control, keep-alive, closing — is uvicorn's own; the protocol class is uvicorn's documented
`http=` setting.

It also answers a request that is not valid HTTP/1.1 (a negative or doubled Content-Length, a bad
chunk size, a header with a NUL) in the service's `{"error", "message"}` JSON, not uvicorn's
plain text, and only after the requests that came before it on the connection were answered:
uvicorn refused at once and closed, so a valid event pipelined just before the malformed request
got no answer at all.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MALFORMED_HTTP_ANSWER = (
    b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
    b"connection: close\r\n\r\n%s"
)
MALFORMED_HTTP_BODY = (
    b'{"error":"malformed_http","message":"the request is not valid HTTP/1.1 (its request line, '
    b'a header, Content-Length, Transfer-Encoding or a chunk size); the connection is closed"}'
)


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """`HttpToolsProtocol` whose request cycles write through a `CoalescingTransport`, and
    whose refusal of malformed HTTP is JSON, sent after the earlier requests' answers."""

    _malformed = False
    """Set once the parser failed: the connection only finishes the answers it owes, then closes."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.transport = CoalescingTransport(transport, self.loop)  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if not self._malformed:  # past a parse error the bytes mean nothing
            super().data_received(data)

    def send_400_response(self, msg: str) -> None:
        """Refuse malformed HTTP; when it follows complete requests still being answered (or
        queued), after their answers (`on_response_complete`)."""
        self._malformed = True
        cycle = self.cycle
        owed = cycle is not None and not cycle.more_body and not cycle.response_complete
        if owed:
            self.flow.pause_reading()
        else:  # nothing owed, or the bad bytes are inside the body a request is still reading
            self._refuse_malformed()

    def on_response_complete(self) -> None:
        last_owed = not self.pipeline
        super().on_response_complete()
        if self._malformed and last_owed:
            self._refuse_malformed()

    def _refuse_malformed(self) -> None:
        if not self.transport.is_closing():
            body = MALFORMED_HTTP_BODY
            self.transport.write(MALFORMED_HTTP_ANSWER % (len(body), body))
            self.transport.close()


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
