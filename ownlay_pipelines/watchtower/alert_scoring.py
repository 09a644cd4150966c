"""Precision and recall of the built-in rules against the sandbox's injected incidents.

The scorer replays a daily watchtower run over a window of days: on each evaluation day it
builds the unified campaign table exactly as the platforms reported it at that moment (partial
today, conversions still restating, incidents in effect, a failing connector's days missing) and
the ECB rates published by then, runs every built-in rule, and keeps what fired.

- An alert is one (rule, entity, judged day) — re-finding the same day on a later run is the same
  alert. It is a true positive when an incident covers its entity (the campaign, or the whole
  account for account-wide incidents) on the judged day; precision = true positives / alerts.
- An incident is detected when at least one alert matches it; recall = detected / incidents.

Plain Python over DuckDB, with the sandbox world as the only input; no Dagster.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import duckdb
import pyarrow as pa

from ownlay_pipelines.models.fx import FX_RATES, FX_SCHEMA
from ownlay_pipelines.registry.workspaces import Registry
from ownlay_pipelines.sandbox.fx import QUOTED, is_target_business_day, latest_published_day, rate
from ownlay_pipelines.sandbox.incidents import Incident, IncidentPlan, plan_incidents
from ownlay_pipelines.sandbox.world import SandboxWorld
from ownlay_pipelines.watchtower.builtin_rules import (
    BUILTIN_RULES,
    CONVERSION_BASELINE_DAYS,
    RESTATEMENT_DAYS,
    ROAS_WINDOW_DAYS,
    restatement_days,
)
from ownlay_pipelines.watchtower.targets import UNIFIED_CAMPAIGN_METRICS

EVALUATED_AT = time(9, 0)
"""Each day's watchtower run, in UTC: after every sandbox account's midnight."""
RECENT_DAYS = 2 + CONVERSION_BASELINE_DAYS
"""Today, the judged delivery day and its baseline: what the delivery rules read."""
CONVERSION_DAYS = ROAS_WINDOW_DAYS + CONVERSION_BASELINE_DAYS
"""A conversion rule's judged window and its baseline, ending on its judged day."""
MARGIN_DAYS = 2
"""Slack either side of a conversion rule's days: an account's newest row may be today or not."""
LOOKBACK_DAYS = max(RESTATEMENT_DAYS.values()) + 1 + CONVERSION_DAYS + MARGIN_DAYS
"""The oldest day back any account's conversion rules read."""
RUN_SEPARATOR = "@"
UNIFIED_COLUMNS = pa.schema(
    [
        pa.field("workspace_id", pa.string()),
        pa.field("platform", pa.string()),
        pa.field("account_id", pa.string()),
        pa.field("campaign_id", pa.string()),
        pa.field("campaign_name", pa.string()),
        pa.field("campaign_status", pa.string()),
        pa.field("report_date", pa.date32()),
        pa.field("currency", pa.string()),
        pa.field("impressions", pa.int64()),
        pa.field("clicks", pa.int64()),
        pa.field("spend", pa.decimal128(20, 6)),
        pa.field("conversions", pa.decimal128(20, 6)),
        pa.field("conversion_value", pa.decimal128(20, 6)),
        pa.field("ctr_percent", pa.float64()),
        pa.field("roas", pa.float64()),
    ]
)
"""The unified view's columns the built-in rules read, with the unified model's ratios."""


@dataclass(frozen=True)
class Alert:
    """One rule finding one entity on one judged day."""

    rule: str
    workspace_id: str
    platform: str
    account_id: str
    campaign_id: str | None
    judged_days: tuple[date, ...]
    """The days the rule's judged value covers (one for most rules)."""


@dataclass(frozen=True)
class Score:
    """What the rules found against what was injected."""

    alerts: tuple[Alert, ...]
    incidents: tuple[Incident, ...]
    false_alerts: tuple[Alert, ...]
    missed: tuple[Incident, ...]

    @property
    def precision(self) -> float:
        """Share of alerts that point at an injected incident (1.0 when nothing fired)."""
        if not self.alerts:
            return 1.0
        return 1 - len(self.false_alerts) / len(self.alerts)

    @property
    def recall(self) -> float:
        """Share of injected incidents at least one alert found."""
        if not self.incidents:
            return 1.0
        return 1 - len(self.missed) / len(self.incidents)

    def summary(self) -> str:
        """Two lines for people: the numbers and what went wrong."""
        lines = [
            f"Alert quality over {len(self.incidents)} injected incidents: precision "
            f"{self.precision:.2f} ({len(self.alerts) - len(self.false_alerts)}/"
            f"{len(self.alerts)} alerts true), recall {self.recall:.2f} "
            f"({len(self.incidents) - len(self.missed)}/{len(self.incidents)} found)"
        ]
        lines += [f"  missed: {i.kind} {i.workspace_id} {i.first_day}" for i in self.missed]
        lines += [
            f"  false: {a.rule} {a.workspace_id} {a.campaign_id or a.account_id} {a.judged_days[0]}"
            for a in self.false_alerts[:10]
        ]
        return "\n".join(lines)


def score_builtin_rules(
    registry: Registry,
    workspace_ids: Sequence[str],
    *,
    last_day: date,
    days: int = 90,
    seed: int = 7,
) -> Score:
    """Inject one incident of each kind per workspace into `days` days ending `last_day`, run the
    built-in rules once per day over what was reported then, and score what they found."""
    first_day = last_day - timedelta(days=days - 1)
    end = datetime.combine(last_day, EVALUATED_AT, UTC)
    planner = SandboxWorld(registry, seed=seed, now=end)
    plan = plan_incidents(planner, list(workspace_ids), first_day, days)
    world = SandboxWorld(registry, seed=seed, now=end, incidents=plan)
    runs = [first_day + timedelta(days=offset) for offset in range(days)]
    return _score(_run_rules(world, workspace_ids, runs), plan)


def _run_rules(world: SandboxWorld, workspace_ids: Sequence[str], runs: list[date]) -> list[Alert]:
    """Every alert of the daily runs. The runs share one table: each run's rows carry the run in
    their workspace id (`<workspace>@<run date>`), and every rule compares rows of one workspace
    only, so the runs never see each other — and each rule is one query instead of one per run."""
    tables = [_reported_table(world, workspace_ids, run) for run in runs]
    connection = duckdb.connect()
    connection.register("unified_rows", pa.concat_tables(tables))
    connection.execute(
        f"CREATE VIEW {UNIFIED_CAMPAIGN_METRICS.relation} AS SELECT * FROM unified_rows"
    )
    connection.register("fx_rows", _published_rates(world.seed, world.now, len(runs)))
    connection.execute(f"CREATE VIEW {FX_RATES.relation_name} AS SELECT * FROM fx_rows")
    alerts = set()
    for rule in BUILTIN_RULES:
        for match in rule.matches(connection):
            entity = match.entity
            alerts.add(
                Alert(
                    rule=rule.name,
                    workspace_id=entity["client_id"].partition(RUN_SEPARATOR)[0],
                    platform=entity["platform"],
                    account_id=entity["account_id"],
                    campaign_id=entity["campaign_id"],
                    judged_days=tuple(
                        date.fromisoformat(match.as_of) - timedelta(days=n)
                        for n in range(rule.window_days)
                    ),
                )
            )
    connection.close()
    return sorted(alerts, key=_alert_key)


def _days_back(platform: str) -> list[int]:
    """Days before the run's local today that the rules read for an account of `platform`: the
    recent days of the delivery rules, and the conversion rules' days just outside the platform's
    own restatement lag (TikTok's 7 days, Meta's 28, …), all others are left out for speed."""
    judged = restatement_days(platform) + 1
    conversion = range(judged - MARGIN_DAYS, judged + CONVERSION_DAYS + MARGIN_DAYS)
    return sorted({*range(RECENT_DAYS), *conversion})


def _reported_table(world: SandboxWorld, workspace_ids: Sequence[str], run: date) -> pa.Table:
    """The unified rows as every platform reported them at the run (partial today, conversions
    still restating), on every day some rule reads for the account's platform."""
    at = datetime.combine(run, EVALUATED_AT, UTC)
    rows = []
    for account in world.accounts():
        if account.workspace_id not in workspace_ids:
            continue
        today = at.astimezone(account.zone).date()
        campaigns = world.campaigns(account.platform, account.account_id)
        for back in _days_back(account.platform):
            day = today - timedelta(days=back)
            for campaign in campaigns:
                if not campaign.delivers_on(day):
                    continue
                reported = world.campaign_day_at(
                    account.platform, account.account_id, campaign.campaign_id, day, at
                )
                if reported is None:
                    continue
                rows.append(
                    {
                        "workspace_id": f"{account.workspace_id}{RUN_SEPARATOR}{run}",
                        "platform": account.platform,
                        "account_id": account.account_id,
                        "campaign_id": campaign.campaign_id,
                        "campaign_name": campaign.name,
                        "campaign_status": campaign.status.value,
                        "report_date": day,
                        "currency": reported.currency,
                        "impressions": reported.impressions,
                        "clicks": reported.clicks,
                        "spend": reported.spend,
                        "conversions": reported.conversions,
                        "conversion_value": reported.conversion_value,
                        "ctr_percent": _ratio(100 * reported.clicks, reported.impressions),
                        "roas": _ratio(reported.conversion_value, reported.spend),
                    }
                )
    return pa.Table.from_pylist(rows, schema=UNIFIED_COLUMNS)


def _published_rates(seed: int, at: datetime, runs: int) -> pa.Table:
    """The sandbox ECB's rates published by `at`, back past the first run's lookback, as
    `raw/fx/daily_rates` (a rule only reads rates of days on or before the row's day)."""
    last = latest_published_day(at)
    days = [last - timedelta(days=n) for n in range(runs + LOOKBACK_DAYS + 5)]
    rows = [
        {"rate_date": day, "currency": currency, "rate": rate(seed, currency, day)}
        for day in days
        if is_target_business_day(day)
        for currency in ("EUR", *QUOTED)
    ]
    return pa.Table.from_pylist(rows, schema=FX_SCHEMA)


def _ratio(numerator: object, denominator: object) -> float | None:
    return float(numerator) / float(denominator) if denominator else None  # type: ignore[arg-type]


def _score(alerts: list[Alert], plan: IncidentPlan) -> Score:
    def explains(incident: Incident, alert: Alert) -> bool:
        return incident.workspace_id == alert.workspace_id and any(
            incident.covers(alert.platform, alert.account_id, alert.campaign_id, day)
            for day in alert.judged_days
        )

    false_alerts = tuple(a for a in alerts if not any(explains(i, a) for i in plan.incidents))
    missed = tuple(i for i in plan.incidents if not any(explains(i, a) for a in alerts))
    return Score(tuple(alerts), plan.incidents, false_alerts, missed)


def _alert_key(alert: Alert) -> tuple:
    return (alert.workspace_id, alert.judged_days, alert.rule, alert.campaign_id or "")
