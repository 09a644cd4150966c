"""Reading a request body under a size cap, and parsing it as one event or a batch of events.

The cap is checked before parsing, on the declared length and again while streaming, so an
oversized or endless body is refused without being held in memory (authenticate, then cap the size,
then parse: reference/perf_reliability.md §3.1).
"""

from __future__ import annotations

import json

from fastapi import Request
from starlette.requests import ClientDisconnect

from ownlay_pipelines.ingest.errors import IngestError


async def read_capped_body(request: Request, max_bytes: int) -> bytes:
    """The raw body, or a 413 as soon as it is known to exceed `max_bytes`."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(max_bytes)
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_bytes:
                raise _too_large(max_bytes)
            chunks.append(chunk)
    except ClientDisconnect as error:
        # Nobody is left to answer; nothing was stored, so the sender's retry loses nothing.
        raise IngestError(400, "client_disconnected", "the client closed the request") from error
    return b"".join(chunks)


def parse_json(body: bytes) -> object:
    """The JSON document in `body`, or a 400 naming where parsing failed (never the content)."""
    if not body.strip():
        raise IngestError(400, "malformed_json", "the request body is empty")
    try:
        return json.loads(body)
    except UnicodeDecodeError as error:
        raise IngestError(400, "malformed_json", "the request body is not UTF-8") from error
    except json.JSONDecodeError as error:
        raise IngestError(
            400,
            "malformed_json",
            f"the request body is not JSON: {error.msg} "
            f"at line {error.lineno} column {error.colno}",
        ) from error


def parse_events(body: bytes) -> list[object]:
    """The events of a body holding one event (a JSON object) or a batch (a JSON array)."""
    document = parse_json(body)
    if isinstance(document, dict):
        return [document]
    if isinstance(document, list):
        if not document:
            raise IngestError(
                400, "empty_batch", "the batch is an empty array; send at least one event"
            )
        return document
    raise IngestError(
        400, "malformed_json", "the body must be a JSON object (one event) or an array of events"
    )


def _too_large(max_bytes: int) -> IngestError:
    return IngestError(
        413,
        "body_too_large",
        f"the request body exceeds {max_bytes} bytes; split the batch into smaller requests",
    )
