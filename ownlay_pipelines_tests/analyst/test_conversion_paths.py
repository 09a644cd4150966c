"""`marts/conversion_paths` from lake events, and `marts/path_attribution` over its journeys."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import unquote

import duckdb
import pyarrow as pa
import pytest

from ownlay_pipelines.analyst.conversion_paths import write_conversion_paths
from ownlay_pipelines.analyst.markov import markov_attribution
from ownlay_pipelines.analyst.path_attribution import write_path_attribution
from ownlay_pipelines.analyst.path_data import PathCounts, parse_path_lines, path_file_channel
from ownlay_pipelines.models.fx import FxRateMissing, merge_rates
from ownlay_pipelines.models.fx_feed import FxRate
from ownlay_pipelines_tests.analyst.test_cli_paths import ownlay
from ownlay_pipelines_tests.models.lake import CAMPAIGN_SOURCES, event, workspace, write_events

DAY = date(2026, 11, 18)
NOON = datetime(2026, 11, 18, 17, 0, tzinfo=UTC)  # 12:00 in New York
HOUR = timedelta(hours=1)


def _click(n: int, at: datetime, visitor: str, source: str) -> dict:
    return event(f"c{n}", "page_view", at, visitor, utm_source=source, utm_campaign="autumn")


def _purchase(n: int, at: datetime, visitor: str, revenue: float) -> dict:
    return event(
        f"p{n}",
        "purchase",
        at,
        visitor,
        properties={"order_id": f"o{n}", "revenue": revenue, "currency": "USD"},
    )


def _write_paths(connection: duckdb.DuckDBPyConnection, lake: Path, days: list[date]) -> pa.Table:
    """`marts/conversion_paths` of `days` for the test workspace (no Shopify) from `lake`'s events."""
    return write_conversion_paths(
        connection,
        lake,
        workspace=workspace(shopify=False),
        days=days,
        campaign_sources=CAMPAIGN_SOURCES,
    )


@pytest.fixture
def journeys(tmp_path):
    rows = [
        # v1: newsletter then podcast, buys 2 hours after the first click.
        _click(1, NOON - 2 * HOUR, "v1", "newsletter"),
        _click(2, NOON - HOUR, "v1", "podcast"),
        _purchase(1, NOON, "v1", 80.0),
        # v2: a podcast click 8 days before buying (outside the window) and nothing since.
        _click(3, NOON - 8 * 24 * HOUR, "v2", "podcast"),
        _purchase(2, NOON, "v2", 20.0),
        # v3: two clicks, no order: one non-converting journey of the day.
        _click(4, NOON - 3 * HOUR, "v3", "newsletter"),
        _click(5, NOON + HOUR, "v3", "newsletter"),
        # v4: clicks today, buys tomorrow: the click belongs to tomorrow's order, not a null.
        _click(6, NOON, "v4", "podcast"),
        _purchase(3, NOON + 24 * HOUR, "v4", 10.0),
    ]
    write_events(tmp_path, rows)
    with duckdb.connect() as connection:
        table = _write_paths(connection, tmp_path, [DAY, DAY + timedelta(days=1)])
    return tmp_path, {row["journey_id"]: row for row in table.to_pylist()}


def test_converting_journeys_carry_the_clicks_of_their_window(journeys):
    _, rows = journeys
    v1 = rows["o1"]
    assert (v1["report_date"], v1["converted"], v1["path"], v1["path_length"]) == (
        DAY,
        True,
        "newsletter > podcast",
        2,
    )
    assert v1["seconds_to_convert"] == 7_200.0
    assert float(v1["revenue"]) == 80.0
    v2 = rows["o2"]
    assert (v2["channels"], v2["path_length"], v2["seconds_to_convert"]) == ([], 0, None)
    assert rows["o3"]["report_date"] == DAY + timedelta(days=1)
    assert rows["o3"]["path"] == "podcast"


def test_a_channel_holding_a_path_separator_stays_one_channel_of_the_path(tmp_path):
    write_events(
        tmp_path, [_click(1, NOON - HOUR, "v1", "news>letter;b"), _purchase(1, NOON, "v1", 5.0)]
    )
    with duckdb.connect() as connection:
        table = _write_paths(connection, tmp_path, [DAY])

    (row,) = table.to_pylist()
    assert (row["channels"], row["path"], row["path_length"]) == (
        ["news>letter;b"],
        "news%3Eletter%3Bb",
        1,
    )


# Names the path file would read otherwise, a name that looks encoded, and plain ones.
AWKWARD_SOURCES = [
    "news>letter",
    "news_letter",
    "a;b",
    "(null)",
    "(START)",  # lowercased to the chain's (start)
    "(conversion)",
    '"quoted"',
    "50%",
    "50%25",
    "\ttabbed",
    "line\nend",
    "wide\u3000",
    "b c",
    "Ωmega",
]


@pytest.mark.parametrize(
    "name",
    [*AWKWARD_SOURCES, "%", "  ", "\xa0x", "a\x85", "(null", "(null) "],
)
def test_a_channel_name_is_written_as_the_path_file_reads_it_back(name):
    written = path_file_channel(name)
    line = f"{written} > {written} > plain;1;0;0"
    assert parse_path_lines([line]).path(0) == (written, written, "plain")
    assert unquote(written) == name  # URL-decoding gives the name back, so no two alike


def test_every_channel_exported_from_the_mart_keeps_its_name_and_numbers(tmp_path, capsys):
    """The documented recipe over journeys whose sources are awkward names: the command takes
    the file, no two channels merge, and it prints the mart's credits under the written names."""
    rows = []
    for n, source in enumerate(AWKWARD_SOURCES):
        visitor = f"v{n}"
        rows.append(_click(2 * n, NOON - 2 * HOUR, visitor, source))
        rows.append(_click(2 * n + 1, NOON - HOUR, visitor, AWKWARD_SOURCES[n - 1]))
        if n % 3:
            rows.append(_purchase(n, NOON, visitor, 10.0 + n))
    write_events(tmp_path, rows)
    file = tmp_path / "exported_paths.csv"
    with duckdb.connect() as connection:
        journeys = _write_paths(connection, tmp_path, [DAY])
        mart = write_path_attribution(
            connection, tmp_path, workspace_id="acme", end=DAY, reporting_currency="USD"
        )
        connection.register("marts_conversion_paths", journeys)
        connection.execute(PATH_FILE_RECIPE.format(file=file))
        names = {r["channel"] for r in mart.to_pylist()}
        decoded = connection.execute(
            "SELECT DISTINCT url_decode(trim(unnest(string_split(path, '>'))))"
            " FROM marts_conversion_paths"
        ).fetchall()
    assert len(names) == len(AWKWARD_SOURCES)  # news>letter and news_letter stay two channels
    assert {name for (name,) in decoded} == names  # url_decode gives the mart's channels back
    for model in ("markov", "shapley", "first"):
        status, out, err = ownlay(
            capsys, "attribution", "paths", str(file), "--model", model, "--json"
        )
        assert (status, err) == (0, "")
        printed = {row["channel"]: row for row in json.loads(out)}
        expected = {
            path_file_channel(r["channel"]): r for r in mart.to_pylist() if r["model"] == model
        }
        assert set(printed) == set(expected)
        for channel, row in expected.items():
            assert printed[channel]["conversions"] == pytest.approx(row["conversions"])
            assert printed[channel]["value"] == pytest.approx(row["value"])


def test_clicks_in_no_order_window_form_one_non_converting_journey_per_visitor_day(journeys):
    _, rows = journeys
    nulls = {k: r for k, r in rows.items() if not r["converted"]}
    assert set(nulls) == {f"v3|{DAY}"}
    assert (nulls[f"v3|{DAY}"]["path"], nulls[f"v3|{DAY}"]["seconds_to_convert"]) == (
        "newsletter > newsletter",
        None,
    )


def test_path_attribution_runs_every_model_over_the_period(journeys):
    lake, _ = journeys
    with duckdb.connect() as connection:
        table = write_path_attribution(
            connection,
            lake,
            workspace_id="acme",
            end=DAY + timedelta(days=1),
            reporting_currency="USD",
        )
    credits = {(r["model"], r["channel"]): r for r in table.to_pylist()}
    assert {m for m, _ in credits} == {"first", "last", "linear", "markov", "shapley"}
    assert credits[("last", "podcast")]["conversions"] == 2.0
    assert credits[("first", "newsletter")]["value"] == 80.0
    expected = markov_attribution(
        PathCounts.from_rows(
            [
                (["newsletter", "podcast"], 1, 80.0, 0),
                (["podcast"], 1, 10.0, 0),
                (["newsletter", "newsletter"], 0, 0.0, 1),
            ]
        )
    ).removal_effects
    for channel, effect in expected.items():
        assert credits[("markov", channel)]["removal_effect"] == pytest.approx(effect)
    # The order with no click (o2) is not a path, so models share two conversions.
    assert sum(r["conversions"] for (m, _), r in credits.items() if m == "markov") == pytest.approx(
        2
    )


# docs/analyst.md's recipe for a path file from the mart (its SQL, but for the comment and file).
PATH_FILE_RECIPE = """
COPY (
    SELECT path,
           count(*) FILTER (WHERE converted) AS total_conversions,
           coalesce(sum(revenue) FILTER (WHERE converted), 0) AS total_conversion_value,
           count(*) FILTER (WHERE NOT converted) AS total_null
    FROM marts_conversion_paths
    WHERE path_length > 0
    GROUP BY path
) TO '{file}' (HEADER, DELIMITER ';')
"""


def test_the_documented_path_file_recipe_gives_the_marts_credits(journeys, tmp_path, capsys):
    """An analyst exports the mart's journeys as a path file and gets the mart's numbers back."""
    lake, _ = journeys
    end = DAY + timedelta(days=1)
    file = tmp_path / "exported_paths.csv"
    with duckdb.connect() as connection:
        mart = write_path_attribution(
            connection, lake, workspace_id="acme", end=end, reporting_currency="USD"
        )
        journeys_glob = lake / "marts" / "conversion_paths" / "**" / "*.parquet"
        connection.execute(
            f"CREATE VIEW marts_conversion_paths AS SELECT * FROM read_parquet('{journeys_glob}')"
        )
        connection.execute(PATH_FILE_RECIPE.format(file=file))
    for model in ("markov", "shapley", "linear"):
        status, out, err = ownlay(
            capsys, "attribution", "paths", str(file), "--model", model, "--json"
        )
        assert (status, err) == (0, "")
        printed = {row["channel"]: row for row in json.loads(out)}
        expected = {r["channel"]: r for r in mart.to_pylist() if r["model"] == model}
        assert set(printed) == set(expected)
        for channel, row in expected.items():
            assert printed[channel]["conversions"] == pytest.approx(row["conversions"])
            assert printed[channel]["value"] == pytest.approx(row["value"])


def test_path_attribution_value_is_in_the_reporting_currency(tmp_path):
    """Orders in USD and JPY: the value credits are both in the workspace's reporting currency
    (USD here), each order converted at its day's ECB rate — not 100 + 100 of two currencies."""
    rows = [
        _click(1, NOON - HOUR, "v1", "newsletter"),
        _purchase(1, NOON, "v1", 100.0),
        _click(2, NOON - HOUR, "v2", "podcast"),
        event(
            "p2",
            "purchase",
            NOON,
            "v2",
            properties={"order_id": "o2", "revenue": 16_000.0, "currency": "JPY"},
        ),
    ]
    write_events(tmp_path, rows)
    merge_rates(
        tmp_path,
        [
            FxRate(DAY, "EUR", Decimal(1)),
            FxRate(DAY, "USD", Decimal("1.0500")),
            FxRate(DAY, "JPY", Decimal("168.00")),
        ],
    )
    with duckdb.connect() as connection:
        _write_paths(connection, tmp_path, [DAY])
        table = write_path_attribution(
            connection, tmp_path, workspace_id="acme", end=DAY, reporting_currency="USD"
        )
    credits = {(r["model"], r["channel"]): r for r in table.to_pylist()}
    assert {r["currency"] for r in credits.values()} == {"USD"}
    assert credits[("last", "newsletter")]["value"] == pytest.approx(100.0)
    # 16 000 JPY at 168 JPY and 1.05 USD per euro: 100 USD.
    assert credits[("last", "podcast")]["value"] == pytest.approx(100.0)
    assert sum(r["value"] for (m, _), r in credits.items() if m == "markov") == pytest.approx(200)


def test_path_attribution_without_a_needed_rate_says_which(tmp_path):
    write_events(
        tmp_path,
        [
            _click(1, NOON - HOUR, "v1", "newsletter"),
            event(
                "p1",
                "purchase",
                NOON,
                "v1",
                properties={"order_id": "o1", "revenue": 5.0, "currency": "JPY"},
            ),
        ],
    )
    with duckdb.connect() as connection:
        _write_paths(connection, tmp_path, [DAY])
        with pytest.raises(FxRateMissing, match=f"JPY on {DAY}"):
            write_path_attribution(
                connection, tmp_path, workspace_id="acme", end=DAY, reporting_currency="USD"
            )
