from pathlib import Path

import pytest

from ownlay_pipelines.ingest.config import IngestSettings, IngestSettingsInvalid


def test_settings_come_from_the_environment_with_documented_defaults(tmp_path: Path):
    settings = IngestSettings.from_env(
        {"OWNLAY_DATA_DIR": str(tmp_path), "OWNLAY_DATABASE_URL": "postgresql://u@db/ops"}
    )

    assert settings.buffer_path == tmp_path / "ingest" / "event_buffer.sqlite"
    assert settings.lake_dir == tmp_path / "lake"
    assert settings.database_url == "postgresql+psycopg2://u@db/ops"
    assert (settings.max_body_bytes, settings.max_event_age_days) == (1024 * 1024, 90)
    assert (settings.dedupe_window_days, settings.raw_event_retention_days) == (7, 90)
    assert settings.timestamp_policy.max_future_skew.total_seconds() == 300


def test_seed_000_thirty_day_retention_needs_a_matching_event_age(tmp_path: Path):
    environ = {"OWNLAY_DATA_DIR": str(tmp_path), "OWNLAY_RAW_EVENT_RETENTION_DAYS": "30"}

    with pytest.raises(IngestSettingsInvalid, match=r"^OWNLAY_EVENT_MAX_AGE_DAYS \(90\) exceeds"):
        IngestSettings.from_env(environ)
    accepted = IngestSettings.from_env({**environ, "OWNLAY_EVENT_MAX_AGE_DAYS": "30"})
    assert accepted.timestamp_policy.max_age.days == 30


def test_limits_are_configurable(tmp_path: Path):
    defaults = IngestSettings.from_env({"OWNLAY_DATA_DIR": str(tmp_path)})
    tuned = IngestSettings.from_env(
        {
            "OWNLAY_DATA_DIR": str(tmp_path),
            "OWNLAY_INGEST_MAX_BATCH_EVENTS": "200",
            "OWNLAY_INGEST_RATE_LIMIT_EVENTS_PER_SECOND": "0",
            "OWNLAY_INGEST_WORKERS": "3",
        }
    )

    assert (defaults.max_batch_events, defaults.rate_limit_events_per_second) == (1000, 1000.0)
    assert defaults.webhook_deliveries_path == tmp_path / "ingest" / "webhook_deliveries.sqlite"
    assert (tuned.max_batch_events, tuned.rate_limit_events_per_second) == (200, 0.0)
    assert (defaults.workers, tuned.workers) == (1, 3)


def test_raw_events_kept_forever_accept_any_event_age(tmp_path: Path):
    """0 is the retention job's "forever" (docs/operations.md#retention); the service once
    refused to start with it."""
    settings = IngestSettings.from_env(
        {"OWNLAY_DATA_DIR": str(tmp_path), "OWNLAY_RAW_EVENT_RETENTION_DAYS": "0"}
    )

    assert (settings.raw_event_retention_days, settings.max_event_age_days) == (0, 90)
