"""Rule definitions: seed 004's examples, and refusals that name the fault and run nothing."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
import sqlalchemy as sa
from pydantic import ValidationError

from ownlay_pipelines.watchtower.errors import RuleDefinitionError, UnknownTargetError
from ownlay_pipelines.watchtower.rules import (
    RuleSpec,
    add_rule,
    disable_rule,
    source_id_by_name,
)
from ownlay_pipelines_tests.watchtower.factories import unified_row, unified_warehouse, user_rules

INJECTIONS = ["roas; DROP TABLE x", '"x"--', "../etc", "1=1 OR roas", "Roas", "roas)"]


def _table_names(store) -> set[str]:
    return set(sa.inspect(store).get_table_names())


def test_seed_004_examples_are_accepted(store, clock):
    with store.connect() as connection:
        omnisend_campaigns = source_id_by_name(connection, "omnisend/campaigns")
    simple = add_rule(
        store,
        RuleSpec(
            source_id=omnisend_campaigns,
            name="Low Open Rate",
            field_name="open_rate",
            condition="less_than",
            threshold_value="15",
            severity="warning",
            notify_immediately=True,
            notify_discord=True,
            discord_channel_id="123456789",
        ),
        clock=clock,
    )
    group_id = uuid.uuid4()
    roas = add_rule(
        store,
        RuleSpec(
            name="Low ROAS + High Spend",
            field_name="roas",
            condition="less_than",
            threshold_value="2",
            group_id=group_id,
            logic_operator="AND",
        ),
        clock=clock,
    )
    clock.advance(seconds=1)
    spend = add_rule(
        store,
        RuleSpec(
            name="Low ROAS + High Spend (Spend)",
            field_name="spend",
            condition="greater_than",
            threshold_value="1000",
            group_id=group_id,
            logic_operator="AND",
        ),
        clock=clock,
    )
    no_outreach = add_rule(
        store,
        RuleSpec(
            target_table="communication_reports",
            name="No Outreach for 7+ Days",
            field_name="days_since_team_message",
            condition="greater_than",
            threshold_value="7",
            severity="warning",
        ),
        clock=clock,
    )
    low_cvr = add_rule(
        store,
        RuleSpec(
            name="Low CVR (No Contact)",
            field_name="cvr",
            condition="less_than",
            threshold_value="2",
            parent_rule_id=no_outreach.id,
            dependency_condition="triggered",
            severity="critical",
        ),
        clock=clock,
    )
    stored = {rule.id: rule for rule in user_rules(store)}
    assert set(stored) == {simple.id, roas.id, spend.id, no_outreach.id, low_cvr.id}
    assert stored[simple.id].discord_channel_id == "123456789"
    assert stored[simple.id].source_id == omnisend_campaigns
    assert stored[spend.id].group_id == stored[roas.id].group_id == group_id
    assert stored[low_cvr.id].parent_rule_id == no_outreach.id
    assert stored[low_cvr.id].target.name == "api_records"
    assert (stored[roas.id].severity, stored[roas.id].is_active) == ("warning", True)


@pytest.mark.parametrize("field_name", INJECTIONS)
def test_malformed_field_names_are_refused_and_nothing_runs(store, clock, field_name):
    before = _table_names(store)
    with pytest.raises(RuleDefinitionError, match="is not a column or metric name"):
        add_rule(
            store,
            RuleSpec(name="bad", field_name=field_name, condition="less_than", threshold_value="1"),
            clock=clock,
        )
    assert _table_names(store) == before
    assert user_rules(store, include_inactive=True) == []


@pytest.mark.parametrize("field_name", INJECTIONS)
def test_malformed_field_names_on_the_warehouse_are_refused(sqlite_store, clock, field_name):
    warehouse = unified_warehouse([unified_row(date(2026, 11, 20))])
    warehouse.execute("CREATE TABLE x (i INTEGER)")
    with pytest.raises(RuleDefinitionError, match="is not a column or metric name"):
        add_rule(
            sqlite_store,
            RuleSpec(
                name="bad",
                target_table="unified/campaign_metrics_daily",
                field_name=field_name,
                condition="greater_than",
                threshold_value="1",
            ),
            warehouse=warehouse,
            clock=clock,
        )
    assert warehouse.execute("SELECT count(*) FROM x").fetchone() == (0,)


def test_unknown_fields_list_the_known_ones(sqlite_store, clock):
    with pytest.raises(
        RuleDefinitionError, match=r"neither a column of clients.*known fields: .*status"
    ):
        add_rule(
            sqlite_store,
            RuleSpec(
                name="x",
                target_table="clients",
                field_name="cvr",
                condition="less_than",
                threshold_value="2",
            ),
            clock=clock,
        )


def test_warehouse_fields_come_from_the_view_and_metric_ranges_apply(sqlite_store, clock):
    warehouse = unified_warehouse([unified_row(date(2026, 11, 20))])
    rule = add_rule(
        sqlite_store,
        RuleSpec(
            name="ROAS under 2",
            target_table="unified/campaign_metrics_daily",
            field_name="roas",
            condition="less_than",
            threshold_value="2",
        ),
        warehouse=warehouse,
        clock=clock,
    )
    assert rule.target_table == "unified/campaign_metrics_daily"
    with pytest.raises(RuleDefinitionError, match="outside its valid range 0–∞"):
        add_rule(
            sqlite_store,
            RuleSpec(
                name="neg",
                target_table="unified/campaign_metrics_daily",
                field_name="spend",
                condition="less_than",
                threshold_value="-5",
            ),
            warehouse=warehouse,
            clock=clock,
        )
    with pytest.raises(RuleDefinitionError, match="needs the warehouse"):
        add_rule(
            sqlite_store,
            RuleSpec(
                name="no wh",
                target_table="unified/campaign_metrics_daily",
                field_name="roas",
                condition="less_than",
                threshold_value="2",
            ),
            clock=clock,
        )


def test_unknown_target_is_refused(sqlite_store, clock):
    with pytest.raises(UnknownTargetError, match="use one of api_records, clients"):
        add_rule(
            sqlite_store,
            RuleSpec(name="x", target_table="users", field_name="status", condition="changed"),
            clock=clock,
        )


def test_group_members_must_agree_on_target_client_and_logic(sqlite_store, clock):
    group_id = uuid.uuid4()
    add_rule(
        sqlite_store,
        RuleSpec(
            name="a",
            field_name="roas",
            condition="less_than",
            threshold_value="2",
            group_id=group_id,
        ),
        clock=clock,
    )
    with pytest.raises(RuleDefinitionError, match="client_id, logic_operator must match"):
        add_rule(
            sqlite_store,
            RuleSpec(
                name="b",
                field_name="spend",
                condition="greater_than",
                threshold_value="1000",
                group_id=group_id,
                logic_operator="OR",
                client_id="acme-outdoor",
            ),
            clock=clock,
        )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": "builtin: mine"}, "reserved for shipped rules"),
        ({"dependency_condition": "triggered"}, "give both or none"),
        ({"notify_schedule": "weekly", "notify_time": "09:00"}, "notify_day_of_week"),
        ({"notify_email": True}, "needs email_recipients"),
        ({"email_recipients": ["not-an-address"]}, "is not an e-mail address"),
        ({"client_id": "Acme Outdoor"}, "not a slug"),
        ({"discord_channel_id": "#general"}, "numeric Discord id"),
    ],
)
def test_rule_spec_refuses_inconsistent_settings(changes, message):
    with pytest.raises(ValidationError, match=message):
        RuleSpec(**{"name": "r", "field_name": "status", "condition": "changed", **changes})


def test_disabled_rules_are_listed_only_on_request(sqlite_store, clock):
    rule = add_rule(
        sqlite_store, RuleSpec(name="s", field_name="status", condition="changed"), clock=clock
    )
    assert disable_rule(sqlite_store, rule.id).is_active is False
    assert user_rules(sqlite_store) == []
    assert [r.id for r in user_rules(sqlite_store, include_inactive=True)] == [rule.id]
