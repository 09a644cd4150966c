"""Seed 000 "Error Handling" as data: each kind of sync failure, its retries and when to alert.

| seed error type | taxonomy (http/errors.py)                         | retries                         | alert after |
|-----------------|---------------------------------------------------|---------------------------------|-------------|
| Rate Limited    | RateLimited beyond the client's own wait budget   | 3, after the server's wait ≤ 1 h | 3 failures  |
| Auth Expired    | AuthExpired, PermissionDenied                     | none: a person must re-authorise | at once     |
| API Error       | TransientError with an HTTP status, CircuitOpen   | 3, backoff 30 s, 60 s, 120 s     | 3 failures  |
| Network Error   | TransientError before any response                | 5, backoff 30 s … 480 s          | 5 failures  |
| Data Validation | a normaliser's RowError: the row is quarantined   | none: the sync goes on           | daily summary |

Two more kinds complete the table: a request the platform refuses for good (`FatalApiError`,
`PayloadTooLarge`) is not retried and alerts at once, like anything unexpected (a bug). A
"failure" is one failed sync attempt of a workspace's table, as the sync log records it; the
HTTP client's own retries inside one attempt (Retry-After, backoff) come first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from ownlay_pipelines.http.errors import (
    ApiError,
    AuthExpired,
    CircuitOpen,
    FatalApiError,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    RetryBudgetExhausted,
    TransientError,
)

MAX_RATE_LIMIT_WAIT_SECONDS = 3600.0
"""Seed 000: rate-limit backoff waits at most an hour."""
DEFAULT_RATE_LIMIT_WAIT_SECONDS = 60.0
"""Wait when a platform throttles without saying for how long."""
BACKOFF_BASE_SECONDS = 30.0
MAX_BACKOFF_SECONDS = 600.0


class FailureKind(StrEnum):
    """What went wrong with a sync attempt, in seed 000's words."""

    RATE_LIMITED = "rate_limited"
    AUTH_EXPIRED = "auth_expired"
    API_ERROR = "api_error"
    NETWORK = "network"
    REFUSED = "refused"
    UNEXPECTED = "unexpected"


@dataclass(frozen=True)
class ErrorPolicy:
    """How a kind of failure is retried and after how many consecutive failures people hear."""

    retries: int
    alert_after_failures: int
    fix: str
    """What a person does about it, quoted in the alert."""


ERROR_POLICIES: dict[FailureKind, ErrorPolicy] = {
    FailureKind.RATE_LIMITED: ErrorPolicy(
        retries=3,
        alert_after_failures=3,
        fix="the platform keeps throttling: lower the sync cadence or the pool limit",
    ),
    FailureKind.AUTH_EXPIRED: ErrorPolicy(
        retries=0,
        alert_after_failures=1,
        fix="re-authorise the connection and update its credential environment variable",
    ),
    FailureKind.API_ERROR: ErrorPolicy(
        retries=3,
        alert_after_failures=3,
        fix="the platform's API keeps failing: check its status page",
    ),
    FailureKind.NETWORK: ErrorPolicy(
        retries=5,
        alert_after_failures=5,
        fix="the platform is unreachable from the pipeline host: check DNS, proxy and egress",
    ),
    FailureKind.REFUSED: ErrorPolicy(
        retries=0,
        alert_after_failures=1,
        fix="the platform refuses the request as sent: check the connection's account settings",
    ),
    FailureKind.UNEXPECTED: ErrorPolicy(
        retries=3,
        alert_after_failures=1,
        fix="a pipeline bug: read the run's error and fix the code",
    ),
}
"""Every kind's policy; UNEXPECTED's retries are the connector assets' step RetryPolicy."""


def classify(error: BaseException) -> FailureKind:
    """The kind of failure `error` is; a budget-exhausted retry counts as its last cause."""
    if isinstance(error, RetryBudgetExhausted):
        error = error.last_error
    if isinstance(error, RateLimited):
        return FailureKind.RATE_LIMITED
    if isinstance(error, (AuthExpired, PermissionDenied)):
        return FailureKind.AUTH_EXPIRED
    if isinstance(error, TransientError):
        # The client raises TransientError without a status when no response came back at all.
        return FailureKind.NETWORK if error.status is None else FailureKind.API_ERROR
    if isinstance(error, CircuitOpen):
        return FailureKind.API_ERROR
    if isinstance(error, (FatalApiError, PayloadTooLarge)):
        return FailureKind.REFUSED
    return FailureKind.UNEXPECTED


def retry_wait_seconds(kind: FailureKind, error: BaseException, retry_number: int) -> float:
    """Seconds before retry `retry_number + 1`: the server's own wait, else exponential backoff."""
    if kind is FailureKind.RATE_LIMITED:
        cause = error.last_error if isinstance(error, RetryBudgetExhausted) else error
        wait = cause.wait_seconds if isinstance(cause, RateLimited) else None
        return min(wait or DEFAULT_RATE_LIMIT_WAIT_SECONDS, MAX_RATE_LIMIT_WAIT_SECONDS)
    return min(BACKOFF_BASE_SECONDS * 2**retry_number, MAX_BACKOFF_SECONDS)


class SyncAttemptFailed(Exception):
    """Marks a classified sync failure in an error chain, so a run sensor can read its kind.

    Its text starts with the kind (`network: meta_ads for workspace acme …`); Dagster keeps only
    class names and messages of a failed step's error chain, so the kind travels in the text.
    """

    def __init__(self, kind: FailureKind, detail: str) -> None:
        super().__init__(f"{kind.value}: {detail}")
        self.kind = kind


_KIND_VALUES = frozenset(kind.value for kind in FailureKind)
_MARKER = re.compile(rf"^(?:{SyncAttemptFailed.__name__}: )?(?P<kind>[a-z_]+): ")


def kind_from_error_chain(chain: list[tuple[str, str]]) -> FailureKind:
    """The kind a `SyncAttemptFailed` in a (class name, message) chain carries, else UNEXPECTED."""
    for class_name, message in chain:
        if class_name != SyncAttemptFailed.__name__:
            continue
        match = _MARKER.match(message)
        if match and match["kind"] in _KIND_VALUES:
            return FailureKind(match["kind"])
    return FailureKind.UNEXPECTED


def describe(error: BaseException, *, workspace_id: str, platform: str) -> str:
    """One line naming the workspace, the platform account and what failed (secrets scrubbed)."""
    account = error.account_id if isinstance(error, ApiError) else ""
    where = f"{platform} for workspace {workspace_id}" + (f", account {account}" if account else "")
    return f"{where}: {type(error).__name__}: {error}"
