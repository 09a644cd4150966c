"""Discord webhooks: alert embeds within Discord's limits, 429 handling and a circuit breaker.

Limits and rate-limit semantics from reference/analytics.md §3.7: ≤10 embeds and ≤6000 embed
characters per message, title 256, description 4096, ≤25 fields of name 256 / value 1024 (alert
embeds use four), footer 2048. A 429 carries `retry_after` (seconds) in its body; 10 000 invalid
requests in 10 minutes get the caller banned, so a webhook that keeps failing is left alone for a
cool-down.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from ownlay_pipelines.http.circuit_breaker import CircuitBreaker
from ownlay_pipelines.http.clock import Clock as HttpClock
from ownlay_pipelines.http.clock import SystemClock
from ownlay_pipelines.http.errors import (
    ApiError,
    CircuitOpen,
    FatalApiError,
    PermissionDenied,
    RateLimited,
    TransientError,
)
from ownlay_pipelines.http.retry import retry_after_seconds
from ownlay_pipelines.watchtower.redact import redact_logger, redact_secrets

TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
EMBEDS_PER_MESSAGE = 10
EMBED_CHARS_PER_MESSAGE = 6000

SEVERITY_COLORS = {"critical": 0xE74C3C, "warning": 0xF1C40F, "info": 0x3498DB}


@dataclass(frozen=True)
class AlertNotice:
    """What a notification says about one alert."""

    alert_id: str
    rule_id: str
    rule_name: str
    severity: str
    message: str
    client_id: str | None
    entity: dict[str, str | None]
    entity_key: str | None
    current_value: str | None
    previous_value: str | None
    created_at: datetime


def truncate(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, ending in an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _field(name: str, value: str | None, *, inline: bool = True) -> dict[str, Any]:
    return {
        "name": truncate(name, FIELD_NAME_LIMIT),
        "value": truncate(value or "—", FIELD_VALUE_LIMIT),
        "inline": inline,
    }


def alert_embed(notice: AlertNotice) -> dict[str, Any]:
    """One embed for one alert: severity colour, message, values and entity."""
    labels = ", ".join(f"{k}={v}" for k, v in notice.entity.items() if v is not None)
    return {
        "title": truncate(f"[{notice.severity.upper()}] {notice.rule_name}", TITLE_LIMIT),
        "description": truncate(notice.message, DESCRIPTION_LIMIT),
        "color": SEVERITY_COLORS.get(notice.severity, SEVERITY_COLORS["info"]),
        "timestamp": notice.created_at.isoformat(),
        "fields": [
            _field("Client", notice.client_id),
            _field("Now", notice.current_value),
            _field("Before", notice.previous_value),
            _field("Entity", labels, inline=False),
        ],
        "footer": {"text": truncate(f"watchtower alert {notice.alert_id}", FOOTER_LIMIT)},
    }


def digest_embed(title: str, severity: str, lines: Sequence[str], summary: str) -> dict[str, Any]:
    """One embed listing digest lines; lines past the description limit become "… and N more"."""
    kept: list[str] = []
    used = len(summary) + 2
    for index, line in enumerate(lines):
        line = truncate(line, FIELD_VALUE_LIMIT)
        rest = f"… and {len(lines) - index} more"
        if used + len(line) + 1 + len(rest) + 1 > DESCRIPTION_LIMIT:
            kept.append(rest)
            break
        kept.append(line)
        used += len(line) + 1
    return {
        "title": truncate(title, TITLE_LIMIT),
        "description": truncate("\n".join([summary, "", *kept]), DESCRIPTION_LIMIT),
        "color": SEVERITY_COLORS.get(severity, SEVERITY_COLORS["info"]),
    }


def embed_chars(embed: dict[str, Any]) -> int:
    """Characters Discord counts toward the 6000 per-message total."""
    total = len(embed.get("title", "")) + len(embed.get("description", ""))
    total += len(embed.get("footer", {}).get("text", ""))
    total += len(embed.get("author", {}).get("name", ""))
    return total + sum(len(f["name"]) + len(f["value"]) for f in embed.get("fields", []))


def pack_messages(embeds: Sequence[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Embeds split into messages of at most 10 embeds and 6000 embed characters each."""
    messages: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    chars = 0
    for embed in embeds:
        size = embed_chars(embed)
        if current and (
            len(current) == EMBEDS_PER_MESSAGE or chars + size > EMBED_CHARS_PER_MESSAGE
        ):
            messages.append(current)
            current, chars = [], 0
        current.append(embed)
        chars += size
    if current:
        messages.append(current)
    return messages


class DiscordWebhook:
    """Posts messages to one Discord webhook; the URL (it holds a token) never appears in errors.

    Uses the HTTP core's circuit breaker and clock; every failure counts towards the breaker,
    because Discord counts 401/403/404/429 answers towards its ban as much as server errors.
    """

    def __init__(
        self,
        url: str,
        *,
        transport: httpx.BaseTransport | None = None,
        clock: HttpClock | None = None,
        breaker: CircuitBreaker | None = None,
        max_rate_limit_waits: int = 3,
        max_wait_seconds: float = 30.0,
    ) -> None:
        # httpx logs every request URL at INFO, and a webhook URL carries its token in the path.
        redact_logger("httpx")
        self._url = url
        self._clock = clock if clock is not None else SystemClock()
        self._breaker = breaker or CircuitBreaker(
            failure_threshold=3, reset_seconds=300.0, clock=self._clock
        )
        self._http = httpx.Client(transport=transport, timeout=10.0)
        self._max_rate_limit_waits = max_rate_limit_waits
        self._max_wait_seconds = max_wait_seconds

    @property
    def name(self) -> str:
        """The webhook URL with its token masked, for logs and errors."""
        return redact_secrets(self._url)

    def post(self, embeds: Sequence[dict[str, Any]]) -> None:
        """Post one message; waits out short 429s, raises an ApiError subclass on failure."""
        try:
            self._breaker.before_call()
        except CircuitOpen as exc:
            raise CircuitOpen(f"Discord webhook {self.name}: {exc}", platform="discord") from None
        try:
            self._post_with_waits({"embeds": list(embeds), "allowed_mentions": {"parse": []}})
        except ApiError:
            self._breaker.record_failure()
            raise
        self._breaker.record_success()

    def _post_with_waits(self, payload: dict[str, Any]) -> None:
        for attempt in range(self._max_rate_limit_waits + 1):
            try:
                response = self._http.post(self._url, params={"wait": "true"}, json=payload)
            except httpx.TransportError as exc:
                raise TransientError(
                    f"Discord webhook {self.name} unreachable: {type(exc).__name__}",
                    platform="discord",
                ) from None
            if response.is_success:
                return
            if response.status_code != 429:
                raise self._error(response)
            wait = self._retry_after(response)
            if wait > self._max_wait_seconds or attempt == self._max_rate_limit_waits:
                break
            self._clock.sleep(wait)
        raise RateLimited(
            f"Discord webhook {self.name} is rate limited (retry_after {wait:g}s)",
            platform="discord",
            status=429,
            wait_seconds=wait,
        )

    def _retry_after(self, response: httpx.Response) -> float:
        """Discord puts `retry_after` (seconds) in the body; the header is the fallback."""
        body = _json_object(response)
        if isinstance(body.get("retry_after"), int | float):
            return max(0.0, float(body["retry_after"]))
        header = retry_after_seconds(response.headers.get("Retry-After"), self._clock.now())
        return 1.0 if header is None else header

    def _error(self, response: httpx.Response) -> ApiError:
        status = response.status_code
        body = _json_object(response)
        detail = redact_secrets(f"HTTP {status} code {body.get('code')}: {body.get('message')}")
        if status >= 500:
            return TransientError(
                f"Discord webhook {self.name} server error: {detail}",
                platform="discord",
                status=status,
            )
        if status in (401, 403, 404):
            return PermissionDenied(
                f"Discord webhook {self.name} refused the post ({detail}); it was deleted or its "
                "token is wrong: update OWNLAY_DISCORD_WEBHOOK_URL*",
                platform="discord",
                status=status,
            )
        return FatalApiError(
            f"Discord webhook {self.name} rejected the message: {detail}",
            platform="discord",
            status=status,
        )


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
