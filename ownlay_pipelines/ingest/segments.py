"""Append-only segment files: where the event buffer keeps the Arrow batches of its group commits.

Each writing process (one per uvicorn worker) appends every group commit's batch — one LZ4 Arrow
IPC record-batch message (`buffer.serialize_pending_batch`) — to its own open segment,
`<buffer>.segments/seg-<uuid>.arrows`, and `fdatasync`s it before the group's SQLite transaction
commits the record's address (segment, offset, length). A record is therefore part of the buffer
exactly when its SQLite row is: bytes a crash or a failed commit left behind are never read.

A flush reads the records by address and never rewrites a segment; a segment goes away by
`unlink` once every record in it is flushed, so the buffer needs no row deletes of event data and
no vacuum. The writer holds an exclusive `flock` on its open segment; a flush deletes only
segments it can lock (closed by their writer, or left by a dead one) and no pending row names.
The writer itself deletes its open segment as soon as everything it holds is flushed, and starts
a new one past `ROLL_BYTES`, so a flushed backlog never stays on disk longer than the next group
commit or the next flush.
"""

from __future__ import annotations

import fcntl
import os
import re
import uuid
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from ownlay_pipelines.lake.writer import fsync_dir

SEGMENT_NAME = re.compile(r"^seg-[0-9a-f]{32}\.arrows$")
ROLL_BYTES = 64 * 1024 * 1024
"""A writer starts a new segment once its open one holds this much: what a flush can give back
while the service keeps appending is whole segments."""


@dataclass(frozen=True)
class SegmentRecord:
    """Where one stored batch lives: segment file name, byte offset and length."""

    segment: str
    offset: int
    length: int


def segment_dir(buffer_path: Path) -> Path:
    """The folder of a buffer file's segments, beside it."""
    return buffer_path.with_name(buffer_path.name + ".segments")


class SegmentWriter:
    """One process's open segment: appends records, syncs them, rolls over to a new file.

    Not thread-safe: the buffer's writer thread is its only user.
    """

    def __init__(self, buffer_path: Path, *, roll_bytes: int = ROLL_BYTES) -> None:
        self._folder = segment_dir(buffer_path)
        self._roll_bytes = roll_bytes
        self._fd: int | None = None
        self._name = ""
        self._size = 0
        self._newest_seq = 0

    def append(self, blob: bytes | memoryview) -> SegmentRecord:
        """Write `blob` at the end of the open segment (a new one if none or full); not synced."""
        if self._fd is None or self._size >= self._roll_bytes:
            self.close()
            self._open()
        assert self._fd is not None
        offset = self._size
        view = memoryview(blob)
        written = 0
        while written < len(view):
            written += os.pwrite(self._fd, view[written:], offset + written)
        self._size += len(view)
        return SegmentRecord(self._name, offset, len(view))

    def sync(self) -> None:
        """Make every record appended so far durable (before the SQLite commit naming them)."""
        if self._fd is not None:
            os.fdatasync(self._fd)

    def note_seq(self, seq: int) -> None:
        """Remember the buffer `seq` of a record just stored in the open segment."""
        self._newest_seq = max(self._newest_seq, seq)

    def drop_if_flushed(self, completed_seq: int) -> None:
        """Delete the open segment when every record of it is in a completed flush."""
        if self._fd is not None and self._newest_seq and self._newest_seq <= completed_seq:
            path = self._folder / self._name
            path.unlink(missing_ok=True)
            self.close()

    def close(self) -> None:
        """Close the open segment (releasing its lock: a flush may now delete it when flushed)."""
        if self._fd is not None:
            os.close(self._fd)
        self._fd, self._name, self._size, self._newest_seq = None, "", 0, 0

    def _open(self) -> None:
        """Create a new segment, locked before it gets a name a flush would look at."""
        self._folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        name = f"seg-{uuid.uuid4().hex}.arrows"
        temp = self._folder / f".{name}.tmp"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.replace(temp, self._folder / name)
        fsync_dir(self._folder)  # the file itself must survive power loss, not only its bytes
        self._fd, self._name, self._size, self._newest_seq = fd, name, 0, 0


class SegmentReader:
    """Reads records by address; keeps each segment it touched open until `close`."""

    def __init__(self, buffer_path: Path) -> None:
        self._folder = segment_dir(buffer_path)
        self._open: dict[str, int] = {}

    def read(self, record: SegmentRecord) -> bytes:
        fd = self._open.get(record.segment)
        if fd is None:
            fd = self._open[record.segment] = os.open(self._folder / record.segment, os.O_RDONLY)
        blob = os.pread(fd, record.length, record.offset)
        if len(blob) != record.length:
            raise OSError(f"segment {record.segment} ends before its record at {record.offset}")
        return blob

    def close(self) -> None:
        for fd in self._open.values():
            os.close(fd)
        self._open.clear()


def segment_files(buffer_path: Path) -> Iterator[Path]:
    """Every committed-name segment of the buffer (temporary names are never included)."""
    folder = segment_dir(buffer_path)
    if folder.is_dir():
        yield from (path for path in folder.iterdir() if SEGMENT_NAME.match(path.name))


def locked_if_idle(path: Path) -> int | None:
    """A descriptor holding the segment's lock if no writer has it open, else None."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def remove_temporaries(buffer_path: Path) -> None:
    """Delete segment files a writer died creating (before they got their name)."""
    folder = segment_dir(buffer_path)
    for path in folder.glob(".seg-*.tmp") if folder.is_dir() else ():
        fd = locked_if_idle(path)
        if fd is not None:
            with suppress(FileNotFoundError):
                path.unlink()
            os.close(fd)
