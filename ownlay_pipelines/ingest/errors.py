"""The ingestion service's refusals: one exception, answered as `{"error": code, "message": …}`.

Codes follow the trusted collectors (reference/perf_reliability.md §3.1): 400 for a body that is not
JSON, 401 for a missing or unknown key, 403 for another workspace, 413 for an oversized body, 422
when no event is valid, 503 when the buffer could not commit ("retry me").
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse


class IngestError(Exception):
    """A request the service refuses; `status` and `code` say how, `message` says what to fix."""

    def __init__(self, status: int, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


async def ingest_error_response(_request: Request, error: Exception) -> JSONResponse:
    """The JSON answer to an `IngestError`."""
    assert isinstance(error, IngestError)
    return JSONResponse(
        {"error": error.code, "message": error.message, **error.details}, status_code=error.status
    )
