"""Fault plans: validated rates, decisions that repeat exactly, malformed rows fixed by identity."""

from __future__ import annotations

from datetime import date

import pytest

from ownlay_pipelines.sandbox.entities import CampaignDayKey
from ownlay_pipelines.sandbox.faults import Fault, FaultDice, FaultPlan, PlatformFaults


def test_a_rate_outside_zero_to_one_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="throttle_rate must be between 0 and 1"):
        PlatformFaults(throttle_rate=1.5)


def test_a_platform_the_plan_does_not_mention_has_no_faults() -> None:
    plan = FaultPlan({"meta_ads": PlatformFaults(server_error_rate=0.5)})
    assert plan.for_platform("google_ads") == PlatformFaults()
    assert plan.for_platform("meta_ads").server_error_rate == 0.5


def test_the_same_plan_makes_the_same_decisions_and_counts_what_fired() -> None:
    plan = FaultPlan({"meta_ads": PlatformFaults(throttle_rate=0.25)}, seed=3)
    first, second = FaultDice(plan, "meta_ads"), FaultDice(plan, "meta_ads")
    decisions = [first.roll(Fault.THROTTLE) for _ in range(200)]
    assert decisions == [second.roll(Fault.THROTTLE) for _ in range(200)]
    assert first.fired["throttle"] == sum(decisions)
    assert 20 < sum(decisions) < 80


def test_rate_one_always_fires_and_rate_zero_never_does() -> None:
    plan = FaultPlan({"google_ads": PlatformFaults(server_error_rate=1.0)})
    dice = FaultDice(plan, "google_ads")
    assert all(dice.roll(Fault.SERVER_ERROR) for _ in range(50))
    assert not any(dice.roll(Fault.THROTTLE) for _ in range(50))
    assert dice.fired == {"server_error": 50}


def test_kinds_have_their_own_sequences() -> None:
    plan = FaultPlan({"meta_ads": PlatformFaults(throttle_rate=0.5, server_error_rate=0.5)})
    interleaved, alone = FaultDice(plan, "meta_ads"), FaultDice(plan, "meta_ads")
    throttles = []
    for _ in range(30):
        throttles.append(interleaved.roll(Fault.THROTTLE))
        interleaved.roll(Fault.SERVER_ERROR)
    assert throttles == [alone.roll(Fault.THROTTLE) for _ in range(30)]


def test_malformed_rows_depend_only_on_the_row_identity() -> None:
    plan = FaultPlan({"meta_ads": PlatformFaults(malformed_row_rate=0.3)}, seed=1)
    keys = [CampaignDayKey("1", str(c), date(2026, 3, d)) for c in range(10) for d in range(1, 11)]
    malformed = {k for k in keys if plan.row_is_malformed("meta_ads", k)}
    assert malformed == {k for k in reversed(keys) if plan.row_is_malformed("meta_ads", k)}
    assert 10 < len(malformed) < 50
    assert not any(plan.row_is_malformed("google_ads", k) for k in keys)


def test_token_expiry_is_counted_each_time_it_refuses() -> None:
    dice = FaultDice(FaultPlan({"meta_ads": PlatformFaults(token_expired=True)}), "meta_ads")
    assert dice.token_expired() and dice.token_expired()
    assert dice.fired["token_expired"] == 2
