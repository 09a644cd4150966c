"""Alerts on failing syncs and quarantined rows, through the watchtower's alert lifecycle.

Two rules stand for seed 000's "Alert" column. `pipeline: sync failing` (immediate) has one
entity per workspace and source (a platform, or a model or job), so a workspace whose Meta token
expired has one open alert however many tables fail, and a later successful sync resolves it.
Whether a failure alerts yet is read from the sync log (`api_snapshots`): the failed attempts of
the workspace's tables since their last completed one, against the kind's `alert_after_failures`.
`pipeline: rows quarantined` (daily digest, the seed's "daily summary") has one entity per
workspace and table while its latest sync quarantined rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time

import sqlalchemy as sa

from ownlay_pipelines.lake.quarantine import quarantine_ref
from ownlay_pipelines.lake.tables import TableRef
from ownlay_pipelines.orchestration.error_policy import ERROR_POLICIES, FailureKind
from ownlay_pipelines.watchtower.alerts import OPEN_STATES, Finding, record_evaluation
from ownlay_pipelines.watchtower.clock import require_aware
from ownlay_pipelines.watchtower.matches import Match, entity_key
from ownlay_pipelines.watchtower.rules import Rule
from ownlay_pipelines.watchtower.snapshots import ApiSnapshotLog, SnapshotStatus, SnapshotType
from ownlay_pipelines.watchtower.tables import (
    api_snapshots,
    api_sources,
    watchtower_alert_states,
    watchtower_rules,
)

PIPELINE_RULE_TARGET = "api_snapshots"
"""Pipeline rules watch the sync log; the rules engine never evaluates them, run sensors do."""
DIGEST_TIME = time(7, 0)
"""The quarantine summary goes out daily at 07:00 UTC, after the 06:00 restatement syncs."""
PIPELINE_PROVIDER = "dagster"
"""`api_sources.provider` of failures outside connector syncs; the endpoint is the job or asset."""
HISTORY_ROWS = 50
"""Sync-log rows read per table: more than any policy's alert threshold."""


@dataclass(frozen=True)
class PipelineRule:
    """A shipped pipeline rule: its stored name, meaning and how it notifies."""

    name: str
    description: str
    severity: str
    notify_schedule: str | None = None
    """None = notify immediately; "daily" = only in the daily digest at `DIGEST_TIME`."""


SYNC_FAILING = PipelineRule(
    name="pipeline: sync failing",
    description=(
        "A workspace's sync of a platform (or a model or job) failed as often in a row as seed "
        "000's Error Handling table allows: rate limited or API error 3 times, network 5 times, "
        "auth expired or a refused request at once."
    ),
    severity="critical",
)
ROWS_QUARANTINED = PipelineRule(
    name="pipeline: rows quarantined",
    description=(
        "A workspace's latest sync of a table quarantined rows that failed validation; the good "
        "rows beside them were kept. Sent as a daily summary (seed 000 Data Validation)."
    ),
    severity="info",
    notify_schedule="daily",
)


@dataclass(frozen=True)
class SyncFailure:
    """A failed run's failure for one workspace and source, as the run-failure sensor saw it."""

    workspace_id: str | None
    source: str
    """The platform (`meta_ads`) of a connector sync, else the failed asset or job."""
    kind: FailureKind
    tables: tuple[str, ...]
    """The source's tables that failed (sync-log endpoints of a connector)."""
    error: str
    run_id: str
    connector: bool
    """True when the sync log has the attempts of `tables` (connector assets write it)."""
    sole_workspace: bool = True
    """False when the run covered other workspaces too, so the sync log says which failed."""


@dataclass(frozen=True)
class AlertDecision:
    """What recording a failure did: its consecutive failed attempts and the alert, if any."""

    consecutive_failures: int
    threshold: int
    alert_id: uuid.UUID | None
    already_open: bool

    @property
    def alerted(self) -> bool:
        return self.alert_id is not None or self.already_open


def sync_failure_entity(workspace_id: str | None, source: str) -> dict[str, str | None]:
    """The alert entity of a workspace's source."""
    return {"client_id": workspace_id, "source": source}


def quarantine_entity(workspace_id: str, table: str) -> dict[str, str | None]:
    """The alert entity of a workspace's lake table."""
    return {"client_id": workspace_id, "table": table}


def ensure_rule(connection: sa.Connection, spec: PipelineRule) -> Rule:
    """The stored rule of `spec`, created on first use to notify on Discord.

    Notification settings edited afterwards (channels, recipients, schedule) are kept.
    """
    row = _rule_row(connection, spec.name)
    if row is None:
        connection.execute(
            watchtower_rules.insert().values(
                id=uuid.uuid4(),
                name=spec.name,
                description=spec.description,
                target_table=PIPELINE_RULE_TARGET,
                field_name="status",
                condition="equals",
                threshold_value=SnapshotStatus.FAILED.value,
                severity=spec.severity,
                notify_immediately=spec.notify_schedule is None,
                notify_schedule=spec.notify_schedule,
                notify_time=DIGEST_TIME if spec.notify_schedule else None,
                notify_discord=True,
            )
        )
        row = _rule_row(connection, spec.name)
    assert row is not None
    return Rule.from_row(row)


def _rule_row(connection: sa.Connection, name: str) -> sa.RowMapping | None:
    return (
        connection.execute(
            sa.select(watchtower_rules)
            .where(watchtower_rules.c.name == name)
            .order_by(watchtower_rules.c.created_at, watchtower_rules.c.id)
            .limit(1)
        )
        .mappings()
        .one_or_none()
    )


def consecutive_failed_attempts(
    connection: sa.Connection, workspace_id: str, provider: str, endpoints: Sequence[str]
) -> tuple[int, uuid.UUID | None]:
    """(most failed attempts in a row of any of `endpoints`, the newest failed snapshot).

    Attempts still running are skipped; a completed attempt ends the run of failures.
    """
    rows = connection.execute(
        sa.select(api_sources.c.endpoint, api_snapshots.c.id, api_snapshots.c.status)
        .select_from(api_snapshots.join(api_sources, api_sources.c.id == api_snapshots.c.source_id))
        .where(
            api_sources.c.provider == provider,
            api_sources.c.endpoint.in_(list(endpoints)),
            api_snapshots.c.client_id == workspace_id,
            api_snapshots.c.status.in_(
                [SnapshotStatus.FAILED.value, SnapshotStatus.COMPLETED.value]
            ),
        )
        .order_by(api_snapshots.c.created_at.desc(), api_snapshots.c.id.desc())
        .limit(HISTORY_ROWS * len(endpoints))
    ).all()
    streaks: dict[str, int] = dict.fromkeys(endpoints, 0)
    ended: set[str] = set()
    newest_failed: uuid.UUID | None = None
    for endpoint, snapshot_id, status in rows:
        if endpoint in ended:
            continue
        if status == SnapshotStatus.COMPLETED.value:
            ended.add(endpoint)
            continue
        streaks[endpoint] += 1
        newest_failed = newest_failed or snapshot_id
    return max(streaks.values(), default=0), newest_failed


def record_sync_failure(
    store: sa.Engine,
    failure: SyncFailure,
    *,
    snapshot_type: SnapshotType,
    now: datetime,
) -> AlertDecision:
    """Open (or refresh) the alert of `failure`'s workspace and source once its kind's threshold
    of failed attempts in a row is reached; below it, nothing is recorded."""
    now = require_aware(now, "failure time")
    threshold = ERROR_POLICIES[failure.kind].alert_after_failures
    snapshot_id: uuid.UUID | None = None
    consecutive = 1
    if failure.connector and failure.workspace_id is not None:
        with store.connect() as connection:
            consecutive, snapshot_id = consecutive_failed_attempts(
                connection, failure.workspace_id, failure.source, failure.tables
            )
        if consecutive == 0 and not failure.sole_workspace:
            # No failed attempt of these tables for this workspace: another workspace failed.
            return AlertDecision(0, threshold, None, False)
        # A step can fail before its attempt is logged (a workspace gone from the registry).
        consecutive = max(consecutive, 1)
    if consecutive < threshold:
        return AlertDecision(consecutive, threshold, None, False)
    if snapshot_id is None:
        log = ApiSnapshotLog(store, clock=lambda: now)
        provider = failure.source if failure.connector else PIPELINE_PROVIDER
        endpoint = failure.tables[0] if failure.tables else failure.source
        snapshot_id = log.create(
            provider, endpoint, client_id=failure.workspace_id, snapshot_type=snapshot_type
        )
        log.fail(snapshot_id, failure.error)
    entity = sync_failure_entity(failure.workspace_id, failure.source)
    finding = Finding(
        Match(
            entity=entity,
            client_id=failure.workspace_id,
            currents=(str(consecutive),),
            previouses=(None,),
            as_of=now.isoformat(),
            snapshot_id=snapshot_id,
        ),
        message=_message(failure, consecutive),
        current_value=f"{consecutive} failed attempt(s) in a row ({failure.kind.value})",
        previous_value=None,
    )
    opened = _open_or_refresh(store, SYNC_FAILING, finding, now)
    return AlertDecision(consecutive, threshold, opened, opened is None)


def record_quarantine(
    store: sa.Engine,
    *,
    workspace_id: str,
    table: str,
    quarantined_rows: int,
    top_reasons: str,
    snapshot_id: uuid.UUID,
    now: datetime,
) -> uuid.UUID | None:
    """Open (or refresh) the daily-summary alert of a table whose latest sync quarantined rows."""
    finding = Finding(
        Match(
            entity=quarantine_entity(workspace_id, table),
            client_id=workspace_id,
            currents=(str(quarantined_rows),),
            previouses=(None,),
            as_of=now.isoformat(),
            snapshot_id=snapshot_id,
        ),
        message=(
            f"{table} for workspace {workspace_id}: {quarantined_rows} row(s) quarantined by "
            f"the latest sync ({top_reasons}); the rows are in warehouse view "
            f"{quarantine_ref(TableRef.parse(table)).relation_name}"
        ),
        current_value=str(quarantined_rows),
        previous_value=None,
    )
    return _open_or_refresh(store, ROWS_QUARANTINED, finding, require_aware(now, "sync time"))


def resolve_sync_failure(
    store: sa.Engine, workspace_id: str | None, source: str, *, now: datetime
) -> bool:
    """Resolve the open alert of a workspace's source after a successful sync; True if one was."""
    return _resolve(store, SYNC_FAILING, sync_failure_entity(workspace_id, source), now)


def resolve_quarantine(store: sa.Engine, workspace_id: str, table: str, *, now: datetime) -> bool:
    """Resolve a table's quarantine alert after a sync that quarantined nothing."""
    return _resolve(store, ROWS_QUARANTINED, quarantine_entity(workspace_id, table), now)


def _open_or_refresh(
    store: sa.Engine, spec: PipelineRule, finding: Finding, now: datetime
) -> uuid.UUID | None:
    """Open `finding`'s alert, or refresh it if open; every other open entity stays open."""
    with store.begin() as connection:
        rule = ensure_rule(connection, spec)
        others = [f for f in _open_findings(connection, rule) if f.match.key != finding.match.key]
        transitions = record_evaluation(
            connection,
            rule,
            alerting=[finding],
            matching=[*others, finding],
            evaluation_snapshot_id=finding.match.snapshot_id,
            now=now,
        )
    return transitions.opened[0] if transitions.opened else None


def _resolve(
    store: sa.Engine, spec: PipelineRule, entity: dict[str, str | None], now: datetime
) -> bool:
    key = entity_key(entity)
    with store.begin() as connection:
        rule_row = _rule_row(connection, spec.name)
        if rule_row is None:
            return False
        rule = Rule.from_row(rule_row)
        open_findings = _open_findings(connection, rule)
        if all(f.match.key != key for f in open_findings):
            return False
        record_evaluation(
            connection,
            rule,
            alerting=[],
            matching=[f for f in open_findings if f.match.key != key],
            evaluation_snapshot_id=None,
            now=require_aware(now, "recovery time"),
        )
    return True


def _open_findings(connection: sa.Connection, rule: Rule) -> list[Finding]:
    """Every entity of `rule` still open, as findings that keep it open unchanged."""
    states = watchtower_alert_states
    rows = connection.execute(
        sa.select(
            states.c.entity, states.c.client_id, states.c.current_value, states.c.previous_value
        ).where(states.c.rule_id == rule.id, states.c.state.in_(OPEN_STATES))
    ).all()
    return [
        Finding(
            Match(
                entity=entity,
                client_id=client_id,
                currents=(current,),
                previouses=(previous,),
            ),
            message="",
            current_value=current,
            previous_value=previous,
        )
        for entity, client_id, current, previous in rows
    ]


def _message(failure: SyncFailure, consecutive: int) -> str:
    policy = ERROR_POLICIES[failure.kind]
    workspace = failure.workspace_id or "(no workspace)"
    tables = f" ({', '.join(failure.tables)})" if failure.tables else ""
    # A Failure's description already ends with its own "Fix: …"; the policy's is not repeated.
    error = failure.error.strip().rstrip(".")
    fix = "" if "Fix:" in error else f" Fix: {policy.fix}."
    return (
        f"{failure.source}{tables} for workspace {workspace}: {consecutive} failed attempt(s) "
        f"in a row ({failure.kind.value.replace('_', ' ')}): {error}.{fix} "
        f"Dagster run {failure.run_id}."
    )
