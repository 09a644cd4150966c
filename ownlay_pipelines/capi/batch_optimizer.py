"""Seed 002's BatchOptimizer: the next batch size of one destination, from how its batches went.

Plain Python, no I/O. The forwarder (capi/forward.py) keeps one optimizer per destination and
drain, seeds it with the batches the delivery log recorded in the last hour, and records every
batch it sends. The rule halves fast and doubles slowly:

- a *bad* batch — the platform did not answer it (retry later: 5xx, throttling, timeouts), fewer
  than `MIN_SUCCESS` of its events got a final answer, or it took `SLOW_MS` or longer (seed 002's
  "degraded" latency) — halves the size at once;
- `GROW_AFTER` *fast* batches in a row — full-size, good and answered in under `FAST_MS` — double
  it;
- anything else keeps it. The size never leaves [`minimum`, the platform's maximum].

A batch whose events the platform *rejected* one by one (a bad e-mail, an old event) was answered:
a rejection is a final answer about the event, not about the batch size.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

MIN_BATCH = 10
"""The smallest batch the optimizer shrinks to (a single event per request wastes the quota)."""
FAST_MS = 1_000.0
SLOW_MS = 5_000.0
MIN_SUCCESS = 0.9
GROW_AFTER = 2
HISTORY = 20
"""Batches kept for the throughput estimate."""


@dataclass(frozen=True)
class BatchPerformance:
    """One sent batch: its size, whether the platform answered, its latency and answered events."""

    batch_size: int
    success: bool
    latency_ms: float
    events_processed: int

    @property
    def success_rate(self) -> float:
        """Share of the batch's events that got a final answer (0 when the request failed)."""
        if not self.success or self.batch_size <= 0:
            return 0.0
        return min(1.0, self.events_processed / self.batch_size)

    @property
    def bad(self) -> bool:
        return self.success_rate < MIN_SUCCESS or self.latency_ms >= SLOW_MS


@dataclass(frozen=True)
class BatchOptimizationResult:
    """Seed 002's answer: the size before and after, the throughput change the recorded
    latencies predict (0.25 = 25 % more events per second; 0.0 when they cannot tell) and why."""

    original_batch_size: int
    optimized_batch_size: int
    estimated_throughput_improvement: float
    recommendation: str


class BatchOptimizer:
    """The batch size of one destination, adapted to its recorded latency and success rate."""

    def __init__(self, maximum: int, *, minimum: int = MIN_BATCH, initial: int | None = None):
        if maximum < 1:
            raise ValueError(f"a batch maximum must be at least 1, got {maximum}")
        self.maximum = maximum
        self.minimum = max(1, min(minimum, maximum))
        self.size = self._bounded(initial if initial is not None else maximum)
        """The size of the next batch."""
        self.history: list[BatchPerformance] = []

    @classmethod
    def from_history(
        cls, maximum: int, batches: Iterable[BatchPerformance], *, minimum: int = MIN_BATCH
    ) -> BatchOptimizer:
        """An optimizer that starts at `maximum` and already went through `batches` (oldest
        first): the failures among them shrink it, full fast ones grow it back. Short batches
        (a trickle, a drain's last batch) say nothing about the size and leave it as it is."""
        optimizer = cls(maximum, minimum=minimum)
        for batch in batches:
            optimizer.record(batch)
        return optimizer

    def record_batch_performance(
        self, batch_size: int, success: bool, latency_ms: float, events_processed: int
    ) -> BatchOptimizationResult:
        """Seed 002's entry point: record one batch and move `size` accordingly."""
        return self.record(BatchPerformance(batch_size, success, latency_ms, events_processed))

    def record(self, batch: BatchPerformance) -> BatchOptimizationResult:
        """Record `batch` and move `size` as `optimize_batch_size` says."""
        self.history = [*self.history[-(HISTORY - 1) :], batch]
        result = self.optimize_batch_size(self.size)
        self.size = result.optimized_batch_size
        return result

    def optimize_batch_size(self, current_batch_size: int) -> BatchOptimizationResult:
        """What the recorded batches say the size after `current_batch_size` should be."""
        current = self._bounded(current_batch_size)
        last = self.history[-1] if self.history else None
        recent = self.history[-GROW_AFTER:]
        if last is not None and last.bad:
            new = self._bounded(current // 2)
            why = (
                f"shrink: last batch took {last.latency_ms:.0f} ms"
                if last.success_rate >= MIN_SUCCESS
                else f"shrink: last batch answered {last.success_rate:.0%} of its events"
            )
        elif len(recent) == GROW_AFTER and all(
            not b.bad and b.latency_ms < FAST_MS and b.batch_size >= current for b in recent
        ):
            new = self._bounded(current * 2)
            why = f"grow: {GROW_AFTER} full batches answered in under {FAST_MS:.0f} ms"
        else:
            new = current
            why = "keep"
        if new == current and why != "keep":
            why = f"keep: at the {'maximum' if new == self.maximum else 'minimum'} ({why})"
        return BatchOptimizationResult(
            original_batch_size=current_batch_size,
            optimized_batch_size=new,
            estimated_throughput_improvement=self._improvement(current, new),
            recommendation=why,
        )

    def _bounded(self, size: int) -> int:
        return max(self.minimum, min(self.maximum, size))

    def _improvement(self, current: int, new: int) -> float:
        """Throughput at `new` over throughput at `current`, minus one, with latency fitted as
        fixed cost + cost per event (least squares over the successful recorded batches)."""
        points = [(b.batch_size, b.latency_ms) for b in self.history if not b.bad]
        if new == current or len({size for size, _ in points}) < 2:
            return 0.0
        n = len(points)
        mean_x = sum(x for x, _ in points) / n
        mean_y = sum(y for _, y in points) / n
        spread = sum((x - mean_x) ** 2 for x, _ in points)
        per_event = sum((x - mean_x) * (y - mean_y) for x, y in points) / spread
        fixed = mean_y - per_event * mean_x
        if per_event < 0 or fixed < 0 or per_event + fixed <= 0:
            return 0.0

        def throughput(size: int) -> float:
            return size / (fixed + per_event * size)

        return round(throughput(new) / throughput(current) - 1.0, 4)
