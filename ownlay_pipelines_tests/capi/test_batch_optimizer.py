"""Seed 002's BatchOptimizer: grows on fast successful batches, shrinks on slow or failing ones,
stays within [minimum, the platform's maximum]; and the forwarder sizes its batches with it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ownlay_pipelines.capi.batch_optimizer import (
    FAST_MS,
    MIN_BATCH,
    SLOW_MS,
    BatchOptimizer,
    BatchPerformance,
)
from ownlay_pipelines.capi.destinations import CapiSettings
from ownlay_pipelines.capi.forward import drain_destination, recent_batches
from ownlay_pipelines.capi.outbox import enqueue, status_counts
from ownlay_pipelines.capi.platforms import CapiPlatform
from ownlay_pipelines.capi.senders import LIMITS, sender_for
from ownlay_pipelines.capi.wire import build_event
from ownlay_pipelines.http.clock import FakeClock
from ownlay_pipelines.http.rate_limit import RateLimit
from ownlay_pipelines.sandbox.capi import CapiSandbox
from ownlay_pipelines.sandbox.capi_conversions import sandbox_conversions, sandbox_visitors
from ownlay_pipelines_tests.capi.destinations import DESTINATIONS, ENV, NOW

WORKSPACE = "rive-gauche"


def _fast(size: int) -> BatchPerformance:
    return BatchPerformance(size, True, FAST_MS / 4, size)


def test_two_fast_full_batches_double_the_size() -> None:
    optimizer = BatchOptimizer(1_000, initial=100)
    first = optimizer.record(_fast(100))
    assert (first.optimized_batch_size, first.recommendation) == (100, "keep")
    second = optimizer.record(_fast(100))
    assert second.optimized_batch_size == optimizer.size == 200
    assert second.recommendation.startswith("grow")


def test_a_short_last_batch_is_no_reason_to_grow() -> None:
    optimizer = BatchOptimizer(1_000, initial=100)
    optimizer.record(_fast(100))
    optimizer.record(_fast(37))  # the backlog ran out: says nothing about 200
    assert optimizer.size == 100


@pytest.mark.parametrize(
    ("batch", "why"),
    [
        (BatchPerformance(400, True, SLOW_MS, 400), "took 5000 ms"),
        (BatchPerformance(400, False, 300.0, 0), "answered 0%"),
        (BatchPerformance(400, True, 300.0, 300), "answered 75%"),
    ],
)
def test_a_slow_or_failing_batch_halves_the_size(batch: BatchPerformance, why: str) -> None:
    optimizer = BatchOptimizer(1_000, initial=400)
    result = optimizer.record(batch)
    assert (result.original_batch_size, result.optimized_batch_size) == (400, 200)
    assert why in result.recommendation
    assert optimizer.size == 200


def test_rejected_events_are_answers_not_failures() -> None:
    optimizer = BatchOptimizer(1_000, initial=400)
    # success=True, every event answered (some of them rejections): not a bad batch.
    assert optimizer.record(BatchPerformance(400, True, 200.0, 400)).optimized_batch_size == 400


@pytest.mark.parametrize("platform", list(CapiPlatform))
def test_never_above_the_platform_maximum_nor_below_the_minimum(platform: CapiPlatform) -> None:
    maximum = LIMITS[platform].max_batch
    optimizer = BatchOptimizer(maximum, initial=maximum * 5)
    assert optimizer.size == maximum
    for _ in range(10):
        optimizer.record(_fast(maximum))
    assert optimizer.size == maximum
    for _ in range(20):
        optimizer.record(BatchPerformance(optimizer.size, False, 10_000.0, 0))
    assert optimizer.size == MIN_BATCH
    result = optimizer.optimize_batch_size(10**6)
    assert result.optimized_batch_size <= maximum


def test_throughput_estimate_follows_the_recorded_latencies() -> None:
    # Latency = 100 ms + 1 ms per event: 100 events/s at 100 per batch (200 ms),
    # 200 at 200 (300 ms)… so going from 200 to 400 gives 400/500 ms = 800/s vs 667/s: +20 %.
    optimizer = BatchOptimizer(1_000, initial=200)
    optimizer.history = [BatchPerformance(n, True, 100.0 + n, n) for n in (100, 200, 200)]
    result = optimizer.optimize_batch_size(200)
    assert result.optimized_batch_size == 400
    assert result.estimated_throughput_improvement == pytest.approx(0.2, abs=1e-4)
    # One size only: no estimate.
    assert BatchOptimizer(1_000).optimize_batch_size(500).estimated_throughput_improvement == 0.0


def test_from_history_replays_the_logged_batches_from_the_maximum() -> None:
    # A trickle of small fast batches leaves a burst its full batch size.
    assert BatchOptimizer.from_history(1_000, [_fast(5)] * 10).size == 1_000
    failed = BatchPerformance(1_000, False, 10_000.0, 0)
    assert BatchOptimizer.from_history(1_000, [failed]).size == 500
    assert BatchOptimizer.from_history(1_000, [failed, _fast(500), _fast(500)]).size == 1_000
    slow = BatchPerformance(500, True, SLOW_MS + 1, 500)
    assert BatchOptimizer.from_history(1_000, [failed, slow, _fast(250)]).size == 250
    assert BatchOptimizer.from_history(1_000, []).size == 1_000


def test_the_forwarder_shrinks_on_failures_and_starts_from_the_logged_batches(store) -> None:
    meta = DESTINATIONS[0]
    settings = CapiSettings(default_region="FR", destinations=(meta,))
    visitors = sandbox_visitors(20, "FR")
    conversions = sandbox_conversions(
        WORKSPACE, visitors, 100, start=NOW - timedelta(hours=3), currency="EUR",
        consent_share=1.0,
    )  # fmt: skip
    enqueue(store, WORKSPACE, settings, conversions, now=NOW)
    sandbox = CapiSandbox([v.person for v in visitors])
    sandbox.fail_next["graph.facebook.com"] = [503] * 4  # the first batch's four attempts
    clock = FakeClock(NOW)
    sender = sender_for(
        meta, transport=sandbox.transport(), clock=clock, environ=ENV,
        event_limit=RateLimit(10**9, 1.0),
    )  # fmt: skip
    optimizer = BatchOptimizer(sender.max_batch, initial=40)
    first = drain_destination(
        store, WORKSPACE, settings, meta, sender, now=clock.now, optimizer=optimizer,
        max_batches=2,
    )  # fmt: skip
    # Batch 1 (40 events) failed: retry later, size halves to 20 for batch 2, which succeeds.
    assert first.batch_sizes == [40, 20]
    assert (first.retry_later, first.accepted) == (40, 20)
    metadata = first.as_metadata()
    assert (metadata["batch_size"], metadata["batch_size_min"], metadata["batch_size_max"]) == (
        20,
        20,
        40,
    )
    logged = recent_batches(store, WORKSPACE, meta.id, now=clock.now())
    assert [(b.batch_size, b.success, b.events_processed) for b in logged] == [
        (40, False, 0),
        (20, True, 20),
    ]

    # A later drain (a new run) replays the logged batches from the maximum: the failed batch
    # halves it, the short successful one leaves it.
    clock.advance(120)
    second = drain_destination(store, WORKSPACE, settings, meta, sender, now=clock.now)
    assert second.batch_sizes[0] == sender.max_batch // 2
    assert status_counts(store, WORKSPACE, meta.id) == {"accepted": 100}
    assert second.batch_size <= sender.max_batch


def test_waiting_for_the_event_budget_is_not_platform_latency() -> None:
    # Seed 002's Meta budget is 1,000 events a minute: a second full batch waits ~60 s here,
    # which must neither shrink the batches nor make the destination look slow.
    meta = DESTINATIONS[0]
    visitors = sandbox_visitors(5, "FR")
    conversions = sandbox_conversions(
        WORKSPACE, visitors, 30, start=NOW - timedelta(hours=1), currency="EUR",
        consent_share=1.0,
    )  # fmt: skip
    events = [build_event(c, meta, "Purchase", default_region="FR", now=NOW) for c in conversions]
    clock = FakeClock(NOW)
    sender = sender_for(
        meta, transport=CapiSandbox().transport(), clock=clock, environ=ENV,
        event_limit=RateLimit(10, 60.0),
    )  # fmt: skip
    result = sender.send(events)  # 30 events, 10 in the bucket: 20 more take 120 s
    assert result.waited_ms == pytest.approx(120_000.0)
    assert result.latency_ms < FAST_MS
    optimizer = BatchOptimizer(sender.max_batch, initial=30)
    answered = sum(r.status is not None for r in result.results)
    optimizer.record_batch_performance(30, answered > 0, result.latency_ms, answered)
    assert optimizer.size == 30


def test_events_refused_locally_do_not_make_a_full_batch_look_short(store) -> None:
    meta = DESTINATIONS[0]
    settings = CapiSettings(default_region="FR", destinations=(meta,))
    visitors = sandbox_visitors(20, "FR")
    # A minute apart from 7 days and 10 minutes ago: the first 10 are too old for Meta.
    conversions = sandbox_conversions(
        WORKSPACE, visitors, 100, start=NOW - timedelta(days=7, minutes=10), currency="EUR",
        consent_share=1.0,
    )  # fmt: skip
    enqueue(store, WORKSPACE, settings, conversions, now=NOW)
    clock = FakeClock(NOW)
    sender = sender_for(
        meta, transport=CapiSandbox().transport(), clock=clock, environ=ENV,
        event_limit=RateLimit(10**9, 1.0),
    )  # fmt: skip
    report = drain_destination(
        store, WORKSPACE, settings, meta, sender, now=clock.now,
        optimizer=BatchOptimizer(sender.max_batch, initial=20),
    )  # fmt: skip
    assert report.rejected_by_reason == {"event_too_old": 10}
    assert report.accepted == 90
    assert report.batch_sizes == [20, 20, 40, 40]  # the first batch (10 refused) counted full
