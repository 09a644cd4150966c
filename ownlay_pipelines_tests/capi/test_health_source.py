"""Destination health as the watchtower's `capi/health` source: an unhealthy destination alerts."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from ownlay_pipelines.capi.destinations import CapiSettings
from ownlay_pipelines.capi.health import last_circuit_state, workspace_health
from ownlay_pipelines.capi.tables import capi_delivery_log, create_capi_schema
from ownlay_pipelines.watchtower.snapshots import SnapshotType
from ownlay_pipelines.watchtower.source_rules import evaluate_source
from ownlay_pipelines.watchtower.sources.capi_health import UNHEALTHY_RULE, capture_capi_health
from ownlay_pipelines.watchtower.store import open_store
from ownlay_pipelines.watchtower.tables import api_record_metrics, api_records, watchtower_alerts
from ownlay_pipelines_tests.capi.destinations import DESTINATIONS, NOW

WORKSPACE = "rive-gauche"
SETTINGS = CapiSettings(default_region="FR", destinations=DESTINATIONS)


@pytest.fixture
def store(tmp_path: Path) -> sa.Engine:
    engine = open_store(tmp_path / "ops.sqlite")
    create_capi_schema(engine)
    return engine


def _log(store: sa.Engine, destination_id: str, outcomes: list[str | None], end=NOW):
    """Delivery-log rows a minute apart ending 1 min before `end`; None = accepted, else a
    reason; 200 ms each."""
    platform = next(d.platform.value for d in DESTINATIONS if d.id == destination_id)
    rows = [
        {
            "workspace_id": WORKSPACE,
            "destination_id": destination_id,
            "platform": platform,
            "event_id": f"{destination_id}-{i}",
            "event_name": "Purchase",
            "timestamp": end - timedelta(minutes=len(outcomes) - i),
            "success": reason is None,
            "outcome": "accepted" if reason is None else "retry",
            "latency_ms": 200.0,
            "error_message": reason,
            "retry_count": 0,
        }
        for i, reason in enumerate(outcomes)
    ]
    with store.begin() as connection:
        connection.execute(capi_delivery_log.insert(), rows)


def _capture_and_evaluate(store: sa.Engine, at=NOW):
    statuses = workspace_health(store, WORKSPACE, SETTINGS, now=at)
    capture_capi_health(
        store, WORKSPACE, statuses, snapshot_type=SnapshotType.SCHEDULED, clock=lambda: at
    )
    return statuses, evaluate_source(store, "capi", "health", clock=lambda: at)


def test_unhealthy_destinations_alert_and_healthy_ones_do_not(store) -> None:
    _log(store, "meta-capi", [None] * 10)
    _log(store, "tiktok-events", ["HTTPError: 500"] * 8 + [None] * 2)  # 20 % success
    _log(store, "snap-capi", [None] * 9 + ["CircuitOpen"])  # 90 %, but its breaker is open

    statuses, outcomes = _capture_and_evaluate(store)

    graded = {s.destination_id: (s.status, s.circuit_state) for s in statuses}
    assert graded == {
        "meta-capi": ("healthy", "closed"),
        "google-ec": ("healthy", "closed"),  # no traffic in the hour
        "tiktok-events": ("unhealthy", "closed"),
        "snap-capi": ("unhealthy", "open"),
    }
    (outcome,) = outcomes
    assert outcome.rule_name == UNHEALTHY_RULE and outcome.severity.value == "critical"
    assert sorted(f.entity["external_id"] for f in outcome.fired) == ["snap-capi", "tiktok-events"]
    assert {f.client_id for f in outcome.fired} == {WORKSPACE}
    with store.connect() as connection:
        alerts = connection.execute(sa.select(sa.func.count()).select_from(watchtower_alerts))
        assert alerts.scalar_one() == 2
        metrics = dict(
            connection.execute(
                sa.select(api_record_metrics.c.metric_name, api_record_metrics.c.metric_value)
                .join(api_records, api_records.c.id == api_record_metrics.c.record_id)
                .where(api_records.c.external_id == "tiktok-events")
            ).all()
        )
    assert {k: float(v) for k, v in metrics.items()} == {
        "capi_success_rate_1h": 20.0,
        "capi_avg_latency_ms": 200.0,
        "capi_error_count_1h": 8.0,
    }


def test_all_healthy_destinations_pass_the_rule(store) -> None:
    for destination in DESTINATIONS:
        _log(
            store, destination.id, [None] * 5 + ["HTTPError: 503"]
        )  # 83 %: degraded, not unhealthy
    statuses, (outcome,) = _capture_and_evaluate(store)
    assert {s.status for s in statuses} == {"degraded"}
    assert outcome.rule_name == UNHEALTHY_RULE and outcome.passed


def test_a_destination_that_recovers_stops_firing(store) -> None:
    _log(store, "tiktok-events", ["HTTPError: 500"] * 5)
    _, (first,) = _capture_and_evaluate(store)
    assert [f.entity["external_id"] for f in first.fired] == ["tiktok-events"]
    later = NOW + timedelta(hours=1)
    _log(store, "tiktok-events", [None] * 20, end=later)  # the next hour is all accepted
    _, (second,) = _capture_and_evaluate(store, at=later)
    assert second.passed


def test_circuit_state_reads_only_the_latest_attempt_of_the_hour(store) -> None:
    _log(store, "meta-capi", ["CircuitOpen", None])
    assert last_circuit_state(store, WORKSPACE, "meta-capi", now=NOW) == "closed"
    _log(store, "google-ec", ["CircuitOpen"])
    assert last_circuit_state(store, WORKSPACE, "google-ec", now=NOW) == "open"
    assert last_circuit_state(store, WORKSPACE, "google-ec", now=NOW + timedelta(hours=2)) == (
        "closed"
    )


def test_a_workspace_without_destinations_captures_nothing(store) -> None:
    run = capture_capi_health(store, WORKSPACE, [], snapshot_type=SnapshotType.SCHEDULED)
    assert run.snapshot is None
