"""Shipped rules on `unified/campaign_metrics_daily`: seed 003's performance alerts and its
data-consistency checks, plus four that catch known incident kinds within days, each one DuckDB
statement over the unified view.

They are stored as ordinary `watchtower_rules` rows (names start with "builtin: "), so they can be
listed, disabled and given notification settings like any rule; their logic lives here because
it compares a campaign with its own trailing history, which seed 004's conditions cannot express.
Seed 003's severities high/medium/low map to critical/warning/info.

Mature days only (docs/watchtower.md "Which day a rule looks at"). Each account's newest report
day in the view is its partial "today" and is never judged. From there:

- delivery rules (impressions, clicks, spend, and ratios *between* conversion numbers such as
  value per conversion) judge the day before it: delivery settles within about a day and
  restatement adds conversions with their values, so those numbers and ratios are already right;
- conversion rules (anything dividing conversions or their value by spend or clicks: ROAS, "high
  spend, low conversions") judge the day just outside the platform's restatement lag (the
  connector's `restatement_lookback_days`: TikTok and Snapchat 7, Meta 28, Google Ads and
  LinkedIn 30), because before that a day still misses up to 45 % of its conversions and looks
  like a drop against mature days.

The trailing baseline is always the 7 days before the judged day, so it is as mature as the day.
Money guards are in one currency everywhere: the spend is converted at the day's ECB rate
(`raw/fx/daily_rates`) and compared with `MIN_SPEND_USD`; as conversion is linear, that is the
same test as comparing in each workspace's reporting currency against the guard converted there.
Every rule here reads platform-reported conversions and value (gross, like the platforms count
them), none reads the shop's net revenue.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Protocol

import duckdb
import sqlalchemy as sa

from ownlay_pipelines.connectors.catalog import all_streams
from ownlay_pipelines.models.fx import FX_RATES
from ownlay_pipelines.registry.tenant import TENANT_COLUMN
from ownlay_pipelines.watchtower.conditions import Condition, Severity
from ownlay_pipelines.watchtower.errors import RuleDefinitionError
from ownlay_pipelines.watchtower.matches import Match, render_value, value_row_match
from ownlay_pipelines.watchtower.rules import BUILTIN_PREFIX
from ownlay_pipelines.watchtower.sql_warehouse import quote
from ownlay_pipelines.watchtower.tables import watchtower_rules
from ownlay_pipelines.watchtower.targets import UNIFIED_CAMPAIGN_METRICS, warehouse_fields

TRAILING_DAYS = 7
"""The trailing baseline is the 7 report days before the judged day."""
MIN_TRAILING_DAYS = 3
"""Fewer days of history than this is too little to call a drop."""
ACTIVE_STATUSES = ("active", "enabled", "enable", "campaign_status_enable", "delivering")
"""Lower-cased campaign statuses that mean "should be spending" across the platforms."""
RESTATEMENT_DAYS: dict[str, int] = {}
for _connector, _spec in all_streams():
    RESTATEMENT_DAYS[_spec.platform.value] = max(
        RESTATEMENT_DAYS.get(_spec.platform.value, 0), _spec.restatement_lookback_days
    )
DEFAULT_RESTATEMENT_DAYS = 30
"""For a platform without a connector spec here (a plug-in added later): assume the longest."""


def restatement_days(platform: str) -> int:
    """Days the platform keeps restating conversions (its connector's lookback), which conversion
    rules wait out before judging a day."""
    return RESTATEMENT_DAYS.get(platform, DEFAULT_RESTATEMENT_DAYS)


MIN_SPEND_USD = Decimal(100)
"""Seed 003's "spend > 100", as 100 US dollars' worth in every currency."""
STALE_AFTER_DAYS = 2
"""An account whose newest day is this many days behind its workspace's newest is stale."""
TRACKING_WINDOW_DAYS = 3
MIN_TRACKED_CONVERSIONS = 3
"""Daily conversions (as reported a few days after) an account needs before three silent days
mean broken tracking rather than chance (Poisson: e^-9 ≈ 0.01 % for three days at 3)."""
VALUE_WINDOW_DAYS = 2
"""An account whose newest day is this many days behind the newest day in the view is stale."""


class Maturity(Enum):
    """Which day of an account a rule judges: days before the account's newest (partial) day."""

    DELIVERY = "delivery"
    CONVERSIONS = "conversions"


_CAMPAIGN = UNIFIED_CAMPAIGN_METRICS.entity_columns
_ACCOUNT = (TENANT_COLUMN, "platform", "account_id")
_KEYS = ", ".join(quote(c) for c in _CAMPAIGN)
_ACCOUNT_KEYS = ", ".join(quote(c) for c in _ACCOUNT)
_RELATION = quote(UNIFIED_CAMPAIGN_METRICS.relation)
_FX_RELATION = quote(FX_RATES.relation_name)
_TRAILING_COLUMNS = (
    "report_date",
    "currency",
    "spend",
    "conversions",
    "conversion_value",
    "clicks",
    "impressions",
    "roas",
    "ctr_percent",
)


def _judged_days_sql(maturity: Maturity) -> str:
    """CTE `judged`: per account, its newest day (`horizon`) and the day a rule judges."""
    if maturity is Maturity.DELIVERY:
        offset = "1"
    else:
        lags = ", ".join(f"('{p}', {d})" for p, d in sorted(RESTATEMENT_DAYS.items()))
        offset = (
            f"(coalesce((SELECT lag FROM (VALUES {lags}) AS l(platform, lag) "
            f"WHERE l.platform = h.platform), {DEFAULT_RESTATEMENT_DAYS}) + 1)"
        )
    return f"""judged AS (
    SELECT h.*, CAST(h.horizon - {offset} AS DATE) AS judged_date
    FROM (SELECT {_ACCOUNT_KEYS}, max(report_date) AS horizon FROM {_RELATION} GROUP BY ALL) AS h
)"""


def _usd_sql(fx_available: bool) -> str:
    """CTE `to_usd`: per ECB day and currency, the factor to US dollars (empty without FX)."""
    if not fx_available:
        return (
            "to_usd AS (SELECT NULL::DATE AS rate_date, NULL AS currency, "
            "NULL::DOUBLE AS factor WHERE false)"
        )
    return f"""to_usd AS (
    SELECT c.rate_date, c.currency, CAST(u.rate AS DOUBLE) / CAST(c.rate AS DOUBLE) AS factor
    FROM {_FX_RELATION} AS c JOIN {_FX_RELATION} AS u
      ON u.rate_date = c.rate_date AND u.currency = 'USD'
)"""


def rows_with_usd(
    warehouse: duckdb.DuckDBPyConnection, sql: str, params: tuple[object, ...]
) -> list[dict[str, object]]:
    """Run a rule statement whose `{usd}` placeholder becomes the `to_usd` CTE (empty when the
    warehouse has no FX view); its rows as dicts by column name."""
    fx_available = bool(
        warehouse.execute(
            "SELECT 1 FROM duckdb_views() WHERE view_name = ? "
            "UNION ALL SELECT 1 FROM duckdb_tables() WHERE table_name = ?",
            [FX_RATES.relation_name, FX_RATES.relation_name],
        ).fetchall()
    )
    cursor = warehouse.execute(sql.replace("{usd}", _usd_sql(fx_available)), list(params))
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]


# Rows with their spend in US dollars at the day's rate (the latest ECB day on or before it);
# NULL when no rate is known, so a money guard then never passes.
_ROWS_USD = f"""rows_usd AS (
    SELECT r.*, CASE WHEN r.currency = 'USD' THEN CAST(r.spend AS DOUBLE)
                     ELSE CAST(r.spend AS DOUBLE) * x.factor END AS spend_usd
    FROM {_RELATION} AS r ASOF LEFT JOIN to_usd AS x
      ON x.currency = r.currency AND r.report_date >= x.rate_date
)"""


# Each campaign's judged window ("cur": `window` days ending on the judged day, which must have a
# row) beside the totals of the `trailing` days before it ("hist"). ROAS, CTR and value per
# conversion are ratios of sums, never averages of daily ratios, so a small day cannot swing them.
def _trailing_sql(
    maturity: Maturity,
    current: str,
    baseline: str,
    condition: str,
    *,
    window: int = 1,
    trailing: int = TRAILING_DAYS,
) -> str:
    sums = (
        "sum(r.spend) AS spend, sum(r.spend_usd) AS spend_usd, sum(r.clicks) AS clicks, "
        "sum(r.impressions) AS impressions, sum(r.conversions) AS conversions, "
        "sum(r.conversion_value) AS conversion_value, "
        "sum(r.conversion_value) / nullif(sum(r.spend), 0) AS roas, "
        "100.0 * sum(r.clicks) / nullif(sum(r.impressions), 0) AS ctr_percent, "
        "sum(r.conversion_value) / nullif(sum(r.conversions), 0) AS value_per_conversion"
    )
    return f"""
WITH {_judged_days_sql(maturity)}, {{usd}}, {_ROWS_USD},
cur AS (
    SELECT {_KEYS}, max(r.report_date) AS report_date, {sums}
    FROM rows_usd AS r JOIN judged AS j USING ({_ACCOUNT_KEYS})
    WHERE r.report_date BETWEEN j.judged_date - {window - 1} AND j.judged_date
    GROUP BY ALL HAVING max(r.report_date) = any_value(j.judged_date)
), hist AS (
    SELECT {_KEYS}, count(*) AS days, {sums}, sum(r.clicks) / count(*) AS daily_clicks,
        avg(r.spend) AS daily_spend, avg(r.conversions) AS daily_conversions
    FROM rows_usd AS r JOIN judged AS j USING ({_ACCOUNT_KEYS})
    WHERE r.report_date < j.judged_date - {window - 1}
      AND r.report_date >= j.judged_date - {window - 1 + trailing}
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


# An active campaign that delivered in the trailing week has no row for its account's judged
# delivery day (the partial today is never expected to be complete).
_MISSING = f"""
WITH {_judged_days_sql(Maturity.DELIVERY)},
per_campaign AS (
    SELECT {_KEYS}, arg_max(campaign_status, report_date) AS last_status,
        max(report_date) AS last_date
    FROM {_RELATION} GROUP BY ALL
)
SELECT {_KEYS}, j.judged_date AS as_of, c.last_date AS current_value,
    j.judged_date AS previous_value
FROM per_campaign AS c JOIN judged AS j USING ({_ACCOUNT_KEYS})
WHERE list_contains(?, lower(c.last_status)) AND c.last_date < j.judged_date
  AND c.last_date >= j.judged_date - {TRAILING_DAYS}
"""

# The account's pixel or tag stopped: three judged delivery days in a row with clicks but no
# conversion at all, after a trailing week with conversions every day. Account totals, so one
# quiet campaign is not mistaken for broken tracking; three days, so unlucky days are not either.
_TRACKING_STOPPED = f"""
WITH {_judged_days_sql(Maturity.DELIVERY)},
daily AS (
    SELECT {_ACCOUNT_KEYS}, report_date, sum(clicks) AS clicks, sum(conversions) AS conversions
    FROM {_RELATION} GROUP BY ALL
), cur AS (
    SELECT {_ACCOUNT_KEYS}, max(d.report_date) AS report_date, count(*) AS days,
        avg(d.clicks) AS clicks, sum(d.conversions) AS conversions
    FROM daily AS d JOIN judged AS j USING ({_ACCOUNT_KEYS})
    WHERE d.report_date BETWEEN j.judged_date - {TRACKING_WINDOW_DAYS - 1} AND j.judged_date
    GROUP BY ALL
), hist AS (
    SELECT {_ACCOUNT_KEYS}, count(*) AS days, min(d.conversions) AS fewest,
        avg(d.clicks) AS trailing_clicks, avg(d.conversions) AS trailing_conversions
    FROM daily AS d JOIN judged AS j USING ({_ACCOUNT_KEYS})
    WHERE d.report_date < j.judged_date - {TRACKING_WINDOW_DAYS - 1}
      AND d.report_date >= j.judged_date - {TRACKING_WINDOW_DAYS - 1 + TRAILING_DAYS}
    GROUP BY ALL
)
SELECT {_ACCOUNT_KEYS}, NULL AS campaign_id, cur.report_date AS as_of,
    cur.conversions AS current_value, hist.trailing_conversions AS previous_value
FROM cur JOIN hist USING ({_ACCOUNT_KEYS})
WHERE cur.days = {TRACKING_WINDOW_DAYS} AND hist.days >= {MIN_TRAILING_DAYS} AND hist.fewest > 0
  AND cur.conversions = 0 AND cur.clicks >= ? * hist.trailing_clicks
  AND hist.trailing_conversions >= ?
"""

# A connector that stopped delivering: the account's newest day is well behind the newest day of
# another account of the same workspace (a workspace with one ad account relies on the sync
# failure alerts instead). The judged day is the first day missing.
_STALE_ACCOUNT = f"""
WITH per_account AS (
    SELECT {_ACCOUNT_KEYS}, max(report_date) AS horizon FROM {_RELATION} GROUP BY ALL
), newest AS (
    SELECT {quote(TENANT_COLUMN)}, max(horizon) AS newest FROM per_account GROUP BY ALL
)
SELECT {_ACCOUNT_KEYS}, NULL AS campaign_id, CAST(a.horizon + 1 AS DATE) AS as_of,
    a.horizon AS current_value, n.newest AS previous_value
FROM per_account AS a JOIN newest AS n USING ({quote(TENANT_COLUMN)})
WHERE a.horizon <= n.newest - {STALE_AFTER_DAYS}
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
    window_days: int = 1
    """Days the judged value covers, ending on the match's `as_of`."""

    def matches(self, warehouse: duckdb.DuckDBPyConnection) -> list[Match]:
        """Entities this rule finds in the unified view, as one set-based query."""
        present = warehouse_fields(warehouse, UNIFIED_CAMPAIGN_METRICS, {})
        if missing := [c for c in self.columns if c not in present]:
            raise RuleDefinitionError(
                f"{self.name} reads {', '.join(missing)}, which view "
                f"{UNIFIED_CAMPAIGN_METRICS.relation} no longer has"
            )
        found = []
        for row in rows_with_usd(warehouse, self.sql, self.params):
            entity = {
                "client_id": render_value(row[TENANT_COLUMN]),
                **{c: render_value(row[c]) for c in _CAMPAIGN[1:]},
            }
            if self.per_day:
                entity["report_date"] = render_value(row["as_of"])
            found.append(value_row_match(row, entity))
        return found


ROAS_DROP_FACTOR = Decimal("0.5")
"""Seed 003 says 0.7 of one day against the trailing average; at the sandbox's (and most shops')
3 conversions a campaign-day, a single day's ROAS is below 0.7 x its baseline a third of the time
on noise alone. Three mature days against two weeks, 10+ conversions a day and 0.5 keep it to
drops that are real (docs/watchtower.md)."""
ROAS_WINDOW_DAYS = 3
CONVERSION_BASELINE_DAYS = 14
MIN_DAILY_CONVERSIONS = 10
"""Conversions a day (trailing) below which a conversion-based rule stays silent: noise."""
HIGH_SPEND_FACTOR = Decimal("1.5")
LOW_CONVERSIONS_FACTOR = Decimal("0.5")
CTR_DROP_FACTOR = Decimal("0.5")
MIN_DAILY_CLICKS = 30
"""Daily clicks a campaign needs before its CTR is steady enough to call a drop."""
SPEND_SPIKE_FACTOR = Decimal("2.5")
VALUE_DROP_FACTOR = Decimal("0.4")
MIN_CONVERSIONS_FOR_VALUE = 3
"""Conversions the judged window needs before its value per conversion means something."""
MIN_BASELINE_CONVERSIONS_FOR_VALUE = 10
"""Conversions the trailing week needs before its value per conversion is a baseline: order
values scatter ±45 %, so over 3 conversions one large order can triple the average (a campaign
converting about once a day, as LinkedIn's at its CPCs)."""
STILL_DELIVERING = Decimal("0.5")
"""Tracking is judged stopped only while clicks are at least half their trailing average."""
MAX_CTR_PERCENT = Decimal(100)
MAX_PLAUSIBLE_ROAS = Decimal(1000)

BUILTIN_RULES: tuple[BuiltinRule, ...] = (
    BuiltinRule(
        name=f"{BUILTIN_PREFIX}ROAS drop",
        description=(
            f"ROAS of the {ROAS_WINDOW_DAYS} newest days outside the platform's restatement "
            f"window below {ROAS_DROP_FACTOR} x the {CONVERSION_BASELINE_DAYS} days before, for "
            f"campaigns spending more than {MIN_SPEND_USD} USD and converting "
            f"{MIN_DAILY_CONVERSIONS}+ times a day (seed 003 roas_drop; platform conversion "
            "value, gross)."
        ),
        field_name="roas",
        condition=Condition.LESS_THAN,
        threshold_value=f"{ROAS_DROP_FACTOR} x trailing ROAS, spend > {MIN_SPEND_USD} USD a day",
        severity=Severity.CRITICAL,
        sql=_trailing_sql(
            Maturity.CONVERSIONS,
            current="cur.roas",
            baseline="hist.roas",
            condition=(
                "cur.roas < ? * hist.roas AND hist.daily_conversions >= ? "
                f"AND cur.spend_usd > {MIN_SPEND_USD * ROAS_WINDOW_DAYS}"
            ),
            window=ROAS_WINDOW_DAYS,
            trailing=CONVERSION_BASELINE_DAYS,
        ),
        params=(ROAS_DROP_FACTOR, MIN_DAILY_CONVERSIONS),
        per_day=False,
        columns=_TRAILING_COLUMNS,
        window_days=ROAS_WINDOW_DAYS,
    ),
    BuiltinRule(
        name=f"{BUILTIN_PREFIX}High spend, low conversions",
        description=(
            f"Spend of the newest day outside the restatement window above {HIGH_SPEND_FACTOR} x "
            f"the trailing average while conversions are below {LOW_CONVERSIONS_FACTOR} x theirs, "
            f"for campaigns converting {MIN_DAILY_CONVERSIONS}+ times a day (seed 003 "
            "high_spend_low_conversions; platform conversions)."
        ),
        field_name="spend",
        condition=Condition.GREATER_THAN,
        threshold_value=f"{HIGH_SPEND_FACTOR} x trailing spend, conversions < "
        f"{LOW_CONVERSIONS_FACTOR} x trailing",
        severity=Severity.WARNING,
        sql=_trailing_sql(
            Maturity.CONVERSIONS,
            current="cur.spend",
            baseline="hist.daily_spend",
            condition=(
                "cur.spend > ? * hist.daily_spend AND cur.conversions < ? * hist.daily_conversions "
                "AND hist.daily_conversions >= ?"
            ),
        ),
        params=(HIGH_SPEND_FACTOR, LOW_CONVERSIONS_FACTOR, MIN_DAILY_CONVERSIONS),
        per_day=False,
        columns=_TRAILING_COLUMNS,
    ),
    BuiltinRule(
        name=f"{BUILTIN_PREFIX}CTR drop",
        description=(
            f"Yesterday's CTR below {CTR_DROP_FACTOR} x the trailing {TRAILING_DAYS}-day CTR, for "
            f"campaigns with at least {MIN_DAILY_CLICKS} clicks a day (seed 003 ctr_drop)."
        ),
        field_name="ctr_percent",
        condition=Condition.LESS_THAN,
        threshold_value=f"{CTR_DROP_FACTOR} x trailing CTR",
        severity=Severity.INFO,
        sql=_trailing_sql(
            Maturity.DELIVERY,
            current="cur.ctr_percent",
            baseline="hist.ctr_percent",
            condition="cur.ctr_percent < ? * hist.ctr_percent AND hist.daily_clicks >= ?",
        ),
        params=(CTR_DROP_FACTOR, MIN_DAILY_CLICKS),
        per_day=False,
        columns=_TRAILING_COLUMNS,
    ),
    BuiltinRule(
        name=f"{BUILTIN_PREFIX}Spend spike",
        description=(
            f"Yesterday's spend above {SPEND_SPIKE_FACTOR} x the trailing {TRAILING_DAYS}-day "
            f"average and worth more than {MIN_SPEND_USD} USD: a runaway bid or budget."
        ),
        field_name="spend",
        condition=Condition.GREATER_THAN,
        threshold_value=f"{SPEND_SPIKE_FACTOR} x trailing spend, spend > {MIN_SPEND_USD} USD",
        severity=Severity.WARNING,
        sql=_trailing_sql(
            Maturity.DELIVERY,
            current="cur.spend",
            baseline="hist.daily_spend",
            condition=f"cur.spend > ? * hist.daily_spend AND cur.spend_usd > {MIN_SPEND_USD}",
        ),
        params=(SPEND_SPIKE_FACTOR,),
        per_day=False,
        columns=_TRAILING_COLUMNS,
    ),
    BuiltinRule(
        name=f"{BUILTIN_PREFIX}Conversion value collapse",
        description=(
            f"Platform conversion value per conversion of the {VALUE_WINDOW_DAYS} last complete "
            f"days below {VALUE_DROP_FACTOR} x the trailing {TRAILING_DAYS}-day value, on at "
            f"least {MIN_CONVERSIONS_FOR_VALUE} conversions against a trailing week of "
            f"{MIN_BASELINE_CONVERSIONS_FOR_VALUE}+: a broken value parameter. A ratio "
            "of two conversion numbers, so restatement does not move it."
        ),
        field_name="conversion_value",
        condition=Condition.LESS_THAN,
        threshold_value=f"{VALUE_DROP_FACTOR} x trailing value per conversion",
        severity=Severity.WARNING,
        sql=_trailing_sql(
            Maturity.DELIVERY,
            current="cur.value_per_conversion",
            baseline="hist.value_per_conversion",
            condition="cur.conversions >= ? AND hist.conversions >= ? "
            "AND cur.value_per_conversion < ? * hist.value_per_conversion",
            window=VALUE_WINDOW_DAYS,
        ),
        params=(MIN_CONVERSIONS_FOR_VALUE, MIN_BASELINE_CONVERSIONS_FOR_VALUE, VALUE_DROP_FACTOR),
        per_day=False,
        columns=_TRAILING_COLUMNS,
        window_days=VALUE_WINDOW_DAYS,
    ),
    BuiltinRule(
        name=f"{BUILTIN_PREFIX}Conversion tracking stopped",
        description=(
            f"An ad account reports no conversion at all for its {TRACKING_WINDOW_DAYS} last "
            f"complete days while still getting {STILL_DELIVERING} x its usual clicks, after a "
            f"trailing week with conversions every day ({MIN_TRACKED_CONVERSIONS}+ a day on "
            "average): the pixel or conversion tag broke."
        ),
        field_name="conversions",
        condition=Condition.EQUALS,
        threshold_value="0 while clicks continue",
        severity=Severity.CRITICAL,
        sql=_TRACKING_STOPPED,
        params=(STILL_DELIVERING, MIN_TRACKED_CONVERSIONS),
        window_days=TRACKING_WINDOW_DAYS,
        per_day=False,
        columns=("report_date", "clicks", "conversions"),
    ),
    BuiltinRule(
        name=f"{BUILTIN_PREFIX}Missing metrics for active campaign",
        description=(
            "A campaign whose last known status is active, with rows in the trailing week, has "
            "no row for its account's last complete day (seed 003 missing_metrics)."
        ),
        field_name="report_date",
        condition=Condition.LESS_THAN,
        threshold_value="account's last complete report_date",
        severity=Severity.WARNING,
        sql=_MISSING,
        params=(list(ACTIVE_STATUSES),),
        per_day=False,
        columns=("report_date", "campaign_status"),
    ),
    BuiltinRule(
        name=f"{BUILTIN_PREFIX}Account data stale",
        description=(
            f"An ad account's newest day is {STALE_AFTER_DAYS}+ days behind the newest day of "
            "another account of its workspace: its connector stopped delivering."
        ),
        field_name="report_date",
        condition=Condition.LESS_THAN,
        threshold_value=f"newest report_date - {STALE_AFTER_DAYS} days",
        severity=Severity.CRITICAL,
        sql=_STALE_ACCOUNT,
        params=(),
        per_day=False,
        columns=("report_date",),
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
    insert_missing_shipped_rules(connection, BUILTIN_RULES, UNIFIED_CAMPAIGN_METRICS.name)


class ShippedRule(Protocol):
    """What a rule shipped with the project stores in `watchtower_rules`."""

    name: str
    description: str
    field_name: str
    condition: Condition
    threshold_value: str
    severity: Severity


def insert_missing_shipped_rules(
    connection: sa.Connection, rules: Sequence[ShippedRule], target_table: str
) -> None:
    """Store those of `rules` (shipped rules on `target_table`) whose name is not stored yet;
    stored rows keep whatever the user changed (threshold, severity, enabled)."""
    stored = set(
        connection.execute(
            sa.select(watchtower_rules.c.name).where(
                watchtower_rules.c.name.in_([rule.name for rule in rules])
            )
        ).scalars()
    )
    rows = [
        {
            "name": rule.name,
            "description": rule.description,
            "target_table": target_table,
            "field_name": rule.field_name,
            "condition": rule.condition.value,
            "threshold_value": rule.threshold_value,
            "severity": rule.severity.value,
        }
        for rule in rules
        if rule.name not in stored
    ]
    if rows:
        connection.execute(watchtower_rules.insert(), rows)
