"""A sample of a delimited text file, spread over the whole file, to decide its formats from.

A file of at most `WHOLE_FILE_BYTES` is its own sample. Of a larger one the sample is its
preamble and header lines, then `SAMPLE_CHUNKS` slices of `CHUNK_BYTES` at evenly spaced
offsets, each cut to whole lines (the partial line at either end dropped): 1 MiB, some
16,000 rows of a typical export, read from every part of the file without reading all of it.

A slice may start inside a quoted field that spans lines; the reader then refuses that row of the
sample or it adds a little noise to counts. The load checks its decisions against the whole
file whenever the rows it refused could have been read under another decision (`load`).
"""

from __future__ import annotations

from pathlib import Path

WHOLE_FILE_BYTES = 1024 * 1024
SAMPLE_CHUNKS = 32
CHUNK_BYTES = 32 * 1024


def text_sample(source: Path, target: Path, header_lines: int) -> Path:
    """The file to decide formats from: `source` itself when small, else a sample written to
    `target` whose first `header_lines` lines are the source's (preamble and header)."""
    size = source.stat().st_size
    if size <= WHOLE_FILE_BYTES:
        return source
    with open(source, "rb") as handle, open(target, "wb") as sink:
        for _ in range(header_lines):
            sink.write(handle.readline())
        start = handle.tell()
        step = max((size - start) // SAMPLE_CHUNKS, 1)
        for index in range(SAMPLE_CHUNKS):
            handle.seek(start + index * step)
            chunk = handle.read(CHUNK_BYTES)
            if index:  # the first slice starts on a line; the others mid-line
                chunk = chunk[chunk.find(b"\n") + 1 :] if b"\n" in chunk else b""
            end = chunk.rfind(b"\n")
            if end >= 0:
                sink.write(chunk[: end + 1])
    return target
