"""The shipped rules judge mature days only, guard money in one currency, and catch each incident
kind; the scorer replays 90 sandbox days over 3 workspaces against injected incidents."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import duckdb
import pytest

from ownlay_pipelines.registry.workspaces import load_registry
from ownlay_pipelines.sandbox.incidents import Incident, IncidentKind, IncidentPlan
from ownlay_pipelines.settings import DEFAULT_REGISTRY_FILE
from ownlay_pipelines.watchtower.alert_scoring import (
    Alert,
    _days_back,
    _score,
    score_builtin_rules,
)
from ownlay_pipelines.watchtower.builtin_rules import (
    BUILTIN_BY_NAME,
    CONVERSION_BASELINE_DAYS,
    RESTATEMENT_DAYS,
    ROAS_WINDOW_DAYS,
)
from ownlay_pipelines_tests.watchtower.factories import unified_row, unified_warehouse

TODAY = date(2026, 11, 20)
"""Every account's newest (partial) day in these tables."""
META_JUDGED = TODAY - timedelta(days=RESTATEMENT_DAYS["meta_ads"] + 1)
YESTERDAY = TODAY - timedelta(days=1)
CURRENCY_INDEX = 7


def _campaign(campaign_id: str, changed: dict[date, dict[str, Any]], **common: Any) -> list[tuple]:
    """46 ordinary days up to TODAY (ROAS 4, CTR 2 %, spend 200, 10 conversions), with the
    `changed` days' columns overridden."""
    days = [TODAY - timedelta(days=n) for n in range(46)]
    return [
        unified_row(day, campaign_id=campaign_id, **{**common, **changed.get(day, {})})
        for day in days
    ]


def _fired(rule: str, warehouse: duckdb.DuckDBPyConnection) -> list[tuple]:
    return [
        (m.entity["campaign_id"], m.as_of, m.currents[0])
        for m in BUILTIN_BY_NAME[f"builtin: {rule}"].matches(warehouse)
    ]


def _window(last: date, days: int, **columns: Any) -> dict[date, dict[str, Any]]:
    return {last - timedelta(days=n): columns for n in range(days)}


def test_roas_drop_judges_only_days_outside_the_restatement_window():
    warehouse = unified_warehouse(
        [
            *_campaign("drop", _window(META_JUDGED, 3, conversion_value=300.0)),  # ROAS 1.5
            *_campaign("mild", _window(META_JUDGED, 3, conversion_value=600.0)),  # ROAS 3 > 2
            # Yesterday still restates: a low ROAS there is the conversions still to come.
            *_campaign("young", _window(YESTERDAY, 3, conversion_value=100.0, conversions=2.0)),
            *_campaign("small", _window(META_JUDGED, 3, spend=90.0, conversion_value=20.0)),
        ]
    )
    assert _fired("ROAS drop", warehouse) == [("drop", META_JUDGED.isoformat(), "1.5")]


def test_the_spend_guard_is_the_same_money_in_every_currency():
    # 100 USD is 160 / 1.08 x 100 ≈ 14,815 JPY: 12,000 JPY a day is below the guard, 20,000 above.
    rows = []
    for campaign_id, spend in (("cheap", 12_000.0), ("dear", 20_000.0)):
        base = _campaign(
            campaign_id,
            _window(META_JUDGED, 3, spend=spend, conversion_value=spend),  # ROAS 1
            spend=spend,
            conversion_value=4 * spend,
        )
        rows += [(*r[:CURRENCY_INDEX], "JPY", *r[CURRENCY_INDEX + 1 :]) for r in base]
    warehouse = unified_warehouse(rows)
    warehouse.execute(
        "CREATE TABLE raw_fx_daily_rates AS SELECT * FROM (VALUES "
        "(DATE '2026-01-02', 'EUR', 1.0), (DATE '2026-01-02', 'USD', 1.08), "
        "(DATE '2026-01-02', 'JPY', 160.0)) t(rate_date, currency, rate)"
    )
    assert [c for c, _, _ in _fired("ROAS drop", warehouse)] == ["dear"]
    # Without rates a non-USD spend cannot pass the guard.
    assert _fired("ROAS drop", unified_warehouse(rows)) == []


def test_high_spend_low_conversions_on_a_mature_day():
    warehouse = unified_warehouse(
        [
            *_campaign("burn", {META_JUDGED: {"spend": 400.0, "conversions": 4.0}}),
            *_campaign("fresh", {YESTERDAY: {"spend": 400.0, "conversions": 4.0}}),
        ]
    )
    assert _fired("High spend, low conversions", warehouse) == [
        ("burn", META_JUDGED.isoformat(), "400")
    ]


def test_delivery_rules_judge_yesterday_and_never_the_partial_today():
    warehouse = unified_warehouse(
        [
            *_campaign("dull", {YESTERDAY: {"clicks": 80}}),  # CTR 0.8 % < 0.5 x 2 %
            *_campaign("morning", {TODAY: {"clicks": 5, "spend": 2.0, "conversions": 0.0}}),
            *_campaign("spiky", {YESTERDAY: {"spend": 600.0}}),  # 3 x 200
            *_campaign("broken", _window(YESTERDAY, 2, conversion_value=200.0)),  # 20 per conv
        ]
    )
    assert _fired("CTR drop", warehouse) == [("dull", YESTERDAY.isoformat(), "0.8")]
    assert _fired("Spend spike", warehouse) == [("spiky", YESTERDAY.isoformat(), "600")]
    assert _fired("Conversion value collapse", warehouse) == [
        ("broken", YESTERDAY.isoformat(), "20")
    ]


def test_value_collapse_needs_a_baseline_of_ten_conversions():
    # A week of 1 conversion a day (7 < 10) with one large order: 50 per conversion on the judged
    # days is below 0.4 x its 386, but that baseline is one order, not a value per conversion.
    thin = {
        YESTERDAY - timedelta(days=5): {"conversion_value": 1500.0},
        **_window(YESTERDAY, 2, conversions=2.0, conversion_value=100.0),
    }
    warehouse = unified_warehouse(
        [
            *_campaign("thin", thin, conversions=1.0, conversion_value=200.0),
            *_campaign("broken", _window(YESTERDAY, 2, conversion_value=200.0)),
        ]
    )
    assert [c for c, _, _ in _fired("Conversion value collapse", warehouse)] == ["broken"]


def test_the_scorer_replays_every_day_each_platforms_conversion_rules_read():
    for platform, lag in RESTATEMENT_DAYS.items():
        judged = lag + 1
        read = range(judged, judged + ROAS_WINDOW_DAYS + CONVERSION_BASELINE_DAYS)
        assert set(read) <= set(_days_back(platform)), platform
    # TikTok's 7-day lag: the ROAS baseline ends 24 days back, inside what Meta's replay skipped.
    assert {16, 24} <= set(_days_back("tiktok_ads")) and 16 not in _days_back("meta_ads")


def test_tracking_stopped_needs_an_accounts_three_silent_days_with_clicks():
    silent = _window(YESTERDAY, 3, conversions=0.0, conversion_value=0.0)
    one_day = {YESTERDAY: {"conversions": 0.0, "conversion_value": 0.0}}
    warehouse = unified_warehouse(
        [
            *_campaign("a1", silent, account_id="broken"),
            *_campaign("a2", silent, account_id="broken"),
            *_campaign("b1", one_day, account_id="unlucky"),
            *_campaign("c1", silent, account_id="half", conversions=1.0),
            *_campaign("c2", {}, account_id="half", conversions=1.0),
        ]
    )
    matches = BUILTIN_BY_NAME["builtin: Conversion tracking stopped"].matches(warehouse)
    assert [(m.entity["account_id"], m.entity["campaign_id"], m.as_of) for m in matches] == [
        ("broken", None, YESTERDAY.isoformat())
    ]


def test_a_stale_account_and_an_active_campaign_without_rows_are_flagged():
    quiet = [r for r in _campaign("silent", {}) if r[6] < YESTERDAY - timedelta(days=1)]
    warehouse = unified_warehouse(
        [
            *_campaign("live", {}),
            *quiet,  # active, last row three days ago
            *[r for r in _campaign("paused", {}, status="PAUSED") if r[6] < YESTERDAY],
            *[r for r in _campaign("night", {}) if r[6] < TODAY],  # nothing yet today: fine
            *[
                r
                for r in _campaign("g1", {}, platform="google_ads", account_id="g")
                if r[6] <= TODAY - timedelta(days=3)
            ],
        ]
    )
    missing = _fired("Missing metrics for active campaign", warehouse)
    assert [(c, d) for c, d, _ in missing] == [("silent", YESTERDAY.isoformat())]
    stale = BUILTIN_BY_NAME["builtin: Account data stale"].matches(warehouse)
    assert [(m.entity["account_id"], m.as_of) for m in stale] == [
        ("g", (TODAY - timedelta(days=2)).isoformat())
    ]


def test_rules_reach_precision_and_recall_of_09_on_90_sandbox_days_of_3_workspaces():
    score = score_builtin_rules(
        load_registry(DEFAULT_REGISTRY_FILE),
        ["acme-outdoor", "blumen-haus", "kumo-tea"],
        last_day=date(2026, 11, 30),
        days=90,
    )
    assert len(score.incidents) == 15
    assert {i.kind.value for i in score.incidents} == {
        "ctr_drop",
        "spend_spike",
        "tracking_stopped",
        "value_collapse",
        "connector_failing",
    }
    assert score.precision >= 0.9, score.summary()
    assert score.recall >= 0.9, score.summary()
    assert len(score.alerts) >= len(score.incidents)


def test_the_scorer_counts_alerts_off_the_incident_as_false_and_unmatched_incidents_as_missed():
    spike = Incident(IncidentKind.SPEND_SPIKE, "w", "meta_ads", "1", "c1", TODAY, TODAY)
    pixel = Incident(IncidentKind.TRACKING_STOPPED, "w", "google_ads", "2", None, TODAY, TODAY)
    hit = Alert("builtin: Spend spike", "w", "meta_ads", "1", "c1", (TODAY,))
    late = Alert("builtin: Spend spike", "w", "meta_ads", "1", "c1", (TODAY + timedelta(1),))
    other = Alert("builtin: CTR drop", "w", "meta_ads", "1", "c2", (TODAY,))
    score = _score([hit, late, other], IncidentPlan((spike, pixel)))
    assert (score.false_alerts, score.missed) == ((late, other), (pixel,))
    assert (score.precision, score.recall) == (pytest.approx(1 / 3), 0.5)
