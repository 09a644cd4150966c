"""The rate limit's bucket table shared by worker processes: one bucket per workspace for all."""

from __future__ import annotations

from pathlib import Path

from ownlay_pipelines.ingest.rate_limit import WorkspaceRateLimiter
from ownlay_pipelines.ingest.shared_buckets import SharedBuckets


class _Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_two_limiters_on_one_table_hold_each_workspace_to_its_rate_together(tmp_path: Path):
    table = tmp_path / "buffer.sqlite.rate_limit"
    clock = _Clock(100.0)
    one = WorkspaceRateLimiter(10, monotonic=clock, shared=SharedBuckets(table, slots=4))
    other = WorkspaceRateLimiter(10, monotonic=clock, shared=SharedBuckets(table, slots=4))

    spent = [one.take("acme", 4), other.take("acme", 6), other.take("kumo", 10)]
    refused = [one.take("acme", 1), other.take("acme", 5)]
    clock.now += 0.5
    after_half_a_second = [one.take("acme", 5), other.take("acme", 1)]
    one.close()
    other.close()

    assert spent == [None, None, None]  # kumo has a bucket of its own
    assert refused == [1, 1]
    assert after_half_a_second == [None, 1]


def test_a_full_table_leaves_new_workspaces_unlimited_and_a_pre_reboot_slot_is_full(
    tmp_path: Path,
):
    table = tmp_path / "buffer.sqlite.rate_limit"
    clock = _Clock(50.0)
    limiter = WorkspaceRateLimiter(5, monotonic=clock, shared=SharedBuckets(table, slots=2))
    filled = [limiter.take(workspace, 5) for workspace in ("a", "b")]
    third = [limiter.take("c", 5), limiter.take("c", 5)]
    limiter.close()
    # After a reboot the monotonic clock starts again below the stored times.
    rebooted = WorkspaceRateLimiter(5, monotonic=_Clock(1.0), shared=SharedBuckets(table, slots=2))
    after_reboot = rebooted.take("a", 5)
    rebooted.close()

    assert filled == [None, None]
    assert third == [None, None]
    assert after_reboot is None
