"""Redaction of secrets (webhook tokens, passwords, API keys) before text is logged or stored."""

from __future__ import annotations

import logging
import re

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Discord webhook URLs carry their token in the path: /api/webhooks/{id}/{token}.
    (re.compile(r"(/api/webhooks/[^/\s]+/)[^/\s?#\"']+"), r"\1***"),
    # user:password@host in connection URLs.
    (re.compile(r"(://[^:/@\s]+:)[^@\s]+@"), r"\1***@"),
    (re.compile(r"(?i)\b(bearer\s+)[\w.~+/=-]+"), r"\1***"),
    (
        re.compile(
            r"(?i)\b(access_token|api[_-]?key|token|password|passwd|secret|apikey)"
            r"([\"']?\s*[=:]\s*[\"']?)[^\s&\"',;]+"
        ),
        r"\1\2***",
    ),
)


def redact_secrets(text: str) -> str:
    """`text` with webhook tokens, URL passwords, bearer tokens and key=value secrets masked."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Masks secrets in every record of the logger it is attached to (httpx logs full URLs)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_secrets(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


def redact_logger(name: str) -> None:
    """Attach one RedactingFilter to logger `name` (idempotent)."""
    logger = logging.getLogger(name)
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())
