"""What a PII scan must read in the event buffer: its files' raw bytes and, because group-commit
batches are stored LZ4-compressed in segment files, every pending batch decoded."""

from __future__ import annotations

from pathlib import Path

from ownlay_pipelines.ingest.buffer import connect_buffer, read_pending_batches


def buffer_text(buffer_path: Path) -> str:
    """The buffer's own files (not its neighbours') as Latin-1 text followed by the rows of every pending batch."""
    files = sorted(buffer_path.parent.glob(f"{buffer_path.name}*"))  # -wal, -shm, .segments/
    files += sorted(p for d in files if d.is_dir() for p in d.rglob("*"))
    raw = b"".join(p.read_bytes() for p in files if p.is_file())
    connection = connect_buffer(buffer_path)
    try:
        rows = [
            batch.to_pylist()
            for _, batch in read_pending_batches(connection, buffer_path, 0, 2**62)
        ]
    finally:
        connection.close()
    return raw.decode("latin-1") + repr(rows)
