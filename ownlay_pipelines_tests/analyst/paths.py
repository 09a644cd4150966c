"""Random aggregated paths for the attribution cross-checks (fixed seeds)."""

from __future__ import annotations

import random

from ownlay_pipelines.analyst.path_data import PathCounts


def random_paths(seed: int, *, channels: int = 5, paths: int = 40, max_length: int = 6):
    """(channels, conversions, value, nulls) rows: repeats, self-loops and zero-conversion paths."""
    rng = random.Random(seed)
    names = [f"ch{n}" for n in range(channels)]
    rows = []
    for _ in range(paths):
        path = [rng.choice(names) for _ in range(rng.randint(1, max_length))]
        conversions = rng.choice([0, 0, 1, 2, 5])
        rows.append((path, conversions, conversions * rng.uniform(10, 90), rng.randint(0, 6)))
    return rows


def as_counts(rows) -> PathCounts:
    return PathCounts.from_rows(rows)
