"""The funnel SQL against the brute-force reference on randomised visitors (fixed seeds): ties,
repeated steps, out-of-order arrival, window edges to the microsecond, local-day bounds — and the
hand-made cases of reference/analytics.md §2.3."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import duckdb
import pytest

from ownlay_pipelines.analyst.funnel_definitions import FunnelDefinition, step_for
from ownlay_pipelines.analyst.funnels import FUNNELS, funnel_steps, write_funnels
from ownlay_pipelines.lake.writer import read_partition
from ownlay_pipelines_tests.analyst.funnel_reference import reference_funnel
from ownlay_pipelines_tests.models.lake import event, workspace, write_events

TIMEZONE = "America/New_York"
DAY_1, DAY_2 = date(2026, 11, 17), date(2026, 11, 18)
START = datetime(2026, 11, 17, 3, 0, tzinfo=UTC)  # 22:00 the evening before, in New York
FOUR_STEPS = FunnelDefinition(
    "shop",
    (
        step_for("page_view"),
        step_for("add_to_cart"),
        step_for("checkout_started"),
        step_for("purchase", filters={"properties.status": "completed"}),
    ),
    window_seconds=2 * 3_600,
)
ORDERED = ["page_view", "add_to_cart", "checkout_start", "purchase"]
TYPES = ["page_view", "page_view", "add_to_cart", "checkout_start", "purchase", "click"]


def _random_events(seed: int, visitors: int = 70) -> list[dict]:
    """Times on a 30-minute grid (ties and exact window edges), some nudged by 1 µs."""
    rng = random.Random(seed)
    rows = []
    for v in range(visitors):
        # Each visitor is active for a few hours somewhere in the two local days.
        base = START + timedelta(minutes=30 * rng.randint(0, 90))
        # Half the visitors walk the funnel in order (steps may share a slot or skip); all
        # get random extra events around it.
        journey = ORDERED if rng.random() < 0.5 else []
        kinds = journey + [rng.choice(TYPES) for _ in range(rng.randint(1, 6))]
        slot = 0
        for n, event_type in enumerate(kinds):
            slot = slot + rng.randint(0, 2) if n < len(journey) else rng.randint(0, 6)
            at = base + timedelta(minutes=30 * slot)
            if rng.random() < 0.2:
                at += timedelta(microseconds=rng.choice([-1, 1]))
            properties = (
                {"status": rng.choice(["completed", "pending"])} if event_type == "purchase" else {}
            )
            rows.append(
                event(
                    f"e{seed}-{v}-{n}",
                    event_type,
                    at,
                    f"visitor-{v}",
                    properties=properties,
                    utm_source=rng.choice(["meta", "google", None]),
                    utm_campaign=rng.choice(["spring", None]),
                    campaign_id=rng.choice(["c9", None]),
                    device_type=rng.choice(["mobile", "desktop"]),
                    country=rng.choice(["US", "CA", None]),
                )
            )
    rng.shuffle(rows)  # arrival order says nothing about event time
    return rows


def _sql_rows(table, *, by_day: bool) -> list[tuple]:
    names = ["breakdown", "breakdown_value", "step_number", "visitors", "dropoff"]
    names = (["day"] if by_day else []) + names + ["median_seconds_from_previous"]
    rows = [tuple(row[n] for n in names) for row in table.to_pylist()]
    return sorted(rows, key=lambda r: tuple("" if v is None else v for v in r))


@pytest.fixture
def connection():
    with duckdb.connect(config={"asof_loop_join_threshold": 0}) as connection:
        yield connection


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_funnel_sql_equals_the_brute_force_reference(tmp_path, connection, seed):
    rows = _random_events(seed)
    write_events(tmp_path, rows)
    ws = workspace(timezone=TIMEZONE)
    for by_day in (True, False):
        table = funnel_steps(
            connection,
            tmp_path,
            workspace=ws,
            funnel=FOUR_STEPS,
            first_day=DAY_1,
            last_day=DAY_2,
            by_day=by_day,
        )
        expected = reference_funnel(
            rows, FOUR_STEPS, TIMEZONE, DAY_1, DAY_2, by_day=by_day, check_greedy=seed == 1
        )
        assert _sql_rows(table, by_day=by_day) == expected
        # The data reaches the last step, so every branch of the chain is exercised.
        assert max(r[-3] for r in expected if r[-4] == 4) > 0


def _run(tmp_path, connection, rows, funnel, day=DAY_1) -> dict[int, tuple]:
    write_events(tmp_path, rows)
    table = funnel_steps(
        connection,
        tmp_path,
        workspace=workspace(timezone="UTC"),
        funnel=funnel,
        first_day=day,
        last_day=day,
        by_day=False,
    )
    return {
        r["step_number"]: (r["visitors"], r["median_seconds_from_previous"])
        for r in table.to_pylist()
        if r["breakdown"] == "total"
    }


ABC = FunnelDefinition(
    "abc", (step_for("page_view"), step_for("add_to_cart"), step_for("purchase")), 3_600
)
T0 = datetime(2026, 11, 17, 10, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def _ev(n: int, kind: str, at: datetime, visitor: str = "v1") -> dict:
    return event(f"h{n}", kind, at, visitor)


def test_a_chain_completing_exactly_at_the_window_end_counts(tmp_path, connection):
    rows = [
        _ev(1, "page_view", T0),
        _ev(2, "add_to_cart", T0 + MINUTE),
        _ev(3, "purchase", T0 + 60 * MINUTE),
    ]
    assert _run(tmp_path, connection, rows, ABC)[3] == (1, 3540.0)


def test_one_microsecond_past_the_window_stops_the_chain(tmp_path, connection):
    late = T0 + 60 * MINUTE + timedelta(microseconds=1)
    rows = [_ev(1, "page_view", T0), _ev(2, "add_to_cart", T0 + MINUTE), _ev(3, "purchase", late)]
    steps = _run(tmp_path, connection, rows, ABC)
    assert (steps[2][0], steps[3][0]) == (1, 0)


def test_only_the_second_entry_fits_and_counts_with_its_own_times(tmp_path, connection):
    rows = [
        _ev(1, "page_view", T0),
        _ev(2, "page_view", T0 + 50 * MINUTE),
        _ev(3, "add_to_cart", T0 + 55 * MINUTE),
        _ev(4, "purchase", T0 + 70 * MINUTE),
    ]
    steps = _run(tmp_path, connection, rows, ABC)
    assert steps[1][0] == 1  # one visitor, however many entries
    assert steps[2] == (1, 300.0)  # from the later page view
    assert steps[3] == (1, 900.0)


def test_equal_timestamps_never_advance_a_step(tmp_path, connection):
    rows = [_ev(1, "page_view", T0), _ev(2, "add_to_cart", T0), _ev(3, "purchase", T0 + MINUTE)]
    steps = _run(tmp_path, connection, rows, ABC)
    assert (steps[1][0], steps[2][0], steps[3][0]) == (1, 0, 0)


def test_steps_out_of_order_do_not_count(tmp_path, connection):
    rows = [
        _ev(1, "add_to_cart", T0),
        _ev(2, "page_view", T0 + MINUTE),
        _ev(3, "purchase", T0 + 2 * MINUTE),
    ]
    steps = _run(tmp_path, connection, rows, ABC)
    assert (steps[1][0], steps[2][0], steps[3][0]) == (1, 0, 0)


def test_a_first_step_before_the_day_is_not_an_entry(tmp_path, connection):
    before = datetime(2026, 11, 16, 23, 59, tzinfo=UTC)
    rows = [_ev(1, "page_view", before), _ev(2, "add_to_cart", T0), _ev(3, "purchase", T0 + MINUTE)]
    assert _run(tmp_path, connection, rows, ABC) == {}  # no entries: no step rows


def test_property_filters_and_aliases_select_the_step_events(tmp_path, connection):
    funnel = FunnelDefinition(
        "f",
        (
            step_for("page_view"),
            step_for("checkout_started"),
            step_for("purchase", filters={"properties.status": "completed"}),
        ),
        3_600,
    )
    rows = [
        _ev(1, "page_view", T0),
        _ev(2, "checkout_start", T0 + MINUTE),
        event("h3", "purchase", T0 + 2 * MINUTE, "v1", properties={"status": "pending"}),
        _ev(4, "page_view", T0, "v2"),
        _ev(5, "checkout_start", T0 + MINUTE, "v2"),
        event("h6", "purchase", T0 + 3 * MINUTE, "v2", properties={"status": "completed"}),
    ]
    steps = _run(tmp_path, connection, rows, funnel)
    assert [steps[n][0] for n in (1, 2, 3)] == [2, 2, 1]
    assert steps[3][1] == 120.0


def test_mart_partitions_hold_each_day_and_rerun_replaces_them(tmp_path, connection):
    rows = _random_events(9)
    write_events(tmp_path, rows)
    ws = workspace(timezone=TIMEZONE)
    first = write_funnels(
        connection, tmp_path, workspace=ws, funnels=[FOUR_STEPS], days=[DAY_1, DAY_2]
    )
    again = write_funnels(
        connection, tmp_path, workspace=ws, funnels=[FOUR_STEPS], days=[DAY_1, DAY_2]
    )
    assert first.equals(again)
    stored = read_partition(tmp_path, FUNNELS, workspace_id=ws.id, report_date=DAY_2)
    expected = reference_funnel(rows, FOUR_STEPS, TIMEZONE, DAY_2, DAY_2, by_day=False)
    got = [r for r in _sql_rows(stored, by_day=False)]
    assert got == expected
    assert set(stored["breakdown"].to_pylist()) == {
        "total",
        "utm_source",
        "campaign",
        "device",
        "country",
    }


def test_the_plan_keeps_real_asof_joins_not_the_loop_rewrite(tmp_path):
    """DuckDB swaps an ASOF join for a nested loop when it expects a tiny left side
    (reference/perf_reliability.md §1.5, T6): model connections set the threshold to 0."""
    from ownlay_pipelines.analyst.funnel_query import winners_sql
    from ownlay_pipelines.analyst.funnels import create_funnel_events

    write_events(tmp_path, _random_events(1))
    query = winners_sql(FOUR_STEPS, "funnel_events", DAY_1, DAY_1, TIMEZONE, by_day=True)
    plans = {}
    for threshold in (0, 64):  # 64 is DuckDB's default
        with duckdb.connect(config={"asof_loop_join_threshold": threshold}) as connection:
            create_funnel_events(
                connection, tmp_path, workspace(timezone=TIMEZONE), DAY_1, DAY_1, 7_200
            )
            plans[threshold] = connection.execute(f"EXPLAIN {query}").fetchall()[0][1]
    assert plans[0].count("Asof Join") == 3
    assert "Nested Loop" not in plans[0] and "first(" not in plans[0]
    assert plans[64].count("Asof Join") == 0  # what the setting prevents, on this tiny input
