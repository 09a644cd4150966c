"""Counting a batch's items from its first bytes, so an overlong batch is refused unread.

A 1 MiB body of tiny items (`[1,1,…]`, `[{},{},…]`, `[{"event_type":0},…]`) holds tens of
thousands of them, while the batch limit is 1,000 events. Reading such a body to its end costs the
event loop ~2 ms per MiB; ten senders doing it back to back keep a core busy, and every small
request waits behind them. The body's head already holds more than 1,000 items of any size a
flood can afford (up to ~30 bytes each in `HEAD_BYTES`), so the batch is refused before the rest
is read (uvicorn then drops the rest as it arrives, without handing it to the application). Real
events weigh hundreds of bytes, so a legitimate batch never shows 1,000 items in its head.

The head is cut after one of its last commas and closed with `]`; msgspec checks that as JSON and
counts its items without building them (`msgspec.Raw`). When no cut among the last few commas
gives valid JSON (the commas are inside an item, or the body is not JSON), nothing is counted and
the body is read and parsed as usual, so a refusal here only ever says what the JSON holds.
"""

from __future__ import annotations

import re

import msgspec

HEAD_BYTES = 32 * 1024
"""The most of a body's start that is counted."""
_FIRST_HEAD_BYTES = 4 * 1024
"""Counted first: 2,047 items of the smallest kind (`1,`), so most floods end here."""
_CUTS_TRIED = 4
"""Commas tried from the end of a head (the last ones may sit inside an unfinished item)."""
_ARRAY_START = re.compile(rb"\s*\[")
_ITEMS = msgspec.json.Decoder(list[msgspec.Raw])


def complete_items_in_head(body: bytes, enough: int) -> tuple[int, int]:
    """(items, head bytes): how many items of the top-level array starting `body` were found
    complete in its first `head bytes`, reading more of the head (up to `HEAD_BYTES`) only while
    fewer than `enough` were found. (0, 0) when `body` does not start an array or its head cannot
    be counted."""
    if _ARRAY_START.match(body) is None:
        return 0, 0
    counted = (0, 0)
    for size in (_FIRST_HEAD_BYTES, HEAD_BYTES):
        items = _count_items(body, size)
        if items == 0:
            return counted
        counted = (items, min(size, len(body)))
        if items >= enough or len(body) <= size:
            break
    return counted


def _count_items(body: bytes, size: int) -> int:
    """The items of `body[:size]` cut after one of its last commas, or 0 when no such cut is
    valid JSON."""
    end = min(size, len(body))
    for _ in range(_CUTS_TRIED):
        end = body.rfind(b",", 0, end)
        if end <= 0:
            return 0
        try:
            return len(_ITEMS.decode(body[:end] + b"]"))
        except (msgspec.DecodeError, RecursionError):
            continue
    return 0
