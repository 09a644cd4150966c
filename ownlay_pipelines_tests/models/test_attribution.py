"""Attribution models over hand-made paths: window bounds, clicks after the order, ties, splits."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import duckdb
import pytest

from ownlay_pipelines.models.attribution import (
    MODELS,
    PATH_MODELS,
    AttributionSettings,
    credit_sql,
)

ORDER_AT = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)
WEEK = timedelta(days=7)
DEFAULT = AttributionSettings()


def _micros(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def _order(order_id: str = "o1", visitor: str | None = "v1", revenue: str = "100.00", **landing):
    return {
        "conversion_id": order_id,
        "identity": visitor,
        "conversion_us": _micros(landing.pop("at", ORDER_AT)),
        "revenue": Decimal(revenue),
        "landing_channel": landing.get("channel", "unattributed"),
        "landing_platform": landing.get("platform"),
        "landing_campaign_id": landing.get("campaign"),
    }


def _click(
    event_id: str,
    at: datetime,
    platform: str = "meta_ads",
    campaign: str | None = "m1",
    visitor: str = "v1",
) -> dict:
    return {
        "event_id": event_id,
        "identity": visitor,
        "touch_us": _micros(at),
        "channel": platform,
        "platform": platform,
        "campaign_id": campaign,
    }


def _credit(
    orders: list[dict],
    clicks: list[dict],
    settings: AttributionSettings = DEFAULT,
    models=MODELS,
) -> list[dict]:
    connection = duckdb.connect()
    connection.execute(
        "CREATE TABLE conversions (conversion_id VARCHAR, identity VARCHAR, conversion_us BIGINT, "
        "revenue DECIMAL(20, 6), landing_channel VARCHAR, landing_platform VARCHAR, "
        "landing_campaign_id VARCHAR)"
    )
    connection.execute(
        "CREATE TABLE touchpoints (event_id VARCHAR, identity VARCHAR, touch_us BIGINT, "
        "channel VARCHAR, platform VARCHAR, campaign_id VARCHAR)"
    )
    for table, rows in (("conversions", orders), ("touchpoints", clicks)):
        for row in rows:
            names = ", ".join(row)
            marks = ", ".join("?" for _ in row)
            connection.execute(
                f"INSERT INTO {table} ({names}) VALUES ({marks})", list(row.values())
            )
    result = connection.sql(credit_sql(settings, models))
    return [dict(zip(result.columns, row, strict=True)) for row in result.fetchall()]


def _winner(rows: list[dict], model: str = "last_click", order: str = "o1") -> tuple:
    (row,) = [r for r in rows if r["model"] == model and r["conversion_id"] == order]
    return row["channel"], row["campaign_id"], row["credit"], row["revenue_credit"]


def test_click_exactly_seven_days_before_is_credited():
    rows = _credit([_order()], [_click("e1", ORDER_AT - WEEK)])
    assert _winner(rows) == ("meta_ads", "m1", Decimal(1), Decimal("100"))


def test_click_seven_days_and_one_second_before_is_unattributed():
    rows = _credit([_order()], [_click("e1", ORDER_AT - WEEK - SECOND)])
    for model in PATH_MODELS:
        assert _winner(rows, model) == ("unattributed", None, Decimal(1), Decimal("100"))


def test_click_at_the_same_instant_as_the_order_is_credited():
    rows = _credit([_order()], [_click("e1", ORDER_AT)])
    assert _winner(rows)[:2] == ("meta_ads", "m1")


def test_click_after_the_order_is_never_credited():
    clicks = [
        _click("early", ORDER_AT - timedelta(hours=3), "google_ads", "g1"),
        _click("late", ORDER_AT + timedelta(microseconds=1), "meta_ads", "m1"),
    ]
    rows = _credit([_order()], clicks)
    for model in PATH_MODELS:
        assert _winner(rows, model)[:3] == ("google_ads", "g1", Decimal(1))


def test_an_order_with_only_a_later_click_is_unattributed():
    rows = _credit([_order()], [_click("late", ORDER_AT + timedelta(minutes=5))])
    assert _winner(rows)[0] == "unattributed"


def test_equal_timestamps_prefer_the_known_campaign_then_the_lowest_event_id():
    at = ORDER_AT - timedelta(hours=1)
    tied = [
        _click("e3", at, "google_ads", None),
        _click("e2", at, "meta_ads", "m2"),
        _click("e1", at, "meta_ads", "m1"),
    ]
    for clicks in (tied, list(reversed(tied))):
        assert _winner(_credit([_order()], clicks))[:2] == ("meta_ads", "m1")
    # Without a known campaign among them the lowest event id wins.
    unknown = [_click("e9", at, "google_ads", None), _click("e4", at, "tiktok_ads", None)]
    assert _winner(_credit([_order()], unknown))[:2] == ("tiktok_ads", None)


def test_another_visitors_click_is_never_credited():
    rows = _credit([_order()], [_click("e1", ORDER_AT - SECOND, visitor="someone-else")])
    assert _winner(rows)[0] == "unattributed"


def test_several_platforms_split_as_each_model_defines():
    clicks = [
        _click("a", ORDER_AT - timedelta(days=6), "tiktok_ads", "t1"),
        _click("b", ORDER_AT - timedelta(days=3), "google_ads", "g1"),
        _click("c", ORDER_AT - timedelta(days=1), "meta_ads", "m1"),
    ]
    rows = _credit([_order(revenue="100.00")], clicks)
    by_model: dict[str, dict[str, tuple[Decimal, Decimal]]] = defaultdict(dict)
    for row in rows:
        by_model[row["model"]][row["campaign_id"]] = (row["credit"], row["revenue_credit"])

    assert by_model["last_click"] == {"m1": (Decimal(1), Decimal(100))}
    assert by_model["first_touch"] == {"t1": (Decimal(1), Decimal(100))}
    assert {c: v[0] for c, v in by_model["position_based"].items()} == {
        "t1": Decimal("0.4"),
        "g1": Decimal("0.2"),
        "m1": Decimal("0.4"),
    }
    linear = by_model["linear"]
    assert sorted(v[1] for v in linear.values()) == [
        Decimal("33.333333"),
        Decimal("33.333333"),
        Decimal("33.333334"),
    ]
    # Weights 2^(-6/7), 2^(-3/7), 2^(-1/7), normalised.
    weights = {c: 2 ** (-days / 7) for c, days in (("t1", 6), ("g1", 3), ("m1", 1))}
    total = sum(weights.values())
    for campaign, (credit, _) in by_model["time_decay"].items():
        assert float(credit) == pytest.approx(weights[campaign] / total, abs=1e-11)


def test_two_clicks_split_evenly_under_position_based():
    clicks = [_click("a", ORDER_AT - timedelta(days=2), "google_ads", "g1"), _click("b", ORDER_AT)]
    rows = _credit([_order()], clicks, models=("position_based",))
    assert sorted((r["campaign_id"], r["credit"]) for r in rows) == [
        ("g1", Decimal("0.5")),
        ("m1", Decimal("0.5")),
    ]


def test_time_decay_gives_a_click_one_half_life_older_half_the_weight():
    clicks = [_click("old", ORDER_AT - WEEK, "google_ads", "g1"), _click("new", ORDER_AT)]
    rows = _credit([_order(revenue="90.00")], clicks, models=("time_decay",))
    credits = {r["campaign_id"]: r["revenue_credit"] for r in rows}
    assert credits == {"g1": Decimal("30"), "m1": Decimal("60")}


def test_clicks_of_one_campaign_are_one_row_with_their_touch_count():
    clicks = [_click("a", ORDER_AT - timedelta(hours=h)) for h in (1, 2, 3)]
    rows = _credit([_order()], clicks, models=("linear",))
    assert [(r["campaign_id"], r["touches"], r["credit"]) for r in rows] == [("m1", 3, Decimal(1))]


def test_every_model_credits_sum_to_the_orders_and_their_revenue():
    orders = [_order(f"o{n}", f"v{n}", revenue=f"{7 + n * 13.37:.2f}") for n in range(12)]
    orders.append(_order("no-visitor", None, revenue="55.55"))
    platforms = ("meta_ads", "google_ads", "tiktok_ads")
    clicks = [
        _click(
            f"e{n}-{k}",
            ORDER_AT - timedelta(hours=17 * k + n),
            platforms[(n + k) % 3],
            f"c{(n * k) % 5}",
            visitor=f"v{n}",
        )
        for n in range(12)
        for k in range(n % 7)
    ]
    rows = _credit(orders, clicks)
    revenue = sum(o["revenue"] for o in orders)
    for model in MODELS:
        mine = [r for r in rows if r["model"] == model]
        assert sum(r["credit"] for r in mine) == len(orders)
        assert sum(r["revenue_credit"] for r in mine) == revenue
        per_order: dict[str, Decimal] = defaultdict(Decimal)
        for row in mine:
            per_order[row["conversion_id"]] += row["credit"]
        assert set(per_order.values()) == {Decimal(1)}


def test_any_subset_of_models_gives_those_models_rows_of_all_six():
    # Whole-order models alone skip the rounding; mixed subsets round per order once.
    orders = [_order(f"o{n}", f"v{n}", revenue=f"{3 + n * 9.99:.2f}") for n in range(9)]
    orders.append(_order("o0", "v5", revenue="3.00"))  # a duplicate order id: one path of both
    clicks = [
        _click(
            f"e{n}-{k}",
            ORDER_AT - timedelta(hours=11 * k + n),
            campaign=f"c{(n + k) % 3}",
            visitor=f"v{n}",
        )
        for n in range(9)
        for k in range(n % 5)
    ]
    clicks.append(_click("e3-tie", ORDER_AT - timedelta(hours=3), campaign=None, visitor="v3"))
    every = _credit(orders, clicks)
    for models in (
        ("last_click",),
        ("first_touch", "landing_utm"),
        ("linear",),
        ("time_decay", "last_click"),
        ("position_based", "first_touch", "linear"),
    ):
        expected = sorted((r for r in every if r["model"] in models), key=repr)
        assert sorted(_credit(orders, clicks, models=models), key=repr) == expected


def test_the_window_length_is_configurable():
    clicks = [_click("e1", ORDER_AT - timedelta(days=3, seconds=1))]
    three_days = AttributionSettings(window_days=3)
    assert _winner(_credit([_order()], clicks, three_days))[0] == "unattributed"
    assert _winner(_credit([_order()], clicks))[0] == "meta_ads"


def test_landing_utm_credits_the_landing_campaign_whatever_the_clicks():
    order = _order(channel="google_ads", platform="google_ads", campaign="g7")
    rows = _credit([order], [_click("e1", ORDER_AT - SECOND)])
    assert _winner(rows, "landing_utm")[:2] == ("google_ads", "g7")
    assert _winner(rows, "last_click")[:2] == ("meta_ads", "m1")


def test_unknown_models_and_bad_settings_are_refused():
    with pytest.raises(ValueError, match="unknown attribution models"):
        credit_sql(AttributionSettings(), ("last_touch",))
    with pytest.raises(ValueError, match="window_days"):
        AttributionSettings(window_days=0)
    with pytest.raises(ValueError, match="half_life_days"):
        AttributionSettings(half_life_days=0)
