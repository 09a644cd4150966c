"""Micro-benchmark of event validation: `validate_batch` on batches of 100 seed-000 events.

Anchor, in the same run: the same payloads through `json` round-trip plus a pydantic model with
the same field names and plain types but no custom validators, i.e. what validation costs when only
pydantic-core works. The ratio shows how much the Python-level rules (timestamp window, privacy
classes, URL stripping, properties scrub) add on top.

    .venv/bin/python bench/ingest/run_validation_bench.py            # about 10 s
    .venv/bin/python bench/ingest/run_validation_bench.py --rounds 50
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict

from ownlay_pipelines.events.model import EventValidationContext, TimestampPolicy
from ownlay_pipelines.events.validation import PayloadKind, validate_batch

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
BATCH = 100
UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)


def _payload(number: int) -> dict[str, Any]:
    return {
        "event_id": str(uuid.UUID(int=number)),
        "event_type": "page_view" if number % 3 else "purchase",
        "timestamp": (NOW - timedelta(minutes=number % 600)).isoformat(),
        "anonymous_id": f"anon_{number % 5000:06d}",
        "user_id": f"user_{number % 900}",
        "session_id": f"sess_{number // 7:08x}",
        "source": {"platform": "webhook", "campaign_id": "120210000000001", "keyword": "tents"},
        "utm": {"source": "google", "medium": "cpc", "campaign": "spring_sale"},
        "properties": {
            "revenue": 99.99,
            "currency": "USD",
            "items": [{"sku": "TENT-2", "quantity": 1}],
        },
        "context": {
            "ip": f"198.51.100.{number % 250}",
            "user_agent": UA,
            "locale": "en-US",
            "timezone": "America/Los_Angeles",
            "device": {"type": "desktop", "screen_resolution": "1920x1080"},
            "geo": {"country": "US", "region": "Oregon", "city": "Portland"},
            "page": {
                "url": f"https://shop.example.com/tents/{number % 40}?gclid=Cj0KCQ&utm_source=g",
                "path": f"/tents/{number % 40}",
                "title": "Two-person tents",
                "referrer": "https://www.google.com/",
            },
        },
    }


class _Plain(BaseModel):
    model_config = ConfigDict(extra="allow")


class PlainPage(_Plain):
    url: str | None = None
    path: str | None = None
    title: str | None = None
    referrer: str | None = None


class PlainContext(_Plain):
    ip: str | None = None
    user_agent: str | None = None
    page: PlainPage = PlainPage()


class PlainEvent(_Plain):
    """The anchor: same top-level fields, plain types, no custom validators."""

    event_id: uuid.UUID
    event_type: str
    timestamp: datetime
    anonymous_id: str | None = None
    user_id: str | None = None
    session_id: str | None = None
    properties: dict[str, Any] = {}
    context: PlainContext = PlainContext()


def _time(functions: list[Any], rounds: int) -> list[list[float]]:
    """Per function, CPU µs per event of each round (thread CPU time, so other processes on a
    busy machine do not count); rounds interleave so caches and frequency hit both alike."""
    samples: list[list[float]] = [[] for _ in functions]
    for _ in range(rounds):
        for function, own in zip(functions, samples, strict=True):
            started = time.thread_time()
            function()
            own.append((time.thread_time() - started) * 1e6 / BATCH)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    batch = [_payload(i) for i in range(BATCH)]
    context = EventValidationContext(now=NOW, policy=TimestampPolicy())

    def ours() -> None:
        verdict = validate_batch(
            batch, kind=PayloadKind.OWNLAY_EVENT, workspace_id="acme", context=context
        )
        assert len(verdict.accepted) == BATCH, verdict.rejected[:1]

    def anchor() -> None:
        for item in batch:
            PlainEvent.model_validate(item)

    ours()  # warm caches (regexes, user-agent rules, URL splits)
    anchor()
    ours_us, anchor_us = _time([ours, anchor], args.rounds)
    median_ours, median_anchor = statistics.median(ours_us), statistics.median(anchor_us)
    print(f"validate_batch       : {median_ours:7.1f} µs/event (median of {args.rounds} batches)")
    print(f"plain pydantic anchor: {median_anchor:7.1f} µs/event")
    print(f"ratio                : {median_ours / median_anchor:7.2f}×")


if __name__ == "__main__":
    main()
