"""Micro-benchmark of free-text masking: `mask_contact_data` per value, its cache bypassed.

The ingest path masks every page title, URL, UTM value and user agent; the cache absorbs the
repeats, so what a new value costs is the uncached call measured here, per kind of value (the
best of 15 rounds: the machine is shared and noise only ever adds). The anchor, in the same
run, is the quick check every value goes through first (`_MAY_HOLD_CONTACT_DATA`), which alone
decides for text holding none of its characters (no digit, `@`, `%`, `:`, `&`, `(`, `[` …).

    PYTHONPATH=. .venv/bin/python bench/privacy/run_free_text_bench.py           # about 10 s
    PYTHONPATH=. .venv/bin/python bench/privacy/run_free_text_bench.py --rounds 1000
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from ownlay_pipelines.privacy.free_text import _MAY_HOLD_CONTACT_DATA, mask_contact_data

UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
CORPUS = {
    "title": ["Two-person tents | Acme Outdoor", "Spring Sale 2026 – up to 50% off", "Checkout"],
    "url": [
        "https://shop.example.com/tents/4?gclid=Cj0KCQiA&utm_source=google&utm_medium=cpc",
        "https://shop.example.com/search?q=two%20person%20tents&page=2",
        "https://www.google.com/",
    ],
    "utm": ["spring_sale_2026", "brand-search-de", "retargeting_30d_v2"],
    "user agent": [UA],
    "with contact data": [
        "call +1 (415) 555-0123 or write jane.doe@example.com",
        "/u/jane.doe%40example.com/orders?ip=203.0.113.77",
        "Kontakt: 030 12345678, jane@müller.de",
    ],
}


def _per_call_us(texts: list[str], rounds: int, call: Callable[[str], object]) -> float:
    """The best of 15 timings of `rounds` passes over `texts`, in µs per value."""
    samples = []
    for _ in range(15):
        started = time.perf_counter()
        for _ in range(rounds):
            for text in texts:
                call(text)
        samples.append((time.perf_counter() - started) / (rounds * len(texts)) * 1e6)
    return min(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()
    uncached = mask_contact_data.__wrapped__
    print(f"{'kind':<20}{'masked µs/value':>16}{'quick check µs':>16}")
    for kind, texts in CORPUS.items():
        agent = kind == "user agent"
        masked = _per_call_us(texts, args.rounds, lambda t, a=agent: uncached(t, user_agent=a))
        quick = _per_call_us(texts, args.rounds, _MAY_HOLD_CONTACT_DATA.search)
        print(f"{kind:<20}{masked:>16.2f}{quick:>16.2f}")


if __name__ == "__main__":
    main()
