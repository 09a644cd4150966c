from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from ownlay_pipelines.cli import main
from ownlay_pipelines.orchestration.error_policy import FailureKind
from ownlay_pipelines.orchestration.sync_alerts import (
    ROWS_QUARANTINED,
    SYNC_FAILING,
    SyncFailure,
    record_quarantine,
    record_sync_failure,
    resolve_quarantine,
    resolve_sync_failure,
)
from ownlay_pipelines.watchtower.alerts import AlertState, list_alerts
from ownlay_pipelines.watchtower.snapshots import ApiSnapshotLog, SnapshotType
from ownlay_pipelines.watchtower.tables import api_snapshots, watchtower_deliveries

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


class SyncLog:
    """Writes connector attempts into the sync log one minute apart, as the assets do."""

    def __init__(self, store: sa.Engine) -> None:
        self.now = NOW - timedelta(hours=1)
        self.log = ApiSnapshotLog(store, clock=lambda: self.now)

    def attempt(self, workspace: str, platform: str, table: str, *, ok: bool) -> None:
        self.now += timedelta(minutes=1)
        snapshot_id = self.log.create(platform, table, client_id=workspace)
        self.log.start(snapshot_id)
        if ok:
            self.log.complete(snapshot_id, 10)
        else:
            self.log.fail(snapshot_id, f"{platform} failed")


def _failure(kind: FailureKind, workspace="acme-outdoor", source="meta_ads", tables=("insights",)):
    return SyncFailure(
        workspace_id=workspace,
        source=source,
        kind=kind,
        tables=tables,
        error="meta_ads for workspace acme-outdoor, account 1: RateLimited: slow down",
        run_id="run-1",
        connector=source in ("meta_ads", "google_ads"),
    )


def _record(store, failure):
    return record_sync_failure(store, failure, snapshot_type=SnapshotType.SCHEDULED, now=NOW)


@pytest.mark.parametrize(
    ("kind", "threshold"),
    [(FailureKind.RATE_LIMITED, 3), (FailureKind.API_ERROR, 3), (FailureKind.NETWORK, 5)],
)
def test_alert_opens_only_when_failed_attempts_in_a_row_reach_the_kinds_threshold(
    store, kind, threshold
):
    log = SyncLog(store)
    for _ in range(threshold - 1):
        log.attempt("acme-outdoor", "meta_ads", "insights", ok=False)

    below = _record(store, _failure(kind))
    assert (below.consecutive_failures, below.alerted) == (threshold - 1, False)
    assert list_alerts(store) == []

    log.attempt("acme-outdoor", "meta_ads", "insights", ok=False)
    reached = _record(store, _failure(kind))
    assert reached.consecutive_failures == threshold
    assert reached.alert_id is not None
    (alert,) = list_alerts(store)
    assert alert.rule_name == SYNC_FAILING.name
    assert alert.client_id == "acme-outdoor"
    assert alert.entity == {"client_id": "acme-outdoor", "source": "meta_ads"}
    assert f"{threshold} failed attempt(s) in a row" in alert.message


def test_auth_expired_alerts_at_the_first_failure_and_queues_a_discord_notification(store):
    SyncLog(store).attempt("acme-outdoor", "meta_ads", "campaigns", ok=False)

    decision = _record(store, _failure(FailureKind.AUTH_EXPIRED, tables=("campaigns",)))

    assert decision.alert_id is not None
    with store.connect() as connection:
        deliveries = connection.execute(
            sa.select(watchtower_deliveries.c.channel, watchtower_deliveries.c.kind).where(
                watchtower_deliveries.c.alert_id == decision.alert_id
            )
        ).all()
    assert deliveries == [("discord", "immediate")]
    assert "re-authorise the connection" in list_alerts(store)[0].message


def test_a_completed_attempt_ends_the_run_of_failures(store):
    log = SyncLog(store)
    log.attempt("acme-outdoor", "meta_ads", "insights", ok=False)
    log.attempt("acme-outdoor", "meta_ads", "insights", ok=False)
    log.attempt("acme-outdoor", "meta_ads", "insights", ok=True)
    log.attempt("acme-outdoor", "meta_ads", "insights", ok=False)

    decision = _record(store, _failure(FailureKind.API_ERROR))

    assert decision.consecutive_failures == 1
    assert not decision.alerted


def test_repeated_failures_refresh_one_alert_and_other_workspaces_stay_open(store):
    log = SyncLog(store)
    for workspace in ("acme-outdoor", "kumo-tea"):
        log.attempt(workspace, "meta_ads", "campaigns", ok=False)
        _record(store, _failure(FailureKind.AUTH_EXPIRED, workspace, tables=("campaigns",)))
    log.attempt("acme-outdoor", "meta_ads", "campaigns", ok=False)

    again = _record(store, _failure(FailureKind.AUTH_EXPIRED, tables=("campaigns",)))

    assert again.already_open and again.alert_id is None
    assert sorted(a.client_id for a in list_alerts(store)) == ["acme-outdoor", "kumo-tea"]

    assert resolve_sync_failure(store, "acme-outdoor", "meta_ads", now=NOW)
    assert not resolve_sync_failure(store, "acme-outdoor", "meta_ads", now=NOW)
    assert [a.client_id for a in list_alerts(store)] == ["kumo-tea"]
    resolved = list_alerts(store, states=[AlertState.RESOLVED])
    assert [a.client_id for a in resolved] == ["acme-outdoor"]


def test_a_workspace_without_failed_attempts_in_a_multi_workspace_run_is_not_alerted(store):
    SyncLog(store).attempt("acme-outdoor", "meta_ads", "campaigns", ok=True)
    failure = _failure(FailureKind.AUTH_EXPIRED, tables=("campaigns",))

    decision = _record(store, replace(failure, sole_workspace=False))

    assert decision.consecutive_failures == 0
    assert list_alerts(store) == []
    assert _record(store, failure).alerted


def test_a_failed_model_alerts_at_once_with_a_failed_snapshot_of_its_own(store):
    failure = _failure(FailureKind.UNEXPECTED, source="unified/campaign_metrics_daily", tables=())

    decision = _record(store, failure)

    assert decision.alert_id is not None
    with store.connect() as connection:
        statuses = connection.execute(sa.select(api_snapshots.c.status)).scalars().all()
    assert statuses == ["failed"]
    assert "a pipeline bug" in list_alerts(store)[0].message


def test_quarantined_rows_open_a_daily_digest_alert_until_a_clean_sync(store):
    log = SyncLog(store)
    log.attempt("acme-outdoor", "meta_ads", "insights", ok=True)
    with store.connect() as connection:
        snapshot_id = connection.execute(sa.select(api_snapshots.c.id)).scalar_one()

    opened = record_quarantine(
        store,
        workspace_id="acme-outdoor",
        table="raw/meta_ads/insights",
        quarantined_rows=3,
        top_reasons='{"spend: not a decimal": 3}',
        snapshot_id=snapshot_id,
        now=NOW,
    )

    assert opened is not None
    (alert,) = list_alerts(store)
    assert alert.rule_name == ROWS_QUARANTINED.name
    assert alert.severity == "info"
    assert "3 row(s) quarantined" in alert.message
    with store.connect() as connection:
        kinds = connection.execute(sa.select(watchtower_deliveries.c.kind)).scalars().all()
    assert kinds == ["digest"]
    assert resolve_quarantine(store, "acme-outdoor", "raw/meta_ads/insights", now=NOW)
    assert list_alerts(store) == []


def test_rules_list_shows_pipeline_rules_once_a_pipeline_alert_exists(store, capsys):
    SyncLog(store).attempt("acme-outdoor", "meta_ads", "campaigns", ok=False)
    _record(store, _failure(FailureKind.AUTH_EXPIRED, tables=("campaigns",)))

    assert main(["rules", "list", "--database-url", store.url.render_as_string(False)]) == 0

    listing = capsys.readouterr().out
    assert SYNC_FAILING.name in listing and "on api_snapshots" in listing
