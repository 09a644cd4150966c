"""The ingestion service's refusals: one exception, answered as `{"error": code, "message": …}`.

Codes follow the trusted collectors (reference/perf_reliability.md §3.1): 400 for a body that is not
JSON, 401 for a missing or unknown key, 403 for another workspace (or a CORS preflight whose
origin, method or header is not allowed, `cors.py`), 408 for a large body that stalled, 413 for
an oversized body or batch, 415 for a body that is not UTF-8, 422 when no event is valid, 429
over the workspace's rate limit (with `Retry-After`), 503 when the buffer could not commit or a
large body found no turn to be read ("retry me"). Messages are one line and never quote more
than a short excerpt of the input.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Match


class IngestError(Exception):
    """A request the service refuses; `status` and `code` say how, `message` says what to fix."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        **details: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
        self.details = details


async def ingest_error_response(_request: Request, error: Exception) -> JSONResponse:
    """The JSON answer to an `IngestError`."""
    assert isinstance(error, IngestError)
    return JSONResponse(
        {"error": error.code, "message": error.message, **error.details},
        status_code=error.status,
        headers=error.headers,
    )


async def http_error_response(request: Request, error: Exception) -> JSONResponse:
    """Starlette's own refusals (no such route, another method) in the same `{"error", "message"}`
    shape as every other answer of the service, with their headers (`Allow` of a 405)."""
    assert isinstance(error, HTTPException)
    headers = error.headers
    if error.status_code == 404:
        code, message = "not_found", "no such route; /openapi.json lists the routes"
    elif error.status_code == 405:
        allowed = _allowed_methods(request)
        headers = {**(headers or {}), "Allow": allowed}
        code, message = "method_not_allowed", f"this route takes {allowed} only"
    else:
        code, message = "http_error", str(error.detail)
    return JSONResponse(
        {"error": code, "message": message}, status_code=error.status_code, headers=headers
    )


def _allowed_methods(request: Request) -> str:
    """The methods of every route at the request's path (`app.state.method_routes`), sorted:
    Starlette's 405 names only the first route's, though the LinkedIn webhook's path has a GET
    and a POST route."""
    methods: set[str] = set()
    for route in request.app.state.method_routes:
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods |= route.methods or set()
    return ", ".join(sorted(methods))
