"""How a connector error ends a Dagster step (seed 000 "Error Handling" mapped onto Dagster).

- rate limited beyond the client's own retry budget → `RetryRequested` after the server's wait
  (at most one hour), up to 3 times;
- token expired or permission/config problem → `Failure` without retry, naming the workspace and
  connection so a person can re-authorise;
- transient/API errors that exhausted the client's retries → re-raised for the asset's
  `RetryPolicy` (3 retries with exponential backoff);
- anything else is a bug and fails the step as is.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from ownlay_pipelines.http.errors import (
    AuthExpired,
    FatalApiError,
    PermissionDenied,
    RateLimited,
    RetryBudgetExhausted,
)

MAX_RATE_LIMIT_WAIT_SECONDS = 3600.0
RATE_LIMIT_RETRIES = 3
DEFAULT_RATE_LIMIT_WAIT_SECONDS = 60.0

CONNECTOR_RETRY_POLICY = dg.RetryPolicy(
    max_retries=3, delay=30, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)
"""Step retries for API errors that outlived the HTTP client's own retries."""


@contextmanager
def connector_failure_policy(workspace_id: str, platform: str) -> Iterator[None]:
    """Translate the error taxonomy into Dagster's retry/failure outcomes for one workspace sync."""
    try:
        yield
    except (AuthExpired, PermissionDenied) as error:
        raise dg.Failure(
            description=(
                f"{platform} for workspace {workspace_id}, account {error.account_id}: "
                f"{type(error).__name__}: {error.message}"
            ),
            metadata={
                "workspace_id": workspace_id,
                "platform": platform,
                "error_class": type(error).__name__,
            },
            allow_retries=False,
        ) from error
    except RetryBudgetExhausted as error:
        cause = error.last_error
        if isinstance(cause, RateLimited):
            wait = min(
                cause.wait_seconds or DEFAULT_RATE_LIMIT_WAIT_SECONDS, MAX_RATE_LIMIT_WAIT_SECONDS
            )
            raise dg.RetryRequested(max_retries=RATE_LIMIT_RETRIES, seconds_to_wait=wait) from error
        raise
    except FatalApiError as error:
        raise dg.Failure(
            description=f"{platform} for workspace {workspace_id}: {error}",
            allow_retries=False,
        ) from error
