"""Shipped rules on `unified/campaign_metrics_daily`: seed 003's performance alerts and its
data-consistency checks, each one DuckDB statement over the unified view.

They are stored as ordinary `watchtower_rules` rows (names start with "builtin: "), so they can be
listed, disabled and given notification settings like any rule; their logic lives here because
it compares a campaign with its own trailing history, which seed 004's conditions cannot express.
Seed 003's severities high/medium/low map to critical/warning/info.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import duckdb
import sqlalchemy as sa

from ownlay_pipelines.registry.tenant import TENANT_COLUMN
from ownlay_pipelines.watchtower.conditions import Condition, Severity
from ownlay_pipelines.watchtower.errors import RuleDefinitionError
from ownlay_pipelines.watchtower.matches import Match, render_value
from ownlay_pipelines.watchtower.rules import BUILTIN_PREFIX
from ownlay_pipelines.watchtower.sql_warehouse import quote
from ownlay_pipelines.watchtower.tables import watchtower_rules
from ownlay_pipelines.watchtower.targets import UNIFIED_CAMPAIGN_METRICS, warehouse_fields

TRAILING_DAYS = 7
"""The trailing average is over the 7 report days before a campaign's latest day."""
MIN_TRAILING_DAYS = 3
"""Fewer days of history than this is too little to call a drop."""
ACTIVE_STATUSES = ("active", "enabled", "enable", "campaign_status_enable", "delivering")
"""Lower-cased campaign statuses that mean "should be spending" across the platforms."""

_CAMPAIGN = UNIFIED_CAMPAIGN_METRICS.entity_columns
_KEYS = ", ".join(quote(c) for c in _CAMPAIGN)
_RELATION = quote(UNIFIED_CAMPAIGN_METRICS.relation)
_TRAILING_COLUMNS = (
    "report_date",
    "spend",
    "conversions",
    "conversion_value",
    "clicks",
    "impressions",
    "roas",
    "ctr_percent",
)


# Each campaign's latest row ("cur") beside the totals of its trailing days ("hist"). The trailing
# ROAS and CTR are ratios of sums, not averages of daily ratios, so a day with tiny spend cannot
# swing the baseline.
def _trailing_sql(current: str, baseline: str, condition: str) -> str:
    return f"""
WITH latest AS (
    SELECT {_KEYS}, max(report_date) AS latest_date FROM {_RELATION} GROUP BY ALL
), cur AS (
    SELECT r.* FROM {_RELATION} AS r JOIN latest AS l USING ({_KEYS})
    WHERE r.report_date = l.latest_date
), hist AS (
    SELECT {_KEYS},
        count(*) AS days,
        sum(r.conversion_value) / nullif(sum(r.spend), 0) AS trailing_roas,
        100.0 * sum(r.clicks) / nullif(sum(r.impressions), 0) AS trailing_ctr_percent,
        avg(r.spend) AS trailing_spend,
        avg(r.conversions) AS trailing_conversions
    FROM {_RELATION} AS r JOIN latest AS l USING ({_KEYS})
    WHERE r.report_date < l.latest_date AND r.report_date >= l.latest_date - {TRAILING_DAYS}
    GROUP BY ALL
)
SELECT {_KEYS}, cur.report_date AS as_of, {current} AS current_value,
    {baseline} AS previous_value
FROM cur JOIN hist USING ({_KEYS})
WHERE hist.days >= {MIN_TRAILING_DAYS} AND ({condition})
"""


def _per_row_sql(current: str, condition: str) -> str:
    return f"""
SELECT {_KEYS}, report_date AS as_of, {current} AS current_value, NULL AS previous_value
FROM {_RELATION} WHERE {condition}
"""


_MISSING = f"""
WITH per_campaign AS (
    SELECT {_KEYS}, arg_max(campaign_status, report_date) AS last_status,
        max(report_date) AS last_date
    FROM {_RELATION} GROUP BY ALL
), per_account AS (
    SELECT {quote(TENANT_COLUMN)}, platform, account_id, max(report_date) AS account_date
    FROM {_RELATION} GROUP BY ALL
)
SELECT {_KEYS}, a.account_date AS as_of, c.last_date AS current_value,
    a.account_date AS previous_value
FROM per_campaign AS c JOIN per_account AS a USING ({quote(TENANT_COLUMN)}, platform, account_id)
WHERE list_contains(?, lower(c.last_status)) AND c.last_date < a.account_date
"""


@dataclass(frozen=True)
class BuiltinRule:
    """One shipped rule: its stored row's fields and the statement that finds its entities."""

    name: str
    description: str
    field_name: str
    condition: Condition
    threshold_value: str
    severity: Severity
    sql: str
    params: tuple[object, ...]
    per_day: bool
    """True when the entity is one campaign-day (a bad row), not the campaign."""
    columns: tuple[str, ...]
    """Columns of the unified view the statement reads besides the campaign keys."""

    def matches(self, warehouse: duckdb.DuckDBPyConnection) -> list[Match]:
        """Entities this rule finds in the unified view, as one set-based query."""
        present = warehouse_fields(warehouse, UNIFIED_CAMPAIGN_METRICS, {})
        if missing := [c for c in self.columns if c not in present]:
            raise RuleDefinitionError(
                f"{self.name} reads {', '.join(missing)}, which view "
                f"{UNIFIED_CAMPAIGN_METRICS.relation} no longer has"
            )
        cursor = warehouse.execute(self.sql, list(self.params))
        names = [d[0] for d in cursor.description]
        found = []
        for values in cursor.fetchall():
            row = dict(zip(names, values, strict=True))
            entity = {
                "client_id": render_value(row[TENANT_COLUMN]),
                **{c: render_value(row[c]) for c in _CAMPAIGN[1:]},
            }
            if self.per_day:
                entity["report_date"] = render_value(row["as_of"])
            found.append(
                Match(
                    entity=entity,
                    client_id=entity["client_id"],
                    currents=(render_value(row["current_value"]),),
                    previouses=(render_value(row["previous_value"]),),
                    as_of=render_value(row["as_of"]),
                )
            )
        return found


ROAS_DROP_FACTOR = Decimal("0.7")
ROAS_DROP_MIN_SPEND = Decimal(100)
HIGH_SPEND_FACTOR = Decimal("1.5")
LOW_CONVERSIONS_FACTOR = Decimal("0.5")
CTR_DROP_FACTOR = Decimal("0.5")
MAX_CTR_PERCENT = Decimal(100)
MAX_PLAUSIBLE_ROAS = Decimal(1000)

BUILTIN_RULES: tuple[BuiltinRule, ...] = (
    BuiltinRule(
        name=f"{BUILTIN_PREFIX}ROAS drop",
        description=(
            f"Latest day's ROAS below {ROAS_DROP_FACTOR * 100:.0f} % of the trailing "
            f"{TRAILING_DAYS}-day ROAS while spend is above {ROAS_DROP_MIN_SPEND} (seed 003 roas_drop)."
        ),
        field_name="roas",
        condition=Condition.LESS_THAN,
        threshold_value=f"{ROAS_DROP_FACTOR} x trailing ROAS, spend > {ROAS_DROP_MIN_SPEND}",
        severity=Severity.CRITICAL,
        sql=_trailing_sql(
            current="cur.roas",
            baseline="hist.trailing_roas",
            condition="cur.roas < ? * hist.trailing_roas AND cur.spend > ?",
        ),
        params=(ROAS_DROP_FACTOR, ROAS_DROP_MIN_SPEND),
        per_day=False,
        columns=_TRAILING_COLUMNS,
    ),
    BuiltinRule(
        name=f"{BUILTIN_PREFIX}High spend, low conversions",
        description=(
            f"Latest day's spend above {HIGH_SPEND_FACTOR} x the trailing average while conversions "
            f"are below {LOW_CONVERSIONS_FACTOR} x theirs (seed 003 high_spend_low_conversions)."
        ),
        field_name="spend",
        condition=Condition.GREATER_THAN,
        threshold_value=f"{HIGH_SPEND_FACTOR} x trailing spend, conversions < "
        f"{LOW_CONVERSIONS_FACTOR} x trailing",
        severity=Severity.WARNING,
        sql=_trailing_sql(
            current="cur.spend",
            baseline="hist.trailing_spend",
            condition=(
                "cur.spend > ? * hist.trailing_spend "
                "AND cur.conversions < ? * hist.trailing_conversions"
            ),
        ),
        params=(HIGH_SPEND_FACTOR, LOW_CONVERSIONS_FACTOR),
        per_day=False,
        columns=_TRAILING_COLUMNS,
    ),
    BuiltinRule(
        name=f"{BUILTIN_PREFIX}CTR drop",
        description=(
            f"Latest day's CTR below {CTR_DROP_FACTOR} x the trailing {TRAILING_DAYS}-day CTR "
            "(seed 003 ctr_drop)."
        ),
        field_name="ctr_percent",
        condition=Condition.LESS_THAN,
        threshold_value=f"{CTR_DROP_FACTOR} x trailing CTR",
        severity=Severity.INFO,
        sql=_trailing_sql(
            current="cur.ctr_percent",
            baseline="hist.trailing_ctr_percent",
            condition="cur.ctr_percent < ? * hist.trailing_ctr_percent",
        ),
        params=(CTR_DROP_FACTOR,),
        per_day=False,
        columns=_TRAILING_COLUMNS,
    ),
    BuiltinRule(
        name=f"{BUILTIN_PREFIX}Missing metrics for active campaign",
        description=(
            "A campaign whose last known status is active has no row for its account's latest "
            "report day (seed 003 missing_metrics)."
        ),
        field_name="report_date",
        condition=Condition.LESS_THAN,
        threshold_value="account's latest report_date",
        severity=Severity.WARNING,
        sql=_MISSING,
        params=(list(ACTIVE_STATUSES),),
        per_day=False,
        columns=("report_date", "campaign_status"),
    ),
    BuiltinRule(
        name=f"{BUILTIN_PREFIX}CTR above 100%",
        description="A row with more clicks than impressions (seed 003 invalid_ctr).",
        field_name="ctr_percent",
        condition=Condition.GREATER_THAN,
        threshold_value=str(MAX_CTR_PERCENT),
        severity=Severity.CRITICAL,
        sql=_per_row_sql(current="ctr_percent", condition="ctr_percent > ?"),
        params=(MAX_CTR_PERCENT,),
        per_day=True,
        columns=("report_date", "ctr_percent"),
    ),
    BuiltinRule(
        name=f"{BUILTIN_PREFIX}ROAS above 1000",
        description="A row whose ROAS exceeds 1000x, almost always a unit or join error "
        "(seed 003 suspicious_roas).",
        field_name="roas",
        condition=Condition.GREATER_THAN,
        threshold_value=str(MAX_PLAUSIBLE_ROAS),
        severity=Severity.WARNING,
        sql=_per_row_sql(current="roas", condition="roas > ?"),
        params=(MAX_PLAUSIBLE_ROAS,),
        per_day=True,
        columns=("report_date", "roas"),
    ),
)
"""Every shipped rule, by stored name."""

BUILTIN_BY_NAME = {rule.name: rule for rule in BUILTIN_RULES}


def ensure_builtin_rules(connection: sa.Connection) -> None:
    """Store the shipped rules that are missing; existing rows (and their settings) are kept."""
    stored = set(
        connection.execute(
            sa.select(watchtower_rules.c.name).where(
                watchtower_rules.c.name.in_(list(BUILTIN_BY_NAME))
            )
        ).scalars()
    )
    rows = [
        {
            "name": rule.name,
            "description": rule.description,
            "target_table": UNIFIED_CAMPAIGN_METRICS.name,
            "field_name": rule.field_name,
            "condition": rule.condition.value,
            "threshold_value": rule.threshold_value,
            "severity": rule.severity.value,
        }
        for rule in BUILTIN_RULES
        if rule.name not in stored
    ]
    if rows:
        connection.execute(watchtower_rules.insert(), rows)
