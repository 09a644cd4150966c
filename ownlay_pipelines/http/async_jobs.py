"""Run a platform's asynchronous report job to completion, retrying and splitting what fails.

Meta AdReportRuns and TikTok report tasks are created, polled and then fetched. Jobs fail, get
skipped, or sit at the same percentage for ever (reference/connectors.md §1.1, §4 behaviour 7), so
a job that does not finish is re-created, and a range that keeps failing is halved until each day
either succeeds or is reported as failed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol

from ownlay_pipelines.http.clock import Clock
from ownlay_pipelines.http.errors import TransientError
from ownlay_pipelines.schema.date_range import DateRange

JobState = Literal["pending", "running", "completed", "failed", "skipped"]


@dataclass(frozen=True)
class JobStatus:
    """A job's state as last polled; `percent` is the platform's progress figure when it gives one.

    Connectors map platform states onto these five; Meta's "Job Running" at 100% is still
    `running` — only an explicit completion is `completed`.
    """

    state: JobState
    percent: float | None = None
    detail: str = ""


class ReportJob(Protocol):
    """One platform's report-job endpoints for one account and one report definition."""

    def create(self, date_range: DateRange) -> str:
        """Start a job for `date_range` and return its id."""
        ...

    def poll(self, job_id: str) -> JobStatus:
        """The job's current status."""
        ...

    def fetch(self, job_id: str) -> Iterator[dict[str, Any]]:
        """The rows of a completed job."""
        ...


@dataclass(frozen=True)
class JobPolicy:
    """How patiently to poll, when a job counts as stuck, and how often to retry before splitting."""

    poll_initial_seconds: float = 2.0
    poll_max_seconds: float = 30.0
    stall_seconds: float = 600.0
    timeout_seconds: float = 3600.0
    attempts_per_range: int = 2

    def __post_init__(self) -> None:
        if self.attempts_per_range < 1:
            raise ValueError(
                f"attempts_per_range must be at least 1, got {self.attempts_per_range}"
            )


@dataclass
class AsyncJobStats:
    """What running report jobs cost: jobs created, polls made, range splits, seconds slept."""

    jobs_created: int = 0
    polls: int = 0
    splits: int = 0
    wait_seconds: float = 0.0

    def as_metadata(self) -> dict[str, int | float]:
        """Flat `report_job_*` counters for Dagster materialization metadata."""
        return {
            "report_jobs_created": self.jobs_created,
            "report_job_polls": self.polls,
            "report_job_splits": self.splits,
            "report_job_wait_seconds": round(self.wait_seconds, 3),
        }


DEFAULT_JOB_POLICY = JobPolicy()


class ReportJobFailed(TransientError):
    """A one-day report job kept failing after every retry; a later run may still succeed."""


def run_report_job(
    job: ReportJob,
    date_range: DateRange,
    *,
    clock: Clock,
    policy: JobPolicy = DEFAULT_JOB_POLICY,
    stats: AsyncJobStats | None = None,
) -> Iterator[dict[str, Any]]:
    """The rows of `date_range`, from one job or, when jobs keep failing, from jobs on its halves.

    Rows of an earlier half may already have been yielded when a later half raises
    ReportJobFailed, so callers write nothing until the iterator is exhausted. Pass `stats` to
    read the counters afterwards.
    """
    stats = stats if stats is not None else AsyncJobStats()
    yield from _run_range(job, date_range, clock, policy, stats)


def _run_range(
    job: ReportJob, date_range: DateRange, clock: Clock, policy: JobPolicy, stats: AsyncJobStats
) -> Iterator[dict[str, Any]]:
    last_status = JobStatus("pending")
    for _ in range(policy.attempts_per_range):
        job_id = job.create(date_range)
        stats.jobs_created += 1
        last_status = _wait_for_job(job, job_id, clock, policy, stats)
        if last_status.state == "completed":
            yield from job.fetch(job_id)
            return
    if date_range.days == 1:
        percent = "" if last_status.percent is None else f" at {last_status.percent:g}%"
        raise ReportJobFailed(
            f"report job for {date_range} did not complete in {policy.attempts_per_range} "
            f"attempts; last state {last_status.state}{percent}: {last_status.detail or '-'}"
        )
    stats.splits += 1
    for half in date_range.split():
        yield from _run_range(job, half, clock, policy, stats)


def _wait_for_job(
    job: ReportJob, job_id: str, clock: Clock, policy: JobPolicy, stats: AsyncJobStats
) -> JobStatus:
    """Poll until the job completes or is given up on; the returned status says which and why."""
    started = clock.monotonic()
    last_progress_at = started
    interval = policy.poll_initial_seconds
    status = JobStatus("pending")
    while True:
        clock.sleep(interval)
        stats.wait_seconds += interval
        previous_percent = status.percent
        status = job.poll(job_id)
        stats.polls += 1
        if status.state in ("completed", "failed", "skipped"):
            return status
        now = clock.monotonic()
        if status.percent != previous_percent:
            last_progress_at = now
        elif now - last_progress_at >= policy.stall_seconds:
            return replace(status, detail=f"no progress for {now - last_progress_at:g} s")
        if now - started >= policy.timeout_seconds:
            return replace(status, detail=f"still {status.state} after {now - started:g} s")
        interval = min(interval * 2, policy.poll_max_seconds)
