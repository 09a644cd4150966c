"""Aggregated channel paths, and the common path file that carries them.

A path file is ChannelAttribution's aggregated format (reference/analytics.md §1.4): one line per
path, `path;total_conversions;total_conversion_value;total_null`, channels joined by `>`
(spaces around names are trimmed). A header row is allowed, blank lines are skipped, and a path
that appears on several lines is summed. Anything else is an error naming the line.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FIELD_SEPARATOR = ";"
CHANNEL_SEPARATOR = ">"
HEADER = ("path", "total_conversions", "total_conversion_value", "total_null")


class PathFileError(ValueError):
    """A path file line that cannot be read; the message names the line and the reason."""


@dataclass(frozen=True)
class PathCounts:
    """Distinct channel paths with their conversions, conversion value and non-conversions.

    Path k's channels are `channels[touches[offsets[k]:offsets[k + 1]]]` in time order; every
    path has at least one touch. Arrays rather than objects so a million paths fit in numpy.
    """

    channels: tuple[str, ...]
    touches: np.ndarray
    offsets: np.ndarray
    conversions: np.ndarray
    value: np.ndarray
    nulls: np.ndarray

    @property
    def path_count(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def path_of_touch(self) -> np.ndarray:
        """For every touch, the index of its path."""
        return np.repeat(np.arange(self.path_count), self.lengths)

    def path(self, k: int) -> tuple[str, ...]:
        return tuple(self.channels[c] for c in self.touches[self.offsets[k] : self.offsets[k + 1]])

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[Sequence[str], float, float, float]]) -> PathCounts:
        """Aggregate (channels, conversions, value, nulls) rows; equal paths are summed."""
        totals: dict[tuple[str, ...], list[float]] = {}
        for channels, conversions, value, nulls in rows:
            key = tuple(channels)
            if not key:
                raise ValueError("a path needs at least one channel")
            total = totals.setdefault(key, [0.0, 0.0, 0.0])
            total[0] += conversions
            total[1] += value
            total[2] += nulls
        names = sorted({channel for path in totals for channel in path})
        ids = {name: number for number, name in enumerate(names)}
        paths = list(totals)
        lengths = np.fromiter((len(p) for p in paths), dtype=np.int64, count=len(paths))
        offsets = np.zeros(len(paths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        touches = np.fromiter(
            (ids[c] for p in paths for c in p), dtype=np.int64, count=int(offsets[-1])
        )
        sums = np.array(list(totals.values()), dtype=np.float64).reshape(len(paths), 3)
        return cls(tuple(names), touches, offsets, sums[:, 0], sums[:, 1], sums[:, 2])


def parse_path_lines(lines: Iterable[str]) -> PathCounts:
    """Read path-file lines (see the module docstring); raises PathFileError on a bad line."""
    rows = []
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        fields = line.split(FIELD_SEPARATOR)
        if len(fields) != len(HEADER):
            raise PathFileError(
                f"line {number}: expected 4 fields separated by ';' "
                f"({';'.join(HEADER)}), found {len(fields)}"
            )
        if number == 1 and tuple(f.strip().lower() for f in fields) == HEADER:
            continue
        path, *counts = fields
        channels = [channel.strip() for channel in path.split(CHANNEL_SEPARATOR)]
        if not all(channels):
            raise PathFileError(f"line {number}: path {path.strip()!r} has an empty channel name")
        rows.append((channels, *(_count(number, n, text) for n, text in enumerate(counts, 1))))
    if not rows:
        raise PathFileError("the path file holds no paths")
    return PathCounts.from_rows(rows)


def _count(line: int, column: int, text: str) -> float:
    """A finite, non-negative number of field `column` (float() ignores surrounding spaces)."""
    try:
        value = float(text)
    except ValueError:
        raise PathFileError(
            f"line {line}: {HEADER[column]} {text.strip()!r} is not a number"
        ) from None
    if not math.isfinite(value) or value < 0:
        raise PathFileError(
            f"line {line}: {HEADER[column]} {text.strip()!r} must be a finite number ≥ 0"
        )
    return value


def read_path_file(path: Path) -> PathCounts:
    """Parse the path file at `path` (UTF-8)."""
    with path.open(encoding="utf-8") as handle:
        return parse_path_lines(handle)


@dataclass(frozen=True)
class ChannelCredit:
    """What a model credits one channel with: conversions and conversion value (and, for Markov,
    the channel's removal effect)."""

    channel: str
    conversions: float
    value: float
    removal_effect: float | None = None


def channel_credits(
    paths: PathCounts,
    conversions: np.ndarray,
    value: np.ndarray,
    removal_effects: np.ndarray | None = None,
) -> list[ChannelCredit]:
    """Per-channel arrays (indexed like `paths.channels`) as credits, largest first."""
    credits = [
        ChannelCredit(
            channel=name,
            conversions=float(conversions[i]),
            value=float(value[i]),
            removal_effect=None if removal_effects is None else float(removal_effects[i]),
        )
        for i, name in enumerate(paths.channels)
    ]
    return sorted(credits, key=lambda credit: (-credit.conversions, credit.channel))
