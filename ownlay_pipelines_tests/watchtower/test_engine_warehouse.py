"""Rules and shipped checks on the unified campaign view in DuckDB."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import pytest
import sqlalchemy as sa

from ownlay_pipelines.watchtower.builtin_rules import BUILTIN_RULES
from ownlay_pipelines.watchtower.engine import evaluate_target
from ownlay_pipelines.watchtower.errors import RuleDefinitionError
from ownlay_pipelines.watchtower.restatement_rules import LEDGER_RULES
from ownlay_pipelines.watchtower.rules import RuleSpec, add_rule, disable_rule, list_rules
from ownlay_pipelines.watchtower.tables import api_snapshots, api_sources, watchtower_rules
from ownlay_pipelines_tests.watchtower.factories import unified_row, unified_warehouse

UNIFIED = "unified/campaign_metrics_daily"
DAY = date(2026, 11, 20)


def _history(campaign_id: str = "c1", days: int = 8, **latest) -> list[tuple]:
    """`days` ordinary days (ROAS 4, CTR 2 %, spend 200, 10 conversions), the last one overridden."""
    rows = [
        unified_row(DAY - timedelta(days=days - 1 - i), campaign_id=campaign_id)
        for i in range(days - 1)
    ]
    return [*rows, unified_row(DAY, campaign_id=campaign_id, **latest)]


def _user_rules_only(store):
    for rule in list_rules(store):
        if rule.is_builtin:
            disable_rule(store, rule.id)


def _evaluate(store, warehouse, clock):
    return {
        o.rule_name: o
        for o in evaluate_target(UNIFIED, store=store, warehouse=warehouse, clock=clock)
    }


def _add(store, warehouse, clock, **spec):
    clock.advance(seconds=1)
    return add_rule(store, RuleSpec(target_table=UNIFIED, **spec), warehouse=warehouse, clock=clock)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"field_name": "roas", "condition": "less_than", "threshold_value": "2"}, {"c2"}),
        ({"field_name": "spend", "condition": "greater_than", "threshold_value": "1000"}, {"c2"}),
        (
            {"field_name": "campaign_status", "condition": "equals", "threshold_value": "PAUSED"},
            {"c2"},
        ),
        ({"field_name": "campaign_name", "condition": "contains", "threshold_value": "c1"}, {"c1"}),
        (
            {
                "field_name": "report_date",
                "condition": "greater_than",
                "threshold_value": "2026-11-19",
            },
            {"c1", "c2"},
        ),
    ],
)
def test_conditions_on_each_campaigns_latest_day(sqlite_store, clock, spec, expected):
    warehouse = unified_warehouse(
        [*_history("c1"), *_history("c2", spend=1500.0, conversion_value=1500.0, status="PAUSED")]
    )
    _add(sqlite_store, warehouse, clock, name="rule", **spec)
    _user_rules_only(sqlite_store)
    outcome = _evaluate(sqlite_store, warehouse, clock)["rule"]
    assert {e.entity["campaign_id"] for e in outcome.fired} == expected
    assert all(e.as_of == "2026-11-20" for e in outcome.fired)


def test_changed_compares_a_campaign_with_its_previous_day(sqlite_store, clock):
    rows = _history("c1") + _history("c2")
    rows[-1] = unified_row(DAY, campaign_id="c2", status="PAUSED")
    warehouse = unified_warehouse(rows)
    _add(
        sqlite_store,
        warehouse,
        clock,
        name="status changed",
        field_name="campaign_status",
        condition="changed",
    )
    _user_rules_only(sqlite_store)
    outcome = _evaluate(sqlite_store, warehouse, clock)["status changed"]
    assert [
        (e.entity["campaign_id"], e.current_value, e.previous_value) for e in outcome.fired
    ] == [("c2", "PAUSED", "ACTIVE")]


def test_client_scoped_warehouse_rule_sees_only_its_workspace(sqlite_store, clock):
    warehouse = unified_warehouse(
        [
            unified_row(DAY, workspace_id="acme-outdoor", conversion_value=100.0),
            unified_row(DAY, workspace_id="kumo-tea", conversion_value=100.0),
        ]
    )
    _add(
        sqlite_store,
        warehouse,
        clock,
        name="low roas kumo",
        field_name="roas",
        condition="less_than",
        threshold_value="2",
        client_id="kumo-tea",
    )
    _user_rules_only(sqlite_store)
    outcome = _evaluate(sqlite_store, warehouse, clock)["low roas kumo"]
    assert [(e.client_id, e.entity["client_id"]) for e in outcome.fired] == [
        ("kumo-tea", "kumo-tea")
    ]
    assert outcome.check_severity == "WARN"


def test_a_warehouse_evaluation_records_a_triggered_snapshot(sqlite_store, clock):
    warehouse = unified_warehouse(_history("c1"))
    _evaluate(sqlite_store, warehouse, clock)
    with sqlite_store.connect() as connection:
        row = connection.execute(
            sa.select(
                api_snapshots.c.snapshot_type, api_snapshots.c.status, api_snapshots.c.total_records
            )
            .join(api_sources, api_sources.c.id == api_snapshots.c.source_id)
            .where(api_sources.c.provider == "warehouse", api_sources.c.endpoint == UNIFIED)
        ).one()
    assert tuple(row) == ("triggered", "completed", 8)


def test_a_column_dropped_from_the_view_fails_only_its_rule(sqlite_store, clock):
    warehouse = unified_warehouse(_history("c1", conversion_value=100.0))
    _add(
        sqlite_store,
        warehouse,
        clock,
        name="low roas",
        field_name="roas",
        condition="less_than",
        threshold_value="2",
    )
    _add(
        sqlite_store,
        warehouse,
        clock,
        name="big spend",
        field_name="spend",
        condition="greater_than",
        threshold_value="1",
    )
    _user_rules_only(sqlite_store)
    warehouse.execute(
        "CREATE OR REPLACE VIEW unified_campaign_metrics_daily AS SELECT * EXCLUDE (roas) FROM unified_rows"
    )
    outcomes = _evaluate(sqlite_store, warehouse, clock)
    assert outcomes["low roas"].passed is False
    assert "neither a column of unified/campaign_metrics_daily" in outcomes["low roas"].error
    assert len(outcomes["big spend"].fired) == 1


def test_warehouse_target_needs_the_connection_and_the_view(sqlite_store, clock):
    with pytest.raises(RuleDefinitionError, match="pass its DuckDB connection"):
        evaluate_target(UNIFIED, store=sqlite_store, clock=clock)
    with pytest.raises(RuleDefinitionError, match="no view unified_campaign_metrics_daily"):
        evaluate_target(UNIFIED, store=sqlite_store, warehouse=duckdb.connect(), clock=clock)


def _builtin(outcomes, name):
    return outcomes[f"builtin: {name}"]


# What each shipped rule finds is tested in test_builtin_rules.py; here, that the engine runs them.


def test_builtin_rules_are_stored_once_and_can_be_disabled(sqlite_store, clock):
    warehouse = unified_warehouse(_history("c1"))
    _evaluate(sqlite_store, warehouse, clock)
    _evaluate(sqlite_store, warehouse, clock)
    builtins = [r for r in list_rules(sqlite_store) if r.is_builtin]
    # The shipped ledger rules (watchtower/restatement_rules.py) are stored beside them.
    assert len(builtins) == len(BUILTIN_RULES) + len(LEDGER_RULES)
    disable_rule(sqlite_store, builtins[0].id)
    assert builtins[0].name not in _evaluate(sqlite_store, warehouse, clock)


@pytest.mark.parametrize("field_name", ["roas; DROP TABLE x", '"x"--', "../etc"])
def test_a_stored_rule_with_an_injected_field_is_refused_at_evaluation(
    sqlite_store, clock, field_name
):
    # A row written around add_rule (raw SQL, an old version) must still never reach the SQL.
    warehouse = unified_warehouse(_history("c1"))
    warehouse.execute("CREATE TABLE x (i INTEGER)")
    with sqlite_store.begin() as connection:
        connection.execute(
            watchtower_rules.insert().values(
                name="smuggled",
                target_table=UNIFIED,
                field_name=field_name,
                condition="greater_than",
                threshold_value="1",
            )
        )
    outcome = _evaluate(sqlite_store, warehouse, clock)["smuggled"]
    assert outcome.passed is False
    assert "is not a column or metric name" in outcome.error
    assert warehouse.execute("SELECT count(*) FROM x").fetchone() == (0,)
