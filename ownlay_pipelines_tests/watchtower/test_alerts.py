"""Alert lifecycle per (rule, entity): dedup, ok → firing → acknowledged → resolved, mute."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from ownlay_pipelines.watchtower.alerts import (
    AlertState,
    acknowledge_alert,
    list_alerts,
    mute_alert,
)
from ownlay_pipelines.watchtower.engine import evaluate_target
from ownlay_pipelines.watchtower.errors import NotFoundError, TransitionError
from ownlay_pipelines.watchtower.rules import RuleSpec, add_rule
from ownlay_pipelines.watchtower.tables import watchtower_alerts, watchtower_deliveries
from ownlay_pipelines_tests.watchtower.factories import put_snapshot

ALL = (AlertState.FIRING, AlertState.ACKNOWLEDGED, AlertState.RESOLVED)


def _cvr(store, clock, value, client_id="acme-outdoor"):
    put_snapshot(
        store,
        clock,
        "scraper",
        "cvr",
        [{"external_id": "2026-11", "metrics": {"cvr": value}}],
        client_id=client_id,
    )


def _low_cvr_rule(store, clock, **notify):
    return add_rule(
        store,
        RuleSpec(
            name="Low CVR",
            field_name="cvr",
            condition="less_than",
            threshold_value="2",
            severity="critical",
            **notify,
        ),
        clock=clock,
    )


def _evaluate(store, clock):
    clock.advance(minutes=5)
    (outcome,) = evaluate_target("api_records", store=store, clock=clock)
    return outcome


def _alert_count(store):
    with store.connect() as connection:
        return connection.execute(
            sa.select(sa.func.count()).select_from(watchtower_alerts)
        ).scalar_one()


def test_same_rule_and_entity_never_alerts_twice_while_unresolved(store, clock):
    _low_cvr_rule(store, clock)
    _cvr(store, clock, 1.5)
    first = _evaluate(store, clock)
    _cvr(store, clock, 1.2)
    second = _evaluate(store, clock)
    assert len(first.opened_alert_ids) == 1 and second.opened_alert_ids == ()
    assert _alert_count(store) == 1
    (alert,) = list_alerts(store)
    assert (alert.state, alert.severity, alert.client_id) == ("firing", "critical", "acme-outdoor")
    assert (alert.current_value, alert.previous_value) == ("1.5", None)
    assert [(e.state, e.current_value, e.previous_value) for e in second.fired] == [
        ("firing", "1.2", "1.5")
    ]
    assert alert.message.startswith(
        "Low CVR: cvr < 2 for client_id=acme-outdoor, source=scraper/cvr"
    )


def test_a_record_repeated_within_a_snapshot_is_one_entity_and_one_alert(store, clock):
    _low_cvr_rule(store, clock)
    repeated = [{"external_id": "2026-11", "metrics": {"cvr": 1.5}}] * 2
    put_snapshot(store, clock, "scraper", "cvr", repeated)
    assert len(_evaluate(store, clock).fired) == 1
    assert _alert_count(store) == 1


def test_every_transition_firing_acknowledged_resolved_and_a_new_episode(store, clock):
    _low_cvr_rule(store, clock)
    _cvr(store, clock, 1.5)
    _evaluate(store, clock)
    (alert,) = list_alerts(store)
    acked = acknowledge_alert(store, alert.id, by="dana@acme.test", now=clock.advance(minutes=1))
    assert (acked.state, acked.is_acknowledged, acked.acknowledged_by) == (
        "acknowledged",
        True,
        "dana@acme.test",
    )
    assert acked.acknowledged_at == clock()
    still = _evaluate(store, clock)  # still low: stays acknowledged, no new alert
    assert [e.state for e in still.fired] == ["acknowledged"] and still.opened_alert_ids == ()
    _cvr(store, clock, 3.0)
    recovered = _evaluate(store, clock)
    assert (recovered.passed, recovered.resolved_count) == (True, 1)
    assert [a.state for a in list_alerts(store, states=ALL)] == ["resolved"]
    _cvr(store, clock, 0.9)
    again = _evaluate(store, clock)
    assert len(again.opened_alert_ids) == 1
    newest, oldest = list_alerts(store, states=ALL)
    assert (newest.state, newest.current_value, newest.is_acknowledged) == ("firing", "0.9", False)
    assert (oldest.id, oldest.state) == (alert.id, "resolved")


def test_firing_resolves_directly_when_the_condition_clears(store, clock):
    _low_cvr_rule(store, clock)
    _cvr(store, clock, 1.5)
    _evaluate(store, clock)
    _cvr(store, clock, 2.5)
    assert _evaluate(store, clock).resolved_count == 1
    assert list_alerts(store) == []
    assert [a.state for a in list_alerts(store, states=[AlertState.RESOLVED])] == ["resolved"]


def test_acknowledging_twice_is_refused_and_unknown_alerts_are_named(sqlite_store, clock):
    _low_cvr_rule(sqlite_store, clock)
    _cvr(sqlite_store, clock, 1.5)
    _evaluate(sqlite_store, clock)
    (alert,) = list_alerts(sqlite_store)
    acknowledge_alert(sqlite_store, alert.id, by="dana", now=clock())
    with pytest.raises(TransitionError, match="already acknowledged by dana"):
        acknowledge_alert(sqlite_store, alert.id, by="sam", now=clock())
    with pytest.raises(NotFoundError, match="does not exist in watchtower_alerts"):
        acknowledge_alert(sqlite_store, alert.id.__class__(int=1), by="sam", now=clock())
    with pytest.raises(ValueError, match="say who acknowledges"):
        acknowledge_alert(sqlite_store, alert.id, by=" ", now=clock())


def test_mute_until_marks_the_entity_muted_across_episodes(store, clock):
    _low_cvr_rule(store, clock)
    _cvr(store, clock, 1.5)
    _evaluate(store, clock)
    (alert,) = list_alerts(store)
    until = clock() + timedelta(hours=4)
    muted = mute_alert(store, alert.id, until=until, now=clock())
    assert (muted.muted_until, muted.state) == (until, "firing")
    assert [e.muted for e in _evaluate(store, clock).fired] == [True]
    _cvr(store, clock, 5)
    _evaluate(store, clock)
    _cvr(store, clock, 1)
    assert [e.muted for e in _evaluate(store, clock).fired] == [True]
    clock.advance(hours=5)
    assert [e.muted for e in _evaluate(store, clock).fired] == [False]
    with pytest.raises(ValueError, match="is not in the future"):
        mute_alert(store, list_alerts(store)[0].id, until=clock(), now=clock())
    with pytest.raises(TransitionError, match="earlier episode"):
        mute_alert(store, alert.id, until=clock() + timedelta(hours=1), now=clock())


def test_alerts_are_listed_by_client_and_rule(sqlite_store, clock):
    rule = _low_cvr_rule(sqlite_store, clock)
    _cvr(sqlite_store, clock, 1.5, client_id="acme-outdoor")
    _cvr(sqlite_store, clock, 1.0, client_id="kumo-tea")
    _evaluate(sqlite_store, clock)
    assert [a.client_id for a in list_alerts(sqlite_store, client_id="kumo-tea")] == ["kumo-tea"]
    assert len(list_alerts(sqlite_store, rule_id=rule.id)) == 2


def test_a_new_alert_queues_one_delivery_per_channel_and_kind(sqlite_store, clock):
    _low_cvr_rule(
        sqlite_store,
        clock,
        notify_discord=True,
        notify_email=True,
        email_recipients=("am@ownlay.test",),
        notify_schedule="daily",
        notify_time="09:00",
    )
    _cvr(sqlite_store, clock, 1.5)
    _evaluate(sqlite_store, clock)
    _evaluate(sqlite_store, clock)
    with sqlite_store.connect() as connection:
        rows = connection.execute(
            sa.select(
                watchtower_deliveries.c.channel,
                watchtower_deliveries.c.kind,
                watchtower_deliveries.c.status,
            )
        ).all()
    assert sorted(tuple(r) for r in rows) == [
        ("discord", "digest", "pending"),
        ("discord", "immediate", "pending"),
        ("email", "digest", "pending"),
        ("email", "immediate", "pending"),
    ]
