"""The rules watching one ops source, as its asset's `watchtower` check evaluates them."""

from __future__ import annotations

from ownlay_pipelines.watchtower.rules import source_id_by_name
from ownlay_pipelines.watchtower.source_rules import evaluate_source
from ownlay_pipelines_tests.watchtower.factories import put_snapshot
from ownlay_pipelines_tests.watchtower.test_engine_ops import CAMPAIGNS, _add


def test_each_source_evaluates_its_own_rules_and_its_bound_targets(store, clock):
    put_snapshot(store, clock, "omnisend", "campaigns", CAMPAIGNS)
    put_snapshot(
        store,
        clock,
        "internal",
        "communication_reports",
        [{"external_id": "acme-comms", "metrics": {"days_since_team_message": 9}}],
    )
    with store.connect() as connection:
        campaigns = source_id_by_name(connection, "omnisend/campaigns")
        automations = source_id_by_name(connection, "omnisend/automations")
    # Seed 004's example rules.
    _add(
        store,
        clock,
        name="Low Open Rate",
        source_id=campaigns,
        field_name="open_rate",
        condition="less_than",
        threshold_value="15",
        severity="warning",
    )
    _add(
        store,
        clock,
        name="Disabled automation",
        source_id=automations,
        field_name="status",
        condition="equals",
        threshold_value="disabled",
    )
    _add(
        store,
        clock,
        target_table="communication_reports",
        name="No Outreach for 7+ Days",
        field_name="days_since_team_message",
        condition="greater_than",
        threshold_value="7",
    )
    _add(  # spans every source: not any single source's check
        store,
        clock,
        name="Any failed",
        field_name="status",
        condition="equals",
        threshold_value="x",
    )

    (low_open,) = evaluate_source(store, "omnisend", "campaigns", clock=clock)
    assert low_open.rule_name == "Low Open Rate"
    assert {e.entity["external_id"] for e in low_open.fired} == {"cmp-1", "cmp-3"}

    (outreach,) = evaluate_source(store, "internal", "communication_reports", clock=clock)
    assert outreach.rule_name == "No Outreach for 7+ Days"
    assert [e.entity["external_id"] for e in outreach.fired] == ["acme-comms"]

    (disabled,) = evaluate_source(store, "omnisend", "automations", clock=clock)
    assert disabled.passed and disabled.rule_name == "Disabled automation"
    assert evaluate_source(store, "internal", "clients", clock=clock) == []
