"""Deterministic randomness: every sandbox value comes from a generator named by its identity.

A generator is seeded from a hash of (seed, workspace, entity id, date, …), never from a running
stream, so any single value can be computed without generating the others and is identical in
every process and on every run (Python's `hash()` is salted per process; blake2b is not).
"""

from __future__ import annotations

import hashlib
import random
from datetime import date


def stable_seed(*parts: object) -> int:
    """A 64-bit integer that depends only on the text of `parts`, the same in every process."""
    text = "\x1f".join(part.isoformat() if isinstance(part, date) else str(part) for part in parts)
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def rng_for(*parts: object) -> random.Random:
    """A random generator owned by the identity `parts` (e.g. seed, account, campaign, day)."""
    return random.Random(stable_seed(*parts))


def unit_draw(*parts: object) -> float:
    """A uniform number in [0, 1) fixed by `parts`; used for yes/no decisions at a given rate."""
    return stable_seed(*parts) / 2**64


def digits(rng: random.Random, count: int) -> str:
    """`count` random decimal digits (may start with 0), for platform-looking numeric ids."""
    return "".join(str(rng.randrange(10)) for _ in range(count))


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson count: Knuth's product method when small, a rounded normal when large."""
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, round(rng.gauss(mean, mean**0.5)))
    threshold = pow(2.718281828459045, -mean)
    count, product = 0, rng.random()
    while product > threshold:
        count += 1
        product *= rng.random()
    return count
