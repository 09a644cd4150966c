"""How a connector error ends a Dagster step: `orchestration/error_policy.py` mapped onto Dagster.

- rate limited beyond the client's own wait budget → `RetryRequested` after the server's wait
  when it is short (at most `MAX_IN_RUN_WAIT_SECONDS`), up to 3 times; a longer wait fails the
  run at once (`Failure`, no step retry) so the run ends and stops holding its workspace's models
  back — the next schedule tick syncs the same days again, after the wait;
- auth expired or permission denied → `Failure` without retry, naming workspace and account;
- API error → `RetryRequested` 3 times with exponential backoff (30 s, 60 s, 120 s);
- network error → `RetryRequested` 5 times with the same backoff;
- a request the platform refuses for good → `Failure` without retry;
- anything else is a bug: it propagates as is and the asset's `CONNECTOR_RETRY_POLICY` applies.

Each outcome is raised from a `SyncAttemptFailed` naming its kind, which the run-failure sensor
reads back to decide when to alert.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from ownlay_pipelines.orchestration.error_policy import (
    ERROR_POLICIES,
    FailureKind,
    SyncAttemptFailed,
    classify,
    describe,
    retry_wait_seconds,
)

CONNECTOR_RETRY_POLICY = dg.RetryPolicy(
    max_retries=ERROR_POLICIES[FailureKind.UNEXPECTED].retries,
    delay=30,
    backoff=dg.Backoff.EXPONENTIAL,
    jitter=dg.Jitter.PLUS_MINUS,
)
"""Step retries for errors outside the taxonomy (a full disk, a bug that may be transient)."""

FAILURE_KIND_METADATA = "failure_kind"
MAX_IN_RUN_WAIT_SECONDS = 120.0
"""A rate-limit wait up to this is slept inside the run (as a step retry); a longer one would
keep the run unfinished for up to an hour, and the models sensor waits for a workspace's
unfinished syncs, so the run fails instead and the planner's next tick (15 min) retries."""


def failure_outcome(
    error: Exception, *, workspace_id: str, platform: str, retry_number: int
) -> dg.Failure | dg.RetryRequested | None:
    """The Dagster outcome for `error` on attempt `retry_number` (0 = first); None = re-raise."""
    kind = classify(error)
    if kind is FailureKind.UNEXPECTED:
        return None
    policy = ERROR_POLICIES[kind]
    if policy.retries == 0:
        return dg.Failure(
            description=f"{describe(error, workspace_id=workspace_id, platform=platform)}. "
            f"Fix: {policy.fix}",
            metadata={
                "workspace_id": workspace_id,
                "platform": platform,
                "error_class": type(error).__name__,
                FAILURE_KIND_METADATA: kind.value,
            },
            allow_retries=False,
        )
    wait = retry_wait_seconds(kind, error, retry_number)
    if kind is FailureKind.RATE_LIMITED and wait > MAX_IN_RUN_WAIT_SECONDS:
        return dg.Failure(
            description=f"{describe(error, workspace_id=workspace_id, platform=platform)}. "
            f"The platform asks to wait {wait:.0f} s: this run ends now so it does not hold "
            "the workspace's models; the next scheduled sync retries these days.",
            metadata={
                "workspace_id": workspace_id,
                "platform": platform,
                "retry_after_seconds": wait,
                FAILURE_KIND_METADATA: kind.value,
            },
            allow_retries=False,
        )
    return dg.RetryRequested(max_retries=policy.retries, seconds_to_wait=wait)


@contextmanager
def connector_failure_policy(
    workspace_id: str, platform: str, *, retry_number: int | None = None
) -> Iterator[None]:
    """Turn a taxonomy error raised inside into the policy's Dagster outcome for one sync.

    `retry_number` defaults to the running step's (0 outside a Dagster step).
    """
    try:
        yield
    except Exception as error:
        attempt = _current_retry_number() if retry_number is None else retry_number
        outcome = failure_outcome(
            error, workspace_id=workspace_id, platform=platform, retry_number=attempt
        )
        if outcome is None:
            raise
        marker = SyncAttemptFailed(
            classify(error), describe(error, workspace_id=workspace_id, platform=platform)
        )
        marker.__cause__ = error
        raise outcome from marker


def _current_retry_number() -> int:
    try:
        return dg.OpExecutionContext.get().retry_number
    except dg.DagsterInvariantViolationError:
        return 0
