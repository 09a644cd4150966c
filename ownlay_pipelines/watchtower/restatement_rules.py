"""Shipped rules on the restatement ledger (`ledger/restatements`): a day moved unusually.

Platforms restate recent days as a matter of course (conversions keep arriving for the whole
attribution window), so a rule must not fire on that. What is unusual:

- **spend** moving after it settled: spend is final within about a day, so once a day has been
  synced at least `SETTLED_AFTER_DAYS` after it ended, any later move of more than
  `SPEND_MOVE_PERCENT` % and more than `MIN_MOVE_USD` is a platform correction (invalid-click
  credits, a billing fix) or a connector bug, and the spend already reported was wrong;
- **conversion value** falling after it settled by more than `VALUE_DROP_PERCENT` % and more than
  `MIN_MOVE_USD` (conversions are added as they mature, not removed: a drop is de-duplication or a
  broken tag being repaired), or more than doubling (`VALUE_RISE_PERCENT`), which is far beyond
  the maturation a settled day still sees.

The baseline is the first settled value the lake held: the `*_before` of the earliest ledger row
synced `SETTLED_AFTER_DAYS` + 1 days after the report date. Scheduled syncs re-read a day at
least daily (15 min to 1 h for ad platforms), so what the lake held then was itself synced
`SETTLED_AFTER_DAYS`+ days after the day. The current value is the latest `*_after`. One entity per workspace × platform × ad account × report date. Money guards
are in US dollars at the day's ECB rate like the other shipped rules (`builtin_rules.py`), which
is the same test as comparing in the workspace's reporting currency against the guard there.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import duckdb
import sqlalchemy as sa

from ownlay_pipelines.registry.tenant import TENANT_COLUMN
from ownlay_pipelines.watchtower.builtin_rules import (
    BUILTIN_BY_NAME,
    BuiltinRule,
    insert_missing_shipped_rules,
    rows_with_usd,
)
from ownlay_pipelines.watchtower.conditions import Condition, Severity
from ownlay_pipelines.watchtower.errors import RuleDefinitionError
from ownlay_pipelines.watchtower.matches import Match, render_value, value_row_match
from ownlay_pipelines.watchtower.rules import BUILTIN_PREFIX
from ownlay_pipelines.watchtower.sql_warehouse import quote
from ownlay_pipelines.watchtower.targets import RESTATEMENT_LEDGER, warehouse_fields

SETTLED_AFTER_DAYS = 2
"""A day synced this many UTC days after its date has ended in every timezone and settled."""
SPEND_MOVE_PERCENT = Decimal(10)
VALUE_DROP_PERCENT = Decimal(20)
VALUE_RISE_PERCENT = Decimal(100)
MIN_MOVE_USD = Decimal(50)
"""A move smaller than this (in US dollars at the day's rate) is not worth an alert."""

_LEDGER = quote(RESTATEMENT_LEDGER.relation)
_KEYS = ", ".join(quote(c) for c in RESTATEMENT_LEDGER.entity_columns)


def _moves_sql(measure: str, condition: str) -> str:
    """Per account-day: the settled baseline and the latest value of `measure`, with the move in
    US dollars (`moved_usd`, NULL without a rate), filtered by `condition`."""
    return f"""
WITH {{usd}}, days AS (
    SELECT {_KEYS}, any_value(currency) AS currency,
        arg_min({measure}_before, synced_at)
            FILTER (WHERE synced_at >= report_date + INTERVAL {SETTLED_AFTER_DAYS + 1} DAY)
            AS settled,
        arg_max({measure}_after, synced_at) AS latest
    FROM {_LEDGER} GROUP BY ALL
), moved AS (
    SELECT d.*, CAST(d.latest - d.settled AS DOUBLE) AS change,
        CASE WHEN d.currency = 'USD' THEN abs(CAST(d.latest - d.settled AS DOUBLE))
             ELSE abs(CAST(d.latest - d.settled AS DOUBLE)) * x.factor END AS moved_usd
    FROM days AS d ASOF LEFT JOIN to_usd AS x
      ON x.currency = d.currency AND d.report_date >= x.rate_date
    WHERE d.settled > 0
)
SELECT {_KEYS}, report_date AS as_of, latest AS current_value, settled AS previous_value
FROM moved WHERE moved_usd > ? AND ({condition})
"""


@dataclass(frozen=True)
class LedgerRule:
    """A shipped rule over the restatement ledger: its stored row's fields and its statement."""

    name: str
    description: str
    field_name: str
    condition: Condition
    threshold_value: str
    severity: Severity
    sql: str
    params: tuple[object, ...]

    def matches(self, warehouse: duckdb.DuckDBPyConnection) -> list[Match]:
        """Account-days of the ledger this rule finds, as one set-based query."""
        present = warehouse_fields(warehouse, RESTATEMENT_LEDGER, {})
        needed = ("currency", f"{self.field_name}_before", f"{self.field_name}_after")
        if missing := [c for c in needed if c not in present]:
            raise RuleDefinitionError(
                f"{self.name} reads {', '.join(missing)}, which view "
                f"{RESTATEMENT_LEDGER.relation} does not have"
            )
        found = []
        for row in rows_with_usd(warehouse, self.sql, self.params):
            entity = {
                "client_id": render_value(row[TENANT_COLUMN]),
                "platform": render_value(row["platform"]),
                "account_id": render_value(row["account_id"]),
                "report_date": render_value(row["report_date"]),
            }
            found.append(value_row_match(row, entity))
        return found


LEDGER_RULES: tuple[LedgerRule, ...] = (
    LedgerRule(
        name=f"{BUILTIN_PREFIX}Spend restated after it settled",
        description=(
            f"A day's spend moved by more than {SPEND_MOVE_PERCENT} % and more than "
            f"{MIN_MOVE_USD} USD after it was first synced {SETTLED_AFTER_DAYS}+ days after the "
            "day: the platform corrected spend already reported (restatement ledger)."
        ),
        field_name="spend",
        condition=Condition.GREATER_THAN,
        threshold_value=f"|change| > {SPEND_MOVE_PERCENT} % and > {MIN_MOVE_USD} USD",
        severity=Severity.WARNING,
        sql=_moves_sql("spend", "abs(change) > ? / 100 * settled"),
        params=(MIN_MOVE_USD, SPEND_MOVE_PERCENT),
    ),
    LedgerRule(
        name=f"{BUILTIN_PREFIX}Conversion value restated unusually",
        description=(
            f"A day's platform conversion value fell by more than {VALUE_DROP_PERCENT} % or "
            f"rose by more than {VALUE_RISE_PERCENT} % (and by more than {MIN_MOVE_USD} USD) "
            f"after it was first synced {SETTLED_AFTER_DAYS}+ days after the day; ordinary "
            "maturation of late conversions stays below both (restatement ledger)."
        ),
        field_name="conversion_value",
        condition=Condition.GREATER_THAN,
        threshold_value=f"change < -{VALUE_DROP_PERCENT} % or > +{VALUE_RISE_PERCENT} %, "
        f"> {MIN_MOVE_USD} USD",
        severity=Severity.WARNING,
        sql=_moves_sql(
            "conversion_value", "change < -1 * ? / 100 * settled OR change > ? / 100 * settled"
        ),
        params=(MIN_MOVE_USD, VALUE_DROP_PERCENT, VALUE_RISE_PERCENT),
    ),
)

SHIPPED_BY_NAME: dict[str, BuiltinRule | LedgerRule] = {
    **BUILTIN_BY_NAME,
    **{rule.name: rule for rule in LEDGER_RULES},
}
"""Every shipped rule (unified-table and ledger ones) by stored name, for the engine."""


def ensure_ledger_rules(connection: sa.Connection) -> None:
    """Store the ledger rules that are missing; existing rows (and their settings) are kept."""
    insert_missing_shipped_rules(connection, LEDGER_RULES, RESTATEMENT_LEDGER.name)
