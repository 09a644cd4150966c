from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from ownlay_pipelines.http.async_jobs import (
    AsyncJobStats,
    JobPolicy,
    JobStatus,
    ReportJobFailed,
    run_report_job,
)
from ownlay_pipelines.http.clock import FakeClock
from ownlay_pipelines.schema.date_range import DateRange

JAN_1_TO_4 = DateRange(date(2026, 1, 1), date(2026, 1, 4))
COMPLETED = JobStatus("completed", 100.0)
FAILED = JobStatus("failed", 37.0, "Job Failed")


class ScriptedReportJob:
    """A report-job API whose n-th created job walks through the n-th status script.

    The last status of a script repeats, as does the last script.
    """

    def __init__(self, *scripts: list[JobStatus]) -> None:
        self._scripts = list(scripts)
        self._jobs: dict[str, tuple[DateRange, list[JobStatus]]] = {}
        self.created: list[DateRange] = []

    def create(self, date_range: DateRange) -> str:
        script = self._scripts.pop(0) if len(self._scripts) > 1 else self._scripts[0]
        self.created.append(date_range)
        job_id = f"report_run_{len(self.created)}"
        self._jobs[job_id] = (date_range, list(script))
        return job_id

    def poll(self, job_id: str) -> JobStatus:
        statuses = self._jobs[job_id][1]
        return statuses.pop(0) if len(statuses) > 1 else statuses[0]

    def fetch(self, job_id: str) -> Iterator[dict[str, Any]]:
        date_range, statuses = self._jobs[job_id]
        assert statuses[0].state == "completed", "fetched a job that had not completed"
        for day in date_range:
            yield {"date_start": day.isoformat(), "spend": "12.50"}


def _days(rows: list[dict[str, Any]]) -> list[str]:
    return [row["date_start"] for row in rows]


def test_completed_job_is_fetched_after_polls_at_doubling_intervals(clock: FakeClock) -> None:
    job = ScriptedReportJob([JobStatus("running", 10.0), JobStatus("running", 60.0), COMPLETED])
    stats = AsyncJobStats()

    rows = list(run_report_job(job, JAN_1_TO_4, clock=clock, stats=stats))

    assert _days(rows) == ["2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04"]
    assert clock.sleeps == [2.0, 4.0, 8.0]
    assert stats.as_metadata() == {
        "report_jobs_created": 1,
        "report_job_polls": 3,
        "report_job_splits": 0,
        "report_job_wait_seconds": 14.0,
    }


def test_running_at_100_percent_is_polled_until_completed_with_the_interval_capped(
    clock: FakeClock,
) -> None:
    at_100 = JobStatus("running", 100.0, "Job Running")
    job = ScriptedReportJob([JobStatus("pending", 0.0), *[at_100] * 6, COMPLETED])

    rows = list(run_report_job(job, JAN_1_TO_4, clock=clock))

    assert len(rows) == 4
    assert clock.sleeps == [2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0, 30.0]
    assert job.created == [JAN_1_TO_4]


def test_job_stuck_at_the_same_percent_is_abandoned_and_created_again(clock: FakeClock) -> None:
    job = ScriptedReportJob([JobStatus("running", 0.0)], [COMPLETED])
    stats = AsyncJobStats()

    rows = list(
        run_report_job(
            job, JAN_1_TO_4, clock=clock, policy=JobPolicy(stall_seconds=60.0), stats=stats
        )
    )

    assert len(rows) == 4
    assert job.created == [JAN_1_TO_4, JAN_1_TO_4]
    # 0% first seen at t=2 s; still 0% at t=90 s, 88 s later (>= 60 s): give up, new job.
    assert clock.sleeps == [2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 2.0]
    assert (stats.jobs_created, stats.polls, stats.splits) == (2, 7, 0)


def test_job_still_moving_after_the_timeout_is_created_again(clock: FakeClock) -> None:
    creeping = [JobStatus("running", float(percent)) for percent in range(1, 50)]
    job = ScriptedReportJob(creeping, [COMPLETED])

    list(run_report_job(job, JAN_1_TO_4, clock=clock, policy=JobPolicy(timeout_seconds=20.0)))

    assert job.created == [JAN_1_TO_4, JAN_1_TO_4]
    assert clock.sleeps == [2.0, 4.0, 8.0, 16.0, 2.0]


def test_skipped_job_is_created_again(clock: FakeClock) -> None:
    job = ScriptedReportJob([JobStatus("skipped", detail="Job Skipped")], [COMPLETED])

    assert len(list(run_report_job(job, JAN_1_TO_4, clock=clock))) == 4
    assert job.created == [JAN_1_TO_4, JAN_1_TO_4]


def test_range_that_fails_twice_is_split_into_halves(clock: FakeClock) -> None:
    job = ScriptedReportJob([FAILED], [FAILED], [COMPLETED], [COMPLETED])
    stats = AsyncJobStats()

    rows = list(run_report_job(job, JAN_1_TO_4, clock=clock, stats=stats))

    assert job.created == [
        JAN_1_TO_4,
        JAN_1_TO_4,
        DateRange(date(2026, 1, 1), date(2026, 1, 2)),
        DateRange(date(2026, 1, 3), date(2026, 1, 4)),
    ]
    assert _days(rows) == ["2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04"]
    assert stats.splits == 1


def test_one_day_range_that_keeps_failing_raises_naming_the_range_and_state(
    clock: FakeClock,
) -> None:
    job = ScriptedReportJob([FAILED])
    jan_5 = DateRange.single(date(2026, 1, 5))

    with pytest.raises(ReportJobFailed) as raised:
        list(run_report_job(job, jan_5, clock=clock))

    assert str(raised.value) == (
        "report job for 2026-01-05..2026-01-05 did not complete in 2 attempts; "
        "last state failed at 37%: Job Failed"
    )
    assert raised.value.retryable
    assert job.created == [jan_5, jan_5]


def test_a_failing_later_half_raises_after_the_earlier_half_was_yielded(clock: FakeClock) -> None:
    jan_1_to_2 = DateRange(date(2026, 1, 1), date(2026, 1, 2))
    job = ScriptedReportJob([FAILED], [FAILED], [COMPLETED], [FAILED])
    rows: list[dict[str, Any]] = []

    with pytest.raises(ReportJobFailed, match=r"2026-01-02\.\.2026-01-02"):
        rows.extend(run_report_job(job, jan_1_to_2, clock=clock))

    assert _days(rows) == ["2026-01-01"]
    assert job.created[2:] == [
        DateRange.single(date(2026, 1, 1)),
        DateRange.single(date(2026, 1, 2)),
        DateRange.single(date(2026, 1, 2)),
    ]
