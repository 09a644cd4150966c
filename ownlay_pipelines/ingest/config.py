"""Settings of the ingestion service, read once from `OWNLAY_*` environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from ownlay_pipelines.cli_support import Refusal
from ownlay_pipelines.events.layout import DEFAULT_RAW_EVENT_RETENTION_DAYS
from ownlay_pipelines.events.model import TimestampPolicy
from ownlay_pipelines.ingest.cors import CORS_ORIGINS_VARIABLE, canonical_origin
from ownlay_pipelines.settings import Settings
from ownlay_pipelines.watchtower.store import database_url_from_env

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
"""1 MiB: twice Segment's 500 KB batch cap, a tenth of Mixpanel's (perf_reliability.md §3.1)."""
DEFAULT_MAX_EVENT_AGE_DAYS = 90
"""Seed 000 "Data Quality": not older than 90 days; seed 001 keeps raw events 90 days too."""
DEFAULT_DEDUPE_WINDOW_DAYS = 7
"""How long the buffer remembers flushed event ids: client retries come within hours, and keeping
every id for the whole 90-day age window would grow the buffer by ~100 bytes per event."""
DEFAULT_MAX_FUTURE_SKEW_SECONDS = 300
"""Client clocks run ahead; five minutes mirrors Stripe's signature tolerance."""
DEFAULT_MAX_BATCH_EVENTS = 1000
"""Events per request; bigger batches are split by the sender (Mixpanel takes 2,000, Segment's
500 KB batches hold about as many as ours)."""
DEFAULT_RATE_LIMIT_EVENTS_PER_SECOND = 1000.0
"""Seed 000 "Rate Limits: 1,000 events/second", per workspace."""
BUFFER_FILE = Path("ingest") / "event_buffer.sqlite"
WEBHOOK_STORE_FILE = Path("ingest") / "webhook_deliveries.sqlite"


class IngestSettings(BaseModel):
    """Where the service keeps its buffer and API keys, and the limits it enforces."""

    model_config = ConfigDict(frozen=True)

    lake_dir: Path = Field(description="Root of the Parquet lake that flushes write to.")
    buffer_path: Path = Field(description="SQLite file holding acknowledged, unflushed events.")
    database_url: str = Field(description="Ops store holding the hashed API keys.")
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, gt=0)
    max_event_age_days: int = Field(default=DEFAULT_MAX_EVENT_AGE_DAYS, gt=0)
    max_future_skew_seconds: int = Field(default=DEFAULT_MAX_FUTURE_SKEW_SECONDS, ge=0)
    dedupe_window_days: int = Field(default=DEFAULT_DEDUPE_WINDOW_DAYS, gt=0)
    raw_event_retention_days: int = Field(
        default=DEFAULT_RAW_EVENT_RETENTION_DAYS,
        ge=0,
        description="Read here only to check the accepted event age against it (the `retention` "
        "job applies it); 0 keeps raw events forever, as there.",
    )
    max_batch_events: int = Field(default=DEFAULT_MAX_BATCH_EVENTS, gt=0)
    rate_limit_events_per_second: float = Field(
        default=DEFAULT_RATE_LIMIT_EVENTS_PER_SECOND,
        ge=0,
        description="Per-workspace token bucket; 0 turns the limit off.",
    )
    workers: int = Field(
        default=1,
        gt=0,
        description="uvicorn worker processes of `ownlay serve`; each has its own group-commit "
        "writer on the shared buffer, and all spend from one table of rate-limit buckets.",
    )
    cors_origins: tuple[str, ...] = Field(
        default=(),
        description="Origins whose pages may send events from a browser and read the answers "
        "(CORS, `ingest/cors.py`), exactly as browsers send them in `Origin`; none by default.",
    )

    @field_validator("cors_origins")
    @classmethod
    def _origins_as_browsers_send_them(cls, origins: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(canonical_origin(origin) for origin in origins)

    @model_validator(mode="after")
    def _accepted_age_within_retention(self) -> IngestSettings:
        if 0 < self.raw_event_retention_days < self.max_event_age_days:
            raise ValueError(
                f"OWNLAY_EVENT_MAX_AGE_DAYS ({self.max_event_age_days}) exceeds "
                f"OWNLAY_RAW_EVENT_RETENTION_DAYS ({self.raw_event_retention_days}): events would "
                "be accepted and then deleted by the next retention run; lower the first"
            )
        return self

    @property
    def webhook_deliveries_path(self) -> Path:
        """The SQLite file of verified webhook deliveries, beside the buffer (its own file, so the
        event buffer's format can change without touching deliveries)."""
        return self.buffer_path.parent / WEBHOOK_STORE_FILE.name

    @property
    def timestamp_policy(self) -> TimestampPolicy:
        """The event-timestamp window these settings allow."""
        return TimestampPolicy(
            max_future_skew=timedelta(seconds=self.max_future_skew_seconds),
            max_age=timedelta(days=self.max_event_age_days),
        )

    @property
    def dedupe_window(self) -> timedelta:
        """How long flushed event ids stay in the buffer (pass to `flush_buffer`)."""
        return timedelta(days=self.dedupe_window_days)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> IngestSettings:
        """Read `OWNLAY_DATA_DIR`, `OWNLAY_DATABASE_URL`, the limits' `ENV_VARIABLES` (an
        unset one keeps its default) and the comma-separated `OWNLAY_INGEST_CORS_ORIGINS`;
        `IngestSettingsInvalid` names a variable it cannot use."""
        env = dict(os.environ if environ is None else environ)
        base = Settings.from_env(env)
        limits = {
            field: _number(variable, env[variable], cls.model_fields[field].annotation)
            for field, variable in ENV_VARIABLES.items()
            if variable in env
        }
        origins = _origins(env.get(CORS_ORIGINS_VARIABLE, ""))
        try:
            return cls(
                lake_dir=base.lake_dir,
                buffer_path=base.data_dir / BUFFER_FILE,
                database_url=database_url_from_env(env),
                cors_origins=origins,
                **limits,
            )
        except ValidationError as error:
            first = error.errors()[0]
            variable = ENV_VARIABLES.get(str(first["loc"][0])) if first["loc"] else None
            reason = first["msg"].removeprefix("Value error, ")
            raise IngestSettingsInvalid(f"{variable} {reason}" if variable else reason) from None


ENV_VARIABLES = {
    "max_body_bytes": "OWNLAY_INGEST_MAX_BODY_BYTES",
    "max_event_age_days": "OWNLAY_EVENT_MAX_AGE_DAYS",
    "max_future_skew_seconds": "OWNLAY_EVENT_MAX_FUTURE_SKEW_SECONDS",
    "dedupe_window_days": "OWNLAY_INGEST_DEDUPE_WINDOW_DAYS",
    "raw_event_retention_days": "OWNLAY_RAW_EVENT_RETENTION_DAYS",
    "max_batch_events": "OWNLAY_INGEST_MAX_BATCH_EVENTS",
    "rate_limit_events_per_second": "OWNLAY_INGEST_RATE_LIMIT_EVENTS_PER_SECOND",
    "workers": "OWNLAY_INGEST_WORKERS",
}
"""The environment variable of each `IngestSettings` limit."""


class IngestSettingsInvalid(Refusal):
    """An `OWNLAY_*` variable holds a value the ingestion settings cannot use; the message names
    it and says why, in one line."""


def _number(variable: str, text: str, kind: Any) -> int | float:
    """The value of `variable` as the field's `kind` (int or float)."""
    try:
        return int(text) if kind is int else float(text)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise IngestSettingsInvalid(f"{variable} must be {what}, not {text[:32]!r}") from None


def _origins(text: str) -> tuple[str, ...]:
    """The origins of a comma-separated `OWNLAY_INGEST_CORS_ORIGINS` (blanks around and empty
    items ignored), each as browsers send it, else `IngestSettingsInvalid` naming the one."""
    origins = tuple(item.strip() for item in text.split(",") if item.strip())
    try:
        return tuple(canonical_origin(origin) for origin in origins)
    except ValueError as error:
        raise IngestSettingsInvalid(f"{CORS_ORIGINS_VARIABLE}: {error}") from None
