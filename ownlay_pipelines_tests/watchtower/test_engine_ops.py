"""Rules on ops-store records: each condition, compound groups, dependencies, client scoping."""

from __future__ import annotations

import uuid

import pytest

from ownlay_pipelines.watchtower.alerts import acknowledge_alert, list_alerts
from ownlay_pipelines.watchtower.engine import evaluate_target
from ownlay_pipelines.watchtower.rules import RuleSpec, add_rule, source_id_by_name
from ownlay_pipelines_tests.watchtower.factories import put_snapshot

CAMPAIGNS = [
    {
        "external_id": "cmp-1",
        "name": "Black Friday",
        "status": "sent",
        "tags": ["high-value", "bf"],
        "quantity": 12000,
        "metrics": {"open_rate": 12.5, "click_rate": 1.1},
    },
    {
        "external_id": "cmp-2",
        "name": "Welcome",
        "status": "draft",
        "tags": ["onboarding"],
        "quantity": 300,
        "metrics": {"open_rate": 41.0, "click_rate": 6.0},
    },
    {
        "external_id": "cmp-3",
        "name": "Failed blast",
        "status": "failed",
        "tags": [],
        "quantity": 0,
        "metrics": {"open_rate": 0},
    },
]


def _fired(outcomes, name):
    (outcome,) = [o for o in outcomes if o.rule_name == name]
    return {e.entity["external_id"]: (e.current_value, e.previous_value) for e in outcome.fired}


def _add(store, clock, **spec):
    clock.advance(seconds=1)
    return add_rule(store, RuleSpec(**spec), clock=clock)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"field_name": "status", "condition": "equals", "threshold_value": "failed"}, {"cmp-3"}),
        (
            {"field_name": "open_rate", "condition": "less_than", "threshold_value": "15"},
            {"cmp-1", "cmp-3"},
        ),
        (
            {"field_name": "quantity", "condition": "greater_than", "threshold_value": "1000"},
            {"cmp-1"},
        ),
        ({"field_name": "open_rate", "condition": "equals", "threshold_value": "41"}, {"cmp-2"}),
        ({"field_name": "name", "condition": "contains", "threshold_value": "Friday"}, {"cmp-1"}),
        ({"field_name": "name", "condition": "contains", "threshold_value": "friday"}, set()),
        (
            {"field_name": "tags", "condition": "contains", "threshold_value": "high-value"},
            {"cmp-1"},
        ),
        ({"field_name": "tags", "condition": "contains", "threshold_value": "high"}, set()),
    ],
)
def test_each_condition_matches_the_expected_records(store, clock, spec, expected):
    put_snapshot(store, clock, "omnisend", "campaigns", CAMPAIGNS)
    rule = _add(store, clock, name="rule", **spec)
    (outcome,) = evaluate_target("api_records", store=store, clock=clock)
    assert outcome.rule_id == rule.id
    assert {e.entity["external_id"] for e in outcome.fired} == expected
    assert outcome.passed is (not expected)


def test_numbers_compare_numerically_not_as_text(store, clock):
    put_snapshot(store, clock, "omnisend", "campaigns", CAMPAIGNS)
    _add(
        store,
        clock,
        name="big",
        field_name="quantity",
        condition="greater_than",
        threshold_value="9",
    )
    (outcome,) = evaluate_target("api_records", store=store, clock=clock)
    # As text '12000' < '9' and '300' < '9'; as numbers both are larger.
    assert {e.entity["external_id"] for e in outcome.fired} == {"cmp-1", "cmp-2"}


def test_changed_compares_with_the_previous_snapshot(store, clock):
    put_snapshot(store, clock, "omnisend", "campaigns", CAMPAIGNS)
    _add(store, clock, name="status changed", field_name="status", condition="changed")
    _add(store, clock, name="open rate changed", field_name="open_rate", condition="changed")
    first = evaluate_target("api_records", store=store, clock=clock)
    assert all(o.passed for o in first)  # a first observation is not a change
    second = [dict(c, metrics=dict(c["metrics"])) for c in CAMPAIGNS]
    second[1]["status"] = "sent"
    second[0]["metrics"]["open_rate"] = 13.0
    put_snapshot(store, clock, "omnisend", "campaigns", second)
    outcomes = evaluate_target("api_records", store=store, clock=clock)
    assert _fired(outcomes, "status changed") == {"cmp-2": ("sent", "draft")}
    assert _fired(outcomes, "open rate changed") == {"cmp-1": ("13", "12.5")}


def test_a_failed_snapshot_is_not_the_current_one(store, clock):
    put_snapshot(store, clock, "omnisend", "campaigns", CAMPAIGNS)
    _add(
        store,
        clock,
        name="failed",
        field_name="status",
        condition="equals",
        threshold_value="failed",
    )
    from ownlay_pipelines.watchtower.snapshots import ApiSnapshotLog

    log = ApiSnapshotLog(store, clock=clock)
    broken = log.create("omnisend", "campaigns", client_id="acme-outdoor")
    log.fail(broken, "HTTP 500")
    (outcome,) = evaluate_target("api_records", store=store, clock=clock)
    assert {e.entity["external_id"] for e in outcome.fired} == {"cmp-3"}


@pytest.mark.parametrize(
    ("logic", "expected"), [("AND", {"cmp-1"}), ("OR", {"cmp-1", "cmp-2", "cmp-3"})]
)
def test_compound_group_is_one_rule_combining_its_conditions(store, clock, logic, expected):
    put_snapshot(store, clock, "omnisend", "campaigns", CAMPAIGNS)
    group_id = uuid.uuid4()
    lead = _add(
        store,
        clock,
        name="Low open, big send",
        field_name="open_rate",
        condition="less_than",
        threshold_value="15",
        group_id=group_id,
        logic_operator=logic,
    )
    _add(
        store,
        clock,
        name="Low open, big send (size)",
        field_name="quantity",
        condition="greater_than",
        threshold_value="100",
        group_id=group_id,
        logic_operator=logic,
    )
    (outcome,) = evaluate_target("api_records", store=store, clock=clock)
    assert (outcome.rule_id, len(outcome.member_rule_ids)) == (lead.id, 2)
    assert {e.entity["external_id"] for e in outcome.fired} == expected
    fired = {e.entity["external_id"]: e for e in outcome.fired}
    assert fired["cmp-1"].current_value == "open_rate=12.5; quantity=12000"


def test_rule_scoped_to_a_client_ignores_other_clients(store, clock):
    put_snapshot(store, clock, "omnisend", "campaigns", CAMPAIGNS, client_id="acme-outdoor")
    put_snapshot(store, clock, "omnisend", "campaigns", CAMPAIGNS, client_id="kumo-tea")
    _add(
        store,
        clock,
        name="failed kumo",
        field_name="status",
        condition="equals",
        threshold_value="failed",
        client_id="kumo-tea",
    )
    _add(
        store,
        clock,
        name="failed all",
        field_name="status",
        condition="equals",
        threshold_value="failed",
    )
    outcomes = {o.rule_name: o for o in evaluate_target("api_records", store=store, clock=clock)}
    assert [e.client_id for e in outcomes["failed kumo"].fired] == ["kumo-tea"]
    assert sorted(e.client_id for e in outcomes["failed all"].fired) == ["acme-outdoor", "kumo-tea"]


def test_source_scoped_rule_and_comms_target_only_see_their_records(store, clock):
    put_snapshot(store, clock, "omnisend", "campaigns", CAMPAIGNS)
    put_snapshot(
        store,
        clock,
        "internal",
        "communication_reports",
        [
            {
                "external_id": "acme-comms",
                "status": "failed",
                "metrics": {"days_since_team_message": 9},
            }
        ],
    )
    with store.connect() as connection:
        campaigns = source_id_by_name(connection, "omnisend/campaigns")
    _add(
        store,
        clock,
        name="failed campaign",
        source_id=campaigns,
        field_name="status",
        condition="equals",
        threshold_value="failed",
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
    (records,) = evaluate_target("api_records", store=store, clock=clock)
    assert {e.entity["external_id"] for e in records.fired} == {"cmp-3"}
    (comms,) = evaluate_target("communication_reports", store=store, clock=clock)
    assert [(e.entity["external_id"], e.current_value) for e in comms.fired] == [
        ("acme-comms", "9")
    ]


def test_values_outside_the_metric_range_are_reported_not_alerted(store, clock):
    broken = [dict(CAMPAIGNS[0], metrics={"open_rate": 130})]
    put_snapshot(store, clock, "omnisend", "campaigns", broken)
    _add(
        store,
        clock,
        name="high open",
        field_name="open_rate",
        condition="greater_than",
        threshold_value="50",
    )
    (outcome,) = evaluate_target("api_records", store=store, clock=clock)
    assert outcome.fired == ()
    assert [(e.entity["external_id"], e.current_value) for e in outcome.out_of_range] == [
        ("cmp-1", "130")
    ]
    assert list_alerts(store) == []


def _comms_and_cvr(store, clock, dependency):
    put_snapshot(
        store,
        clock,
        "internal",
        "communication_reports",
        [
            {"external_id": "acme", "metrics": {"days_since_team_message": 9}},
        ],
        client_id="acme-outdoor",
    )
    put_snapshot(
        store,
        clock,
        "internal",
        "communication_reports",
        [
            {"external_id": "kumo", "metrics": {"days_since_team_message": 1}},
        ],
        client_id="kumo-tea",
    )
    for client in ("acme-outdoor", "kumo-tea"):
        put_snapshot(
            store,
            clock,
            "scraper",
            "cvr",
            [{"external_id": "2026-11", "metrics": {"cvr": 1.2}}],
            client_id=client,
        )
    parent = _add(
        store,
        clock,
        target_table="communication_reports",
        name="No Outreach for 7+ Days",
        field_name="days_since_team_message",
        condition="greater_than",
        threshold_value="7",
    )
    _add(
        store,
        clock,
        name="Low CVR (No Contact)",
        field_name="cvr",
        condition="less_than",
        threshold_value="2",
        parent_rule_id=parent.id,
        dependency_condition=dependency,
        severity="critical",
    )
    return parent


@pytest.mark.parametrize(
    ("dependency", "expected"), [("triggered", ["acme-outdoor"]), ("not_triggered", ["kumo-tea"])]
)
def test_child_rule_follows_its_parent_by_client(store, clock, dependency, expected):
    _comms_and_cvr(store, clock, dependency)
    evaluate_target("communication_reports", store=store, clock=clock)
    (child,) = evaluate_target("api_records", store=store, clock=clock)
    assert sorted(e.client_id for e in child.fired) == expected
    assert sorted(e.client_id for e in child.suppressed) == sorted(
        {"acme-outdoor", "kumo-tea"} - set(expected)
    )
    assert [
        a.client_id for a in list_alerts(store) if a.rule_name.startswith("Low CVR")
    ] == expected


def test_acknowledged_dependency_waits_for_the_parent_acknowledgement(store, clock):
    _comms_and_cvr(store, clock, "acknowledged")
    evaluate_target("communication_reports", store=store, clock=clock)
    (child,) = evaluate_target("api_records", store=store, clock=clock)
    assert child.fired == () and len(child.suppressed) == 2
    (parent_alert,) = list_alerts(store)
    acknowledge_alert(store, parent_alert.id, by="dana@acme.test", now=clock())
    (child,) = evaluate_target("api_records", store=store, clock=clock)
    assert [e.client_id for e in child.fired] == ["acme-outdoor"]


def test_parent_group_on_the_same_target_gates_entity_by_entity_and_runs_first(store, clock):
    put_snapshot(store, clock, "omnisend", "campaigns", CAMPAIGNS)
    group_id = uuid.uuid4()
    _add(
        store,
        clock,
        name="quiet",
        field_name="open_rate",
        condition="less_than",
        threshold_value="15",
        group_id=group_id,
    )
    member = _add(
        store,
        clock,
        name="quiet (sent)",
        field_name="status",
        condition="equals",
        threshold_value="sent",
        group_id=group_id,
    )
    # Single rules are listed before groups; the child must still wait for its parent group.
    _add(
        store,
        clock,
        name="low click too",
        field_name="click_rate",
        condition="less_than",
        threshold_value="5",
        parent_rule_id=member.id,
        dependency_condition="triggered",
    )
    outcomes = evaluate_target("api_records", store=store, clock=clock)
    assert [o.rule_name for o in outcomes] == ["quiet", "low click too"]
    assert {e.entity["external_id"] for e in outcomes[1].fired} == {"cmp-1"}
