"""The per-workspace rate limit's token buckets in a file every worker process of the service maps.

With several workers (`OWNLAY_INGEST_WORKERS`) the kernel spreads connections over them by a
hash of their addresses, so one sender may talk to one worker only or to all. Buckets kept per
process would hold a workspace to 1/N of its limit on one connection and let it reach the whole
limit only when spread. Here the workers share one table of buckets — a memory-mapped file
beside the buffer — and one worker at a time spends from it (an `flock` on the file, plus a
thread lock, since an `flock` does not exclude threads of one process), so the workspace gets
exactly its limit however its requests are spread.

A slot is (key, tokens, updated): the key is the first 8 bytes of the workspace id's BLAKE2b
digest, found by linear probing from its hash; `updated` is `time.monotonic()`, one clock for
every process of the machine. A slot whose time lies ahead of now was written before a reboot
and counts as a full bucket.
"""

from __future__ import annotations

import fcntl
import hashlib
import mmap
import os
import struct
import threading
from collections.abc import Callable
from pathlib import Path

_SLOT = struct.Struct("<Qdd")
SLOTS = 16_384
"""Workspaces the table holds (384 KiB); past that a workspace's requests are not limited."""

Spend = Callable[[float, float], tuple[float, int | None]]
"""Given (tokens, seconds since the bucket was updated), the tokens left and the wait, if any."""


def shared_buckets_path(buffer_path: Path) -> Path:
    """The bucket table of the service whose event buffer is `buffer_path`."""
    return buffer_path.with_name(buffer_path.name + ".rate_limit")


class SharedBuckets:
    """The token buckets of every worker of one service (created empty if missing)."""

    def __init__(self, path: Path, *, slots: int = SLOTS) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        size = _SLOT.size * slots
        if os.fstat(self._fd).st_size < size:
            os.ftruncate(self._fd, size)  # zero bytes: every slot empty
        self._map = mmap.mmap(self._fd, size)
        self._slots = slots
        self._thread_lock = threading.Lock()

    def spend(self, workspace_id: str, now: float, full: float, spend: Spend) -> int | None:
        """Apply `spend` to the workspace's bucket (a new one holds `full` tokens) and store the
        result, atomically across workers; the wait `spend` returned."""
        key = _key(workspace_id)
        with self._thread_lock:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                offset = self._slot_of(key)
                if offset is None:
                    return None  # the table is full: this workspace is not limited
                stored, tokens, updated = _SLOT.unpack_from(self._map, offset)
                if stored != key or updated > now:
                    tokens, updated = full, now
                left, wait = spend(tokens, now - updated)
                _SLOT.pack_into(self._map, offset, key, left, now)
                return wait
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        self._map.close()
        os.close(self._fd)

    def _slot_of(self, key: int) -> int | None:
        """The byte offset of the key's slot, or of the first empty one on its probe path."""
        start = key % self._slots
        for step in range(self._slots):
            offset = ((start + step) % self._slots) * _SLOT.size
            (stored,) = struct.unpack_from("<Q", self._map, offset)
            if stored in (key, 0):
                return offset
        return None


def _key(workspace_id: str) -> int:
    """A nonzero 64-bit key of the workspace id (0 marks an empty slot)."""
    digest = hashlib.blake2b(workspace_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") or 1
