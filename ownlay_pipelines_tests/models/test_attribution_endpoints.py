"""Last click and first touch asked alone (one aggregation per order, no path window) give the
rows the path window gives them when every model is asked: ties, repeated campaigns, long paths."""

from __future__ import annotations

from datetime import timedelta

from ownlay_pipelines.models.attribution import MODELS
from ownlay_pipelines.models.attribution_endpoints import COUNTER_MAX, ENDPOINT_MODELS
from ownlay_pipelines_tests.models.test_attribution import ORDER_AT, _click, _credit, _order


def _rows_of(rows: list[dict], models: tuple[str, ...]) -> list[tuple]:
    return sorted(tuple(str(v) for v in row.values()) for row in rows if row["model"] in models)


def _touches(rows: list[dict], model: str) -> list[tuple]:
    return [(r["campaign_id"], r["touches"]) for r in rows if r["model"] == model]


def test_a_campaign_clicked_again_after_another_counts_every_click_of_it():
    clicks = [
        _click("a", ORDER_AT - timedelta(hours=3), "meta_ads", "m1"),
        _click("b", ORDER_AT - timedelta(hours=2), "google_ads", "g1"),
        _click("c", ORDER_AT - timedelta(hours=1), "meta_ads", "m1"),
    ]
    rows = _credit([_order()], clicks, models=ENDPOINT_MODELS)
    assert _touches(rows, "last_click") == [("m1", 2)]
    assert _touches(rows, "first_touch") == [("m1", 2)]


def test_a_path_longer_than_the_counters_counts_its_winner_exactly():
    clicks = [
        _click(f"e{k:02}", ORDER_AT - timedelta(minutes=k), "meta_ads", f"m{k % 2}")
        for k in range(2 * COUNTER_MAX + 3)
    ]
    rows = _credit([_order()], clicks, models=("last_click",))
    assert _touches(rows, "last_click") == [("m0", COUNTER_MAX + 2)]


def test_tied_paths_credit_as_the_path_window_does():
    # Three visitors' clicks on four instants, known and unknown campaigns, a campaign seen twice,
    # an order without a visitor, one without clicks and one without an id.
    instants = [ORDER_AT - timedelta(hours=h) for h in (0, 1, 1, 5)]
    platforms = ("meta_ads", "google_ads", "tiktok_ads")
    clicks = [
        _click(
            f"e{v}{k}",
            instants[(v + k) % 4],
            platforms[(v * k) % 3],
            None if (v + k) % 3 == 0 else f"c{k % 2}",
            visitor=f"v{v}",
        )
        for v in range(3)
        for k in range(7)
    ]
    orders = [_order(f"o{v}", f"v{v}") for v in range(4)]
    orders += [_order("anon", None), _order(None, "v1")]
    alone = _credit(orders, clicks, models=ENDPOINT_MODELS)
    every = _credit(orders, clicks, models=MODELS)
    assert _rows_of(alone, ENDPOINT_MODELS) == _rows_of(every, ENDPOINT_MODELS)
    assert len(alone) == 2 * len(orders)
