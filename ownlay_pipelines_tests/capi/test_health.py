"""Destination health from the delivery log, at seed 002's thresholds."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ownlay_pipelines.capi.health import destination_health
from ownlay_pipelines.capi.tables import capi_delivery_log
from ownlay_pipelines_tests.capi.destinations import NOW


def _log(store, successes: int, failures: int, latency_ms: float, age=timedelta(minutes=5)):
    rows = [
        {
            "workspace_id": "w", "destination_id": "meta-capi", "platform": "meta",
            "event_id": f"e{i}", "event_name": "Purchase", "timestamp": NOW - age,
            "success": i < successes, "outcome": "accepted" if i < successes else "rejected",
            "latency_ms": latency_ms, "retry_count": 0,
        }
        for i in range(successes + failures)
    ]  # fmt: skip
    with store.begin() as connection:
        connection.execute(capi_delivery_log.insert(), rows)


@pytest.mark.parametrize(
    ("successes", "failures", "latency", "circuit", "status"),
    [
        (95, 5, 300.0, "closed", "healthy"),
        (80, 20, 300.0, "closed", "degraded"),
        (60, 40, 300.0, "closed", "unhealthy"),
        (100, 0, 7_000.0, "closed", "degraded"),
        (100, 0, 12_000.0, "closed", "unhealthy"),
        (100, 0, 300.0, "half_open", "degraded"),
        (100, 0, 300.0, "open", "unhealthy"),
    ],
)
def test_thresholds(store, successes, failures, latency, circuit, status) -> None:
    _log(store, successes, failures, latency)
    _log(store, 0, 50, 300.0, age=timedelta(hours=2))  # outside the hour: ignored
    health = destination_health(store, "w", "meta-capi", "meta", now=NOW, circuit_state=circuit)
    assert health.status == status
    assert health.events_processed_1h == successes + failures
    assert health.error_count_1h == failures
    assert (health.issues == []) == (status == "healthy")
