"""One error taxonomy for every platform (reference/connectors.md §4, behaviour 4).

Each connector maps its platform's real signals (HTTP status, body codes, HTTP-200 error bodies)
onto these classes; retry, alerting and the Dagster failure policy only ever look at the class.
"""

from __future__ import annotations


class ApiError(Exception):
    """A platform call failed; `platform` and `account_id` say where, `status` is the HTTP status."""

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        platform: str = "",
        account_id: str = "",
        status: int | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.platform = platform
        self.account_id = account_id
        self.status = status
        self.code = code

    def __str__(self) -> str:
        where = "/".join(part for part in (self.platform, self.account_id) if part)
        status = f" HTTP {self.status}" if self.status is not None else ""
        code = f" code {self.code}" if self.code else ""
        prefix = f"{where}{status}{code}: " if (where or status or code) else ""
        return f"{prefix}{self.message}"


class RateLimited(ApiError):
    """The platform asked us to slow down; `wait_seconds` is its own hint (None if it gave none)."""

    retryable = True

    def __init__(self, message: str, *, wait_seconds: float | None = None, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.wait_seconds = wait_seconds


class TransientError(ApiError):
    """A server-side or network hiccup (5xx, timeout, reset) that a retry usually cures."""

    retryable = True


class AuthExpired(ApiError):
    """The token is expired or revoked; retrying cannot help, a person must re-authorise."""


class PermissionDenied(ApiError):
    """The credentials work but may not read this account, or the connection is misconfigured."""


class PayloadTooLarge(ApiError):
    """The platform refused the request's size or span; shrink it (fewer days, fields, rows)."""


class FatalApiError(ApiError):
    """Any other refusal (bad request, unknown field, malformed response); do not retry."""


class MalformedCredential(FatalApiError):
    """A credential's value has the wrong form before any call is made (a Mailchimp key without
    its `-us21` data centre). `credential` names it and `problem` says what is wrong, so the
    caller can say which environment variable to fix; neither ever holds the value."""

    def __init__(self, *, credential: str, problem: str, **kwargs) -> None:
        super().__init__(f"credential '{credential}' {problem}", **kwargs)
        self.credential = credential
        self.problem = problem


class CircuitOpen(ApiError):
    """Calls to this platform account are paused because too many failed in a row."""


class RetryBudgetExhausted(ApiError):
    """Retries ran out of attempts or of the total time budget; `last_error` is the final cause."""

    def __init__(self, message: str, *, last_error: ApiError, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.last_error = last_error
