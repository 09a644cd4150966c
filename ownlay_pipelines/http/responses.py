"""What a platform response means before any platform-specific reading: status, body, summary."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx

from ownlay_pipelines.http.errors import (
    ApiError,
    AuthExpired,
    FatalApiError,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    TransientError,
)
from ownlay_pipelines.http.retry import retry_after_seconds

_BODY_EXCERPT_CHARS = 300
_ERROR_CLASS_BY_STATUS: dict[int, type[ApiError]] = {
    401: AuthExpired,
    403: PermissionDenied,
    408: TransientError,
    413: PayloadTooLarge,
}


def describe_response(response: httpx.Response) -> str:
    """`METHOD /path: <start of body>` for error messages; the query string is left out (tokens)."""
    body = " ".join(response.text.split())[:_BODY_EXCERPT_CHARS]
    return f"{response.request.method} {response.request.url.path}: {body or '(empty body)'}"


def classify_status(response: httpx.Response, now: datetime) -> ApiError | None:
    """The taxonomy error an HTTP status means (None for 2xx); `now` dates a Retry-After.

    429 is RateLimited (with the Retry-After wait), 401 AuthExpired, 403 PermissionDenied, 413
    PayloadTooLarge, 408 and 5xx TransientError, anything else FatalApiError.
    """
    status = response.status_code
    if response.is_success:
        return None
    message = describe_response(response)
    if status == 429:
        wait_seconds = retry_after_seconds(response.headers.get("Retry-After"), now)
        return RateLimited(message, status=status, wait_seconds=wait_seconds)
    error_class = _ERROR_CLASS_BY_STATUS.get(status)
    if error_class is None:
        error_class = TransientError if status >= 500 else FatalApiError
    return error_class(message, status=status)


def parse_json_body(response: httpx.Response) -> Any:
    """The body parsed as JSON; a body that does not parse is a TransientError (a truncated page)."""
    try:
        return response.json()
    except ValueError as exc:
        raise TransientError(
            f"{response.request.method} {response.request.url.path}: body is not JSON "
            f"({type(exc).__name__}), probably cut off in transit",
            status=response.status_code,
        ) from exc


def json_object(response: httpx.Response) -> Mapping[str, Any]:
    """The body as a JSON object, for reading a platform's error fields; empty when the body is
    not JSON or not an object (then the HTTP status alone decides)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, Mapping) else {}


def error_object(response: httpx.Response) -> Mapping[str, Any] | None:
    """The `{"error": {...}}` object Graph-style and Google-style APIs put in a failed body.

    None when the body is not JSON or has no such object (then the HTTP status alone decides).
    """
    error = json_object(response).get("error")
    return error if isinstance(error, Mapping) else None


def with_platform_detail(error: ApiError, message: object, code: object) -> ApiError:
    """`error`, classified by HTTP status, carrying the platform's own message (when it gave
    one) and error code from the body instead of the status line."""
    error.message = str(message or error.message)
    error.code = str(code or "") or None
    return error
