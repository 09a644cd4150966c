"""How long each data type is kept: one window per type, each configurable from the environment.

Seed 000's policy table keeps raw events 30 days and seed 001 keeps them 90 (seeds/README.md,
known traps). The default is 90 days: seed 001 is the lake's own specification, the attribution
and dedupe windows read up to 90 days back, and seed 000's "Ad Platform Data" row also says 90.
A deployment that must follow seed 000 sets `OWNLAY_RAW_EVENT_RETENTION_DAYS=30`.
A window of 0 days means "keep forever" (seed 000's "Unlimited").
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from enum import StrEnum

from ownlay_pipelines.events.layout import DEFAULT_RAW_EVENT_RETENTION_DAYS


class DataType(StrEnum):
    """One row of the retention table (docs/operations.md#retention)."""

    RAW_EVENTS = "raw_events"
    PLATFORM_RAW = "platform_raw"
    QUARANTINE = "quarantine"
    AGGREGATED_METRICS = "aggregated_metrics"
    WEBHOOK_BODIES = "webhook_bodies"
    WEBHOOK_RECEIPTS = "webhook_receipts"
    API_SNAPSHOTS = "api_snapshots"
    ALERTS = "alerts"
    CAPI_DELIVERY_LOG = "capi_delivery_log"


FOREVER = 0
"""A window of 0 days keeps the data type forever."""


@dataclass(frozen=True)
class RetentionPolicy:
    """Days each data type is kept after its day (partition) or creation time; 0 = forever.

    Sessions are not stored: they are the `session_id` column of raw events and go with them.
    The GDPR audit log is never pruned here (seed 000: audit logs 7 years).
    """

    raw_events: int = DEFAULT_RAW_EVENT_RETENTION_DAYS
    platform_raw: int = 90
    quarantine: int = 30
    aggregated_metrics: int = 730
    webhook_bodies: int = 7
    webhook_receipts: int = 90
    api_snapshots: int = 90
    alerts: int = 365
    capi_delivery_log: int = 30

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if not isinstance(value, int) or value < 0:
                raise ValueError(
                    f"retention window {field.name} must be a whole number of days >= 0, "
                    f"got {value!r}"
                )

    def days(self, data_type: DataType) -> int:
        """The window of `data_type` in days (0 = forever)."""
        return int(getattr(self, data_type.value))

    def with_overrides(self, overrides: Mapping[str, int]) -> RetentionPolicy:
        """This policy with some windows replaced (job config); unknown names are an error."""
        known = {data_type.value for data_type in DataType}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(f"unknown retention data type(s) {unknown}; known: {sorted(known)}")
        return replace(self, **{name: int(days) for name, days in overrides.items()})

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RetentionPolicy:
        """Windows from `OWNLAY_RETENTION_<TYPE>_DAYS`; raw events and webhook bodies keep
        their earlier names `OWNLAY_RAW_EVENT_RETENTION_DAYS`, `OWNLAY_WEBHOOK_RAW_RETENTION_DAYS`."""
        env = os.environ if environ is None else environ
        values: dict[str, int] = {}
        for data_type in DataType:
            name = env_name(data_type)
            if env.get(name, "").strip():
                try:
                    values[data_type.value] = int(env[name])
                except ValueError:
                    raise ValueError(
                        f"{name} must be a whole number of days, got {env[name]!r}"
                    ) from None
        return cls(**values)


LEGACY_ENV_NAMES = {
    DataType.RAW_EVENTS: "OWNLAY_RAW_EVENT_RETENTION_DAYS",
    DataType.WEBHOOK_BODIES: "OWNLAY_WEBHOOK_RAW_RETENTION_DAYS",
}


def env_name(data_type: DataType) -> str:
    """The environment variable that sets `data_type`'s window."""
    return LEGACY_ENV_NAMES.get(data_type, f"OWNLAY_RETENTION_{data_type.value.upper()}_DAYS")
