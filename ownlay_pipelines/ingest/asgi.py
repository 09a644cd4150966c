"""The event routes' raw ASGI side: headers, a size-capped body, and a JSON answer.

`POST /api/v1/events` and `/api/v1/track` carry nearly all of the service's traffic, and most
requests hold one event. FastAPI's routing, middleware and dependency machinery cost about as much
CPU per request as validating the event (bench/README.md), so `IngestApp` hands these two routes
to a plain ASGI handler before FastAPI sees them (their `OPTIONS`, the CORS preflight, too); every
other route, the OpenAPI document and the lifespan stay FastAPI's. The handler answers exactly as
the FastAPI route would: an `IngestError` becomes its JSON refusal, any other exception a 500
without details (and is re-raised, so the server logs it), like Starlette's error middleware.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI

from ownlay_pipelines.ingest.batch_head import HEAD_BYTES
from ownlay_pipelines.ingest.cors import CorsPolicy
from ownlay_pipelines.ingest.errors import IngestError
from ownlay_pipelines.ingest.request_body import (
    DECOMPRESSED_ENCODINGS,
    OBJECTLESS_CHECK_BYTES,
    check_charset,
    check_content_encoding,
    decompress_body,
    too_large,
)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Handler = Callable[[Scope, Receive, Send], Awaitable[None]]
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))
"""Starlette's JSONResponse settings, built once (`json.dumps` with options builds one per call)."""
_JSON_CONTENT_TYPE = (b"content-type", b"application/json")


@dataclass(slots=True)
class Answer:
    """A JSON answer: status, body already encoded, and extra headers."""

    status: int
    body: bytes
    headers: Mapping[str, str] | None = None

    @classmethod
    def json(cls, status: int, content: object, headers: Mapping[str, str] | None = None) -> Answer:
        """`content` encoded as Starlette's JSONResponse encodes it (compact, UTF-8, no NaN)."""
        return cls(status, _ENCODER.encode(content).encode(), headers)

    @classmethod
    def of_error(cls, error: IngestError) -> Answer:
        """The refusal `{"error": code, "message": …}` of an `IngestError`."""
        return cls.json(
            error.status,
            {"error": error.code, "message": error.message, **error.details},
            error.headers,
        )


@dataclass(slots=True)
class RawRequest:
    """What the event handlers read from a request: its headers, client address and body."""

    headers: Mapping[str, str]
    """Lower-case names; the first of repeated headers wins (as Starlette's `Headers.get`)."""
    client: tuple[str, int] | None
    """The client's (host, port): its connection's address."""
    receive: Receive

    @property
    def client_host(self) -> str | None:
        return self.client[0] if self.client else None

    @classmethod
    def of(cls, scope: Scope, receive: Receive) -> RawRequest:
        """The request of an ASGI HTTP scope (headers decoded as latin-1, as Starlette does)."""
        headers = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in reversed(scope["headers"])
        }
        client = scope.get("client")
        return cls(headers, tuple(client) if client else None, receive)

    async def capped_body(
        self, max_bytes: int, inspect_head: Callable[[bytes], None] | None = None
    ) -> bytes:
        """The body, or a 413 as soon as it is known to exceed `max_bytes` (the declared
        length first, then while it streams in, so an endless body is never held in memory);
        a declared charset other than UTF-8, or a Content-Encoding other than gzip or deflate,
        is a 415 before anything is read. A compressed body is returned decompressed.

        `inspect_head` sees the start (at least `HEAD_BYTES`, or all of it) of every body over
        `OBJECTLESS_CHECK_BYTES`, once: while the body streams in as soon as that much has
        arrived (so what it raises answers the request before the rest is read), or else, for a
        body that came at once or compressed, when it is complete."""
        check_charset(self.headers.get("content-type", ""))
        encoding = check_content_encoding(
            self.headers.get("content-encoding", ""), accepted=DECOMPRESSED_ENCODINGS
        )
        declared = self.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise too_large(max_bytes)
        declared_large = declared.isdigit() and int(declared) > OBJECTLESS_CHECK_BYTES
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                # Nobody is left to answer; nothing was stored, so the sender's retry loses nothing.
                raise IngestError(400, "client_disconnected", "the client closed the request")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > max_bytes:
                raise too_large(max_bytes)
            if not message.get("more_body", False):
                break
            chunks.append(chunk)
            if (
                inspect_head is not None
                and not encoding
                and size >= HEAD_BYTES
                and (declared_large or size > OBJECTLESS_CHECK_BYTES)
            ):
                inspect_head(b"".join(chunks) if len(chunks) > 1 else chunk)
                inspect_head = None
        body = b"".join([*chunks, chunk]) if chunks else chunk
        if encoding:
            body = decompress_body(body, encoding, max_bytes)
        if inspect_head is not None and len(body) > OBJECTLESS_CHECK_BYTES:
            inspect_head(body)
        return body


async def send_answer(
    send: Send, answer: Answer, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    """Send `answer` as a complete `application/json` response, with the `extra` headers
    (already encoded); a 204 has neither content type nor length (RFC 9110 §8.6)."""
    if answer.status == 204:
        headers = []
    else:
        headers = [_JSON_CONTENT_TYPE, (b"content-length", b"%d" % len(answer.body))]
    if answer.headers:
        headers += [(k.lower().encode(), v.encode("latin-1")) for k, v in answer.headers.items()]
    if extra:
        headers += extra
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": answer.body})


def raw_handler(respond: Callable[[RawRequest], Awaitable[Answer]], cors: CorsPolicy) -> Handler:
    """An ASGI handler answering with `respond(request)`, refusals and crashes included, each
    with the CORS headers `cors` gives the request's `Origin` (a request without one, as every
    server-to-server request, gets none)."""

    async def handle(scope: Scope, receive: Receive, send: Send) -> None:
        request = RawRequest.of(scope, receive)
        origin = request.headers.get("origin")
        extra = None if origin is None else cors.answer_headers(origin)
        try:
            answer = await respond(request)
        except IngestError as error:
            answer = Answer.of_error(error)
        except Exception:
            failed = {"error": "internal_error", "message": "the service failed; retry"}
            await send_answer(send, Answer.json(500, failed), extra)
            raise
        await send_answer(send, answer, extra)

    return handle


def preflight_handler(cors: CorsPolicy) -> Handler:
    """An ASGI handler answering an event route's `OPTIONS` (a CORS preflight) as `cors` says:
    204 with its headers, or its 403 refusal."""

    async def handle(scope: Scope, receive: Receive, send: Send) -> None:
        request = RawRequest.of(scope, receive)
        try:
            status, headers = cors.preflight(request.headers)
            answer = Answer(status, b"", headers)
        except IngestError as error:
            answer = Answer.of_error(error)
        await send_answer(send, answer)

    return handle


class IngestApp(FastAPI):
    """A FastAPI app that answers `POST` on the paths in `raw_routes` and `OPTIONS` on those in
    `preflight_routes` with their raw handlers.

    The same paths stay declared as FastAPI routes, so the OpenAPI document describes them.
    """

    raw_routes: Mapping[str, Handler] = {}
    preflight_routes: Mapping[str, Handler] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            method = scope["method"]
            if method == "POST":
                handler = self.raw_routes.get(scope["path"])
            elif method == "OPTIONS":
                handler = self.preflight_routes.get(scope["path"])
            else:
                handler = None
            if handler is not None:
                await handler(scope, receive, send)
                return
        await super().__call__(scope, receive, send)
