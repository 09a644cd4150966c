"""Reading a request body under a size cap, and parsing it as one event or a batch of events.

The cap is checked before parsing, on the declared length and again while streaming, so an
oversized or endless body is refused without being held in memory (authenticate, then cap the size,
then parse: reference/perf_reliability.md §3.1). Parsing uses pydantic-core's JSON parser, which
bounds what a hostile body can cost: nesting deeper than 200 levels, number literals longer than
4,300 digits, NaN/Infinity and anything but UTF-8 are refused with a 4xx, and its errors name a
position, never the content.
"""

from __future__ import annotations

import asyncio
import re
import zlib

import anyio
import msgspec
from fastapi import Request
from pydantic_core import from_json
from starlette.requests import ClientDisconnect

from ownlay_pipelines.ingest.batch_head import complete_items_in_head
from ownlay_pipelines.ingest.errors import IngestError
from ownlay_pipelines.ingest.large_body_pace import pace_of

MAX_JSON_DEPTH = 200
"""pydantic-core's own recursion limit; stated here because the API documents it."""
OFF_LOOP_BODY_BYTES = 64 * 1024
"""Bodies above this are parsed and validated in a worker thread (about 1 ms of work on the loop),
one body at a time: parsing holds the GIL for up to ~20 ms per MiB, so ten large bodies parsed
at once would keep the event loop, and every small request, waiting for all ten."""
OBJECTLESS_CHECK_BYTES = 64 * 1024
"""Bodies larger than this are first checked for possibly holding an event (`refuse_eventless`)."""
_ARRAY_START = re.compile(rb"\s*\[")
_BYTE_ORDER_MARKS = (b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf")
"""UTF-16 LE/BE and UTF-8 byte-order marks: a body starting with one is refused as not UTF-8."""
_DECOMPRESSOR_WBITS = {
    "gzip": 16 + zlib.MAX_WBITS,
    "x-gzip": 16 + zlib.MAX_WBITS,
    "deflate": zlib.MAX_WBITS,  # HTTP's "deflate" is the zlib format (RFC 9110)
}
"""Content-Encodings the event routes accept (SDKs gzip their batches), with zlib's `wbits`."""
DECOMPRESSED_ENCODINGS = tuple(_DECOMPRESSOR_WBITS)


async def read_capped_body(request: Request, max_bytes: int) -> bytes:
    """The raw body, or a 413 as soon as it is known to exceed `max_bytes`. Webhook routes read
    with it: a signature covers the bytes as sent, so only uncompressed bodies are taken. A body
    over `OFF_LOOP_BODY_BYTES` or chunked is read at the worker's `LargeBodyPace`."""
    check_charset(request.headers.get("content-type", ""))
    check_content_encoding(request.headers.get("content-encoding", ""), accepted=())
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise too_large(max_bytes)
    # A large or chunked body is read at the worker's pace while several clients send such
    # bodies (`large_body_pace`), as the event routes' are.
    small = declared.isdigit() and int(declared) <= OFF_LOOP_BODY_BYTES
    pace = None if small else pace_of(asyncio.get_running_loop())
    client = tuple(request.client) if request.client else None
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_bytes:
                raise too_large(max_bytes)
            chunks.append(chunk)
            if pace is not None and (wait := pace.take(len(chunk), client)) > 0:
                await anyio.sleep(wait)
    except ClientDisconnect as error:
        # Nobody is left to answer; nothing was stored, so the sender's retry loses nothing.
        raise IngestError(400, "client_disconnected", "the client closed the request") from error
    return b"".join(chunks)


def parse_json(body: bytes) -> object:
    """The JSON document in `body`, or a 4xx naming where parsing failed (never the content)."""
    # `isspace`/`startswith` read the body in place (`strip` or slices would copy it per request).
    if not body or body.isspace():
        raise IngestError(400, "malformed_json", "the request body is empty")
    if body.startswith(_BYTE_ORDER_MARKS):
        raise _not_utf8()
    try:
        return from_json(body, allow_inf_nan=False)
    except ValueError as error:
        if not _is_utf8(body):
            raise _not_utf8() from error
        reason = str(error).splitlines()[0][:160]
        if reason.startswith("recursion limit exceeded"):
            reason = f"nesting deeper than {MAX_JSON_DEPTH} levels ({reason})"
        raise IngestError(
            400, "malformed_json", f"the request body is not JSON: {reason}"
        ) from error


def refuse_eventless(body: bytes) -> None:
    """A 422 for a large body that cannot hold an event, decided by byte search alone.

    Parsing a large body is the costly part: pydantic-core holds the GIL while it builds every
    item, tens of milliseconds per MiB in which the event loop cannot run (arrays of more than
    1,000 tiny items never get here: `batch_head` refuses them from their first kilobytes). So a
    body over `OBJECTLESS_CHECK_BYTES` is refused before parsing, on the event loop (a
    search at memory speed costs less than handing the body to a thread) when it is an array
    without a single `{`, or when no key spells `"event_type"` (required in both payload shapes;
    a body with a `\\u` escape is parsed anyway, since an escaped key could still spell it).
    """
    if len(body) <= OBJECTLESS_CHECK_BYTES:
        return
    if _ARRAY_START.match(body) and body.find(b"{") == -1:
        raise IngestError(
            422,
            "validation_failed",
            "the batch holds no JSON object, so no event; send objects",
        )
    # A lone backslash is found at memory speed; the two-byte `\\u` search costs three times more.
    if body.find(b'"event_type"') == -1 and not (b"\\" in body and b"\\u" in body):
        raise IngestError(
            422,
            "validation_failed",
            "no object in the body has an 'event_type', so none is an event",
        )


def refuse_long_batch_head(body: bytes, max_events: int) -> None:
    """A 413 for a batch whose head alone holds more than `max_events` items (`batch_head`):
    decided on the first kilobytes, before the rest of the body is read."""
    items, head_bytes = complete_items_in_head(body, max_events + 1)
    if items > max_events:
        raise IngestError(
            413,
            "batch_too_large",
            f"the batch holds over {max_events} items ({items} in its first {head_bytes} "
            f"bytes); send at most {max_events} per request",
        )


class _AnyObject(msgspec.Struct, gc=False):
    """A JSON object whose members are skipped unread: what an array item is when counting."""


_OBJECT_ARRAY = msgspec.json.Decoder(list[_AnyObject])


def refuse_long_batch(body: bytes, max_events: int) -> None:
    """A 413 for a large array of more than `max_events` objects, counted without building them.

    pydantic-core builds every item before the batch limit can be checked: 60,000 items of
    `{"event_type":0}` in 1 MiB cost ~10 ms of GIL and as much again to free. msgspec walks the
    same array skipping each object's members (~2 ms per MiB). Anything but an array of objects
    (a stray number, malformed JSON) is left to `parse_events`, whose refusals name the cause.
    """
    if len(body) <= OBJECTLESS_CHECK_BYTES or not _ARRAY_START.match(body):
        return
    try:
        count = len(_OBJECT_ARRAY.decode(body))
    except (msgspec.DecodeError, RecursionError):
        return
    if count > max_events:
        raise _batch_too_large(count, max_events)


def parse_events(body: bytes, max_events: int) -> list[object]:
    """The events of a body holding one event (a JSON object) or a batch (a JSON array), once
    `refuse_eventless` let it through."""
    document = parse_json(body)
    if isinstance(document, dict):
        return [document]
    if isinstance(document, list):
        if not document:
            raise IngestError(
                400, "empty_batch", "the batch is an empty array; send at least one event"
            )
        if len(document) > max_events:
            raise _batch_too_large(len(document), max_events)
        return document
    raise IngestError(
        400, "malformed_json", "the body must be a JSON object (one event) or an array of events"
    )


def check_content_encoding(content_encoding: str, accepted: tuple[str, ...]) -> str:
    """The request's Content-Encoding in lower case ('' for none or `identity`), or a 415 when
    it is not one of `accepted`."""
    encoding = content_encoding.strip().lower()
    if encoding in ("", "identity"):
        return ""
    if encoding not in accepted:
        choices = f"{', '.join(accepted)} or " if accepted else ""
        raise IngestError(
            415,
            "unsupported_content_encoding",
            f"Content-Encoding {encoding[:20]!r} is not supported here; send the body "
            f"{choices}uncompressed",
        )
    return encoding


def decompress_body(body: bytes, encoding: str, max_bytes: int) -> bytes:
    """The body as it was before `encoding` (gzip or deflate) compressed it: a 413 once it would
    grow past `max_bytes` (a small bomb never expands further), a 400 for data that is not of
    the encoding or is cut short."""
    decompressor = zlib.decompressobj(_DECOMPRESSOR_WBITS[encoding])
    try:
        data = decompressor.decompress(body, max_bytes + 1)
    except zlib.error as error:
        raise IngestError(
            400, "malformed_body", f"the body is not valid {encoding} data ({error})"
        ) from error
    if len(data) > max_bytes:
        raise IngestError(
            413,
            "body_too_large",
            f"the request body exceeds {max_bytes} bytes once decompressed; split the batch "
            "into smaller requests",
        )
    if not decompressor.eof or decompressor.unused_data:
        raise IngestError(
            400, "malformed_body", f"the {encoding} body is cut short or has data after its end"
        )
    return data


def check_charset(content_type: str) -> None:
    """415 for a declared charset other than UTF-8 (the API takes UTF-8 JSON only)."""
    if ";" not in content_type:
        return  # no parameters, so no charset: nearly every request
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
            if charset not in ("utf-8", "utf8"):
                raise IngestError(
                    415,
                    "unsupported_charset",
                    f"the body is declared as {charset[:20]!r}; send UTF-8 JSON",
                )


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _not_utf8() -> IngestError:
    return IngestError(415, "unsupported_charset", "the request body is not UTF-8 JSON (no BOM)")


def _batch_too_large(count: int, max_events: int) -> IngestError:
    return IngestError(
        413,
        "batch_too_large",
        f"the batch holds {count} items; send at most {max_events} per request",
    )


def too_large(max_bytes: int) -> IngestError:
    """The 413 of a body over the cap."""
    return IngestError(
        413,
        "body_too_large",
        f"the request body exceeds {max_bytes} bytes; split the batch into smaller requests",
    )
