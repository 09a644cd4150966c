"""Keep credentials out of error messages and logs.

Tokens travel as headers (`Authorization: Bearer …`) or query parameters (Meta's `access_token`,
also embedded in its `paging.next` URLs), so any text we build from a request or a response body
is scrubbed of the values the client sent as credentials.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import httpx

REDACTED = "***"


class Redactor:
    """Replaces every known secret value (and the credential part of `Scheme value`) in text."""

    def __init__(self, secrets: Iterable[str]) -> None:
        parts: set[str] = set()
        for secret in secrets:
            if not secret:
                continue
            parts.add(secret)
            # "Bearer abc" must also hide a bare "abc" echoed by a server.
            scheme_and_credential = secret.split(maxsplit=1)
            if len(scheme_and_credential) == 2:
                parts.add(scheme_and_credential[1])
        # Longest first, so a secret that contains another is replaced whole.
        self._secrets = sorted(parts, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        """`text` with each secret replaced by `***`."""
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text


class StripQueryFromHttpxLogs(logging.Filter):
    """Drops query strings from the URLs httpx logs at INFO, where `access_token` params would show."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite URL arguments of the record in place; never suppress the record itself."""
        if isinstance(record.args, tuple):
            record.args = tuple(
                arg.copy_with(query=None) if isinstance(arg, httpx.URL) else arg
                for arg in record.args
            )
        return True


def install_httpx_log_filter() -> None:
    """Attach StripQueryFromHttpxLogs to the `httpx` logger once per process."""
    logger = logging.getLogger("httpx")
    if not any(isinstance(existing, StripQueryFromHttpxLogs) for existing in logger.filters):
        logger.addFilter(StripQueryFromHttpxLogs())
