"""uvicorn's httptools protocol, sending each response with one socket write instead of two.

uvicorn writes a response's head (status line and headers) and its body with two `transport.write`
calls, and uvloop sends each at once: two `write` system calls per request, and on loopback two
deliveries to the client. For the ingestion service's small answers that was ~20 % of the event
loop's time under load (py-spy, bench/README.md, Ingestion). `CoalescingHttpToolsProtocol` hands
each request cycle a transport that joins whatever is written in one turn of the event loop and
sends it at the end of that turn (`coalescing_transport.py`), so head and body leave in one
write. Everything else — reading, flow control, keep-alive, closing — is uvicorn's own, but for
the pace at which the rest of a body answered before it arrived is read and dropped
(`large_body_pace`); the protocol class is uvicorn's documented `http=` setting.

It also refuses, in the service's `{"error", "message"}` JSON rather than uvicorn's plain text, a
request that is not valid HTTP/1.1 (400: a negative or doubled Content-Length, a bad chunk size,
a header with a NUL), a body in more than `MAX_BODY_PIECES` chunks (400) and a request head over
`MAX_HEAD_BYTES` (431; httptools has no limit, and joins a long header piece by piece, so a 200 MB
header held the event loop for 85 s). Each refusal is sent after the answers owed to the requests
before it on the connection (uvicorn refused at once and closed, so a valid event pipelined just
before got no answer), then the connection is closed.

uvicorn times out only a connection idle between requests (`timeout_keep_alive`, here also
applied before the first request); a head sent
byte by byte, or a small body that stalls, held its connection forever. So a request must arrive
within `REQUEST_SECONDS` of its first byte with no gap over `REQUEST_IDLE_SECONDS` (its head, and
its body, unless it is a large or chunked body of an event route: those are paced by the app's
turns, `app._read_large_body`), else 408 in the same JSON. Time when the server
itself stopped reading (flow control, a pipelined request waiting its turn) does not count.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ownlay_pipelines.ingest.coalescing_transport import CoalescingTransport
from ownlay_pipelines.ingest.event_paths import EVENT_PATHS
from ownlay_pipelines.ingest.large_body_pace import LargeBodyPace, pace_of
from ownlay_pipelines.ingest.request_body import OFF_LOOP_BODY_BYTES

MAX_HEAD_BYTES = 64 * 1024
"""The longest request line plus headers taken (nginx takes 4 x 8 KiB, uvicorn's h11 16 KiB).
Counted from the read after the one that ended the previous request on the connection (where
in that read the next head starts is the parser's secret), so a pipelined head can pass with up
to one read (256 KiB) more: enough to stop a header sent piece by piece."""
MAX_BODY_PIECES = 16 * 1024
"""The most pieces (chunks of a chunked body, or reads) a request body may arrive in: 1 MiB in
64-byte pieces. uvicorn hands each piece to Python on its own (~1 us), so a body of 1-byte chunks
(6 MB on the wire for 1 MiB) held the event loop about a second."""
LINGER_SECONDS = 2.0
LINGER_BYTES = 1024 * 1024
"""After a refusal the client's bytes are read and dropped for `LINGER_SECONDS`, up to this many
(a legitimate client stops at the end of its request; a flood is not read on without end)."""
REQUEST_SECONDS = 10.0
"""The longest a request may take to arrive, from its first byte (the same 10 s a large event
body's turn lasts): its head, and its body unless the app paces that (`_app_paces_body`)."""
REQUEST_IDLE_SECONDS = 2.0
"""The longest gap between two reads of such a request (as for a large body in its turn)."""
_HEAD_END = b"\r\n\r\n"
"""The blank line ending a head (llhttp refuses bare line feeds)."""


def _refusal(status: bytes, error: str, message: str) -> bytes:
    body = f'{{"error":"{error}","message":"{message}"}}'.encode()
    return (
        b"HTTP/1.1 %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
        b"connection: close\r\n\r\n%s" % (status, len(body), body)
    )


MALFORMED_HTTP_ANSWER = _refusal(
    b"400 Bad Request",
    "malformed_http",
    "the request is not valid HTTP/1.1 (its request line, a header, Content-Length, "
    "Transfer-Encoding or a chunk size); the connection is closed",
)
FRAGMENTED_BODY_ANSWER = _refusal(
    b"400 Bad Request",
    "fragmented_body",
    f"the request body came in more than {MAX_BODY_PIECES} chunks; send it in larger chunks "
    "(the connection is closed)",
)
HEAD_TOO_LARGE_ANSWER = _refusal(
    b"431 Request Header Fields Too Large",
    "head_too_large",
    f"the request line and headers exceed {MAX_HEAD_BYTES} bytes; the connection is closed",
)


def _timeout_answer(in_head: bool, idle: bool) -> bytes:
    """The 408 for a request that stalled (`idle`) or was too slow in its head or its body."""
    part = "the request line and headers" if in_head else "the request body"
    reason = (
        f"no byte of {part} came for {REQUEST_IDLE_SECONDS:g} s"
        if idle
        else f"{part} did not arrive within {REQUEST_SECONDS:g} s of the request's first byte"
    )
    error = "head_timeout" if in_head else "body_timeout"
    return _refusal(b"408 Request Timeout", error, f"{reason}; send it at once")


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """`HttpToolsProtocol` whose request cycles write through a `CoalescingTransport`, and
    which refuses malformed HTTP, oversized heads and slow requests in JSON, after the earlier
    answers."""

    _refusal: bytes | None = None
    """Set once the connection is refused: it only finishes the answers it owes, then closes."""
    _in_head = True
    """Whether the bytes arriving belong to a request head (the parser's callbacks keep it)."""
    _head_bytes = 0
    """Bytes of the head being received so far."""
    _tail = b""
    """The last bytes of that head, in case its blank line is split between two reads."""
    _body_pieces = 0
    """Pieces of the body being received so far."""
    _lingered_bytes = 0
    """Bytes dropped since the refusal."""
    _paced = False
    """Whether a request is being received whose pace this protocol keeps: from its first byte to
    its last, unless it turns out to be an event route's large or chunked body."""
    _deadline = 0.0
    """When (event loop time) the paced request must have arrived; 0 until a read ends in it."""
    _last_read = 0.0
    """When the last bytes of the paced request came."""
    make_large_body_pace: Callable[[], LargeBodyPace] = LargeBodyPace
    """Makes the worker's one bucket of large-body bytes, shared with the app
    (`large_body_pace`), which paces the bytes of answered bodies dropped here."""
    large_body_pace: LargeBodyPace
    _pace_timer: asyncio.TimerHandle | None = None
    """The connection's one timer checking the pace; armed when a read ends mid-request, so a
    request that arrives in one read (nearly all) never arms it."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.large_body_pace = pace_of(self.loop, self.make_large_body_pace)
        self.transport = CoalescingTransport(transport, self.loop)  # type: ignore[assignment]
        # uvicorn arms its keep-alive timeout only after an answer, so a connection that never
        # sent a byte was held forever; it gets the same time as one idle between requests.
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler
        )

    def connection_lost(self, exc: Exception | None) -> None:
        if self._pace_timer is not None:
            self._pace_timer.cancel()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refusal is not None:  # past a refusal the bytes mean nothing
            self._lingered_bytes += len(data)
            if self._lingered_bytes > LINGER_BYTES:
                self.transport.close()
            return
        if self._in_head and self._head_too_large(data):
            self._refuse(HEAD_TOO_LARGE_ANSWER)
            return
        dropping = self._dropping_answered_body()
        super().data_received(data)
        if dropping or self._dropping_answered_body():
            self._pace_drop(len(data))
        if self._paced:  # the read ended inside a request
            self._last_read = now = self.loop.time()
            if not self._deadline:  # the request's first read (close enough to its first byte)
                self._deadline = now + REQUEST_SECONDS
            if self._pace_timer is None:
                self._pace_timer = self.loop.call_later(REQUEST_IDLE_SECONDS, self._check_pace)

    def _dropping_answered_body(self) -> bool:
        """Whether the parser is inside the body of a request already answered: uvicorn drops
        those bytes, and `large_body_pace` paces them."""
        return not self._in_head and self.cycle is not None and self.cycle.response_complete

    def _pace_drop(self, size: int) -> None:
        """Charge a read of `size` bytes in which an answered body's bytes were dropped to the
        worker's `LargeBodyPace`; past it, stop reading this connection until they are paid
        for."""
        wait = self.large_body_pace.take(size, self.client)
        if wait > 0 and not self.flow.read_paused:
            self.flow.pause_reading()
            self.loop.call_later(wait, self._resume_after_pace)

    def _resume_after_pace(self) -> None:
        if not self.transport.is_closing() and self._refusal is None:
            self.flow.resume_reading()

    def on_message_begin(self) -> None:
        self._paced, self._deadline = True, 0.0  # set when a read ends inside the request
        super().on_message_begin()

    def _check_pace(self) -> None:
        """Refuse the request being received with 408 if it has stalled or is late; else check
        again when it next could be. Time spent with reading paused by the server is forgiven."""
        self._pace_timer = None
        if not self._paced or self._refusal is not None or self.transport.is_closing():
            return
        if not self._in_head and not self._declared_small() and self._app_paces_body():
            self._paced = False  # the app paces a large or chunked event body (`_read_large_body`)
            return
        now = self.loop.time()
        if self.flow.read_paused:
            self._last_read = now
            self._deadline = max(self._deadline, now + REQUEST_IDLE_SECONDS)
        idle_until = self._last_read + REQUEST_IDLE_SECONDS
        if now >= min(idle_until, self._deadline):  # named after the limit passed first
            self._refuse(_timeout_answer(self._in_head, idle=idle_until < self._deadline))
            return
        next_check = min(self._deadline, idle_until)
        self._pace_timer = self.loop.call_later(max(next_check - now, 0.0), self._check_pace)

    def _app_paces_body(self) -> bool:
        """Whether the request is a POST to an event route, whose large or chunked body the app
        paces (a webhook's, or another method's on an event route, such as a CORS preflight
        answered before its body, is paced here, whole, like a small body)."""
        return self.scope.get("method") == "POST" and self.scope.get("path") in EVENT_PATHS

    def _declared_small(self) -> bool:
        """Whether the request's Content-Length is at most `OFF_LOOP_BODY_BYTES`."""
        for name, value in self.headers:
            if name == b"content-length":
                return value.isdigit() and int(value) <= OFF_LOOP_BODY_BYTES
        return False

    def _head_too_large(self, data: bytes) -> bool:
        """Whether the head now being received, with `data`, exceeds `MAX_HEAD_BYTES` (bytes
        after the head's blank line are a body or the next request: not counted here)."""
        tail = self._tail
        seen = tail + data if tail else data
        end = seen.find(_HEAD_END)
        self._head_bytes += len(data) if end == -1 else end + len(_HEAD_END) - len(tail)
        self._tail = seen[-3:] if end == -1 else b""
        return self._head_bytes > MAX_HEAD_BYTES

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if self._refusal is not None:
            return  # the rest of a read the refusal came in
        self._body_pieces += 1
        if self._body_pieces > MAX_BODY_PIECES:
            self._refuse(FRAGMENTED_BODY_ANSWER)
            return
        super().on_body(body)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head, self._head_bytes, self._tail, self._body_pieces = True, 0, b"", 0
        self._paced = False

    def send_400_response(self, msg: str) -> None:
        self._refuse(MALFORMED_HTTP_ANSWER)

    def _refuse(self, answer: bytes) -> None:
        """Answer `answer` and close; when complete requests before it are still being answered
        (or queued), after their answers (`on_response_complete`)."""
        self._refusal = answer
        cycle = self.cycle
        if cycle is not None and not cycle.more_body and not cycle.response_complete:
            self.flow.pause_reading()
        else:  # nothing owed, or the bad bytes are inside the body a request is still reading
            self._send_refusal()

    def on_response_complete(self) -> None:
        last_owed = not self.pipeline
        super().on_response_complete()
        if self._refusal is not None and last_owed:
            self._send_refusal()

    def _send_refusal(self) -> None:
        """Send the refusal and end the connection, reading (and dropping) what the client still
        sends for up to `LINGER_SECONDS` and `LINGER_BYTES`: closing at once with its bytes
        unread would reset the connection, and the reset can destroy the refusal before the
        client reads it."""
        if self._refusal is not None and not self.transport.is_closing():
            self.transport.write(self._refusal)
            if not self.transport.can_write_eof():  # TLS served by uvicorn itself
                self.transport.close()
                return
            self.transport.write_eof()
            self.flow.resume_reading()
            self.loop.call_later(LINGER_SECONDS, self.transport.close)
