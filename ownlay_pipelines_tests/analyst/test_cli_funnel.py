"""`ownlay funnel`: the same numbers as the mart's partition, and clear errors for bad input."""

from __future__ import annotations

import json

import duckdb
import pytest
import yaml

from ownlay_pipelines.analyst.funnel_definitions import FunnelDefinition, step_for
from ownlay_pipelines.analyst.funnels import write_funnels
from ownlay_pipelines_tests.analyst.test_cli_paths import ownlay
from ownlay_pipelines_tests.analyst.test_funnels import DAY_2, FOUR_STEPS, TIMEZONE, _random_events
from ownlay_pipelines_tests.models.lake import WORKSPACE_ID, workspace, write_events


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    registry = tmp_path / "registry.yaml"
    ws = workspace(timezone=TIMEZONE)
    registry.write_text(yaml.safe_dump({"workspaces": [ws.model_dump(mode="json")]}))
    monkeypatch.setenv("OWNLAY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("OWNLAY_REGISTRY_FILE", str(registry))
    return tmp_path / "data"


FUNNEL_ARGS = ["--steps", "page_view,add_to_cart,checkout_started,purchase", "--window", "2h"]


def test_funnel_json_prints_the_numbers_of_the_mart_partition(capsys, data_dir):
    lake = data_dir / "lake"
    rows = _random_events(4)
    write_events(lake, rows)
    # The command line has no property filters, so the mart's funnel drops its status filter too.
    unfiltered = FunnelDefinition("shop", (*FOUR_STEPS.steps[:3], step_for("purchase")), 7_200)
    with duckdb.connect(config={"asof_loop_join_threshold": 0}) as connection:
        mart = write_funnels(
            connection,
            lake,
            workspace=workspace(timezone=TIMEZONE),
            funnels=[unfiltered],
            days=[DAY_2],
        )
    day = str(DAY_2)
    for by in (None, "utm_source"):
        extra = ["--by", by] if by else []
        status, out, err = ownlay(
            capsys,
            "funnel",
            "--workspace",
            WORKSPACE_ID,
            *FUNNEL_ARGS,
            "--from",
            day,
            "--to",
            day,
            "--json",
            *extra,
        )
        assert (status, err) == (0, "")
        printed = json.loads(out)
        expected = [
            (
                r["breakdown_value"] if by else None,
                r["step_number"],
                r["visitors"],
                r["dropoff"],
                r["median_seconds_from_previous"],
            )
            for r in mart.to_pylist()
            if r["breakdown"] == (by or "total")
        ]
        got = [
            (
                p.get(by) if by else None,
                p["step_number"],
                p["visitors"],
                p["dropoff"],
                p["median_seconds_from_previous"],
            )
            for p in printed
        ]
        assert sorted(got, key=str) == sorted(expected, key=str)
        assert len(got) >= 4


def test_funnel_table_output(capsys, data_dir):
    write_events(data_dir / "lake", _random_events(4))
    status, out, _ = ownlay(
        capsys,
        "funnel",
        "--workspace",
        WORKSPACE_ID,
        *FUNNEL_ARGS,
        "--from",
        "2026-11-17",
        "--to",
        "2026-11-18",
    )
    lines = out.splitlines()
    assert status == 0
    assert lines[0] == "funnel 'command line', window 7200 s (0.0833333 days)"
    assert [line.split()[1] for line in lines[2:]] == [
        "page_view",
        "add_to_cart",
        "checkout_start",
        "purchase",
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--workspace", "nope", *FUNNEL_ARGS], "workspace 'nope' is not in the registry"),
        (
            ["--workspace", WORKSPACE_ID, "--steps", "page_view,teleport"],
            "step event type 'teleport'",
        ),
        (["--workspace", WORKSPACE_ID, "--steps", "page_view"], "needs at least 2 steps"),
        (
            ["--workspace", WORKSPACE_ID, "--steps", "page_view,,purchase"],
            "--steps 'page_view,,purchase': step 2 is empty",
        ),
        (
            ["--workspace", WORKSPACE_ID, "--steps", "page_view,purchase,"],
            "--steps 'page_view,purchase,': step 3 is empty",
        ),
        (["--workspace", WORKSPACE_ID, *FUNNEL_ARGS[:2], "--window", "soon"], "window 'soon'"),
        (["--workspace", WORKSPACE_ID, "--funnel", "missing"], "no funnel 'missing'"),
    ],
)
def test_bad_input_is_a_clear_error(capsys, data_dir, argv, message):
    status, out, err = ownlay(capsys, "funnel", *argv, "--from", "2026-11-17", "--to", "2026-11-18")
    assert (status, out) == (2, "")
    assert message in err


def test_from_after_to_is_refused(capsys, data_dir):
    status, _, err = ownlay(
        capsys,
        "funnel",
        "--workspace",
        WORKSPACE_ID,
        *FUNNEL_ARGS,
        "--from",
        "2026-11-18",
        "--to",
        "2026-11-17",
    )
    assert status == 2 and "is after" in err


def _funnel(capsys, *argv: str) -> tuple[int, str, str]:
    return ownlay(capsys, "funnel", "--workspace", WORKSPACE_ID, *argv)


def _funnel_over_window(capsys, window: str, *, last_day: str) -> tuple[int, str, str]:
    """The page view → purchase funnel from 2026-11-17 to `last_day` within `window`."""
    return _funnel(
        capsys,
        "--steps",
        "page_view,purchase",
        f"--window={window}",
        "--from",
        "2026-11-17",
        "--to",
        last_day,
    )


@pytest.mark.parametrize(
    ("window", "seconds"), [("1d", 86_400), ("36h", 129_600), ("90m", 5_400), ("45", 45)]
)
def test_window_units(capsys, data_dir, window, seconds):
    status, out, err = _funnel_over_window(capsys, window, last_day="2026-11-17")
    assert (status, err) == (0, "")
    assert out.startswith(f"funnel 'command line', window {seconds} s")


@pytest.mark.parametrize(
    ("window", "message"),
    [
        ("0d", "window '0d' must be longer than zero"),
        ("-1d", "window '-1d' must be longer than zero"),
        ("1.5d", "window '1.5d' is not a duration like"),
        ("1w", "window '1w' is not a duration like"),
        ("", "window '' is not a duration like"),
        ("367d", "window '367d' is longer than 366 days"),
        ("99999999999999d", "window '99999999999999d' is longer than 366 days"),
    ],
)
def test_a_bad_window_is_a_clear_error(capsys, data_dir, window, message):
    status, out, err = _funnel_over_window(capsys, window, last_day="2026-11-18")
    assert (status, out) == (2, "")
    assert message in err


def test_window_with_a_named_funnel_is_refused_not_ignored(capsys, data_dir):
    status, out, err = _funnel(
        capsys,
        "--funnel",
        "E-commerce Purchase Funnel",
        "--window",
        "1h",
        "--from",
        "2026-11-17",
        "--to",
        "2026-11-18",
    )
    assert (status, out) == (2, "")
    assert "--window goes with --steps" in err


@pytest.mark.parametrize(
    ("first", "last", "message"),
    [
        ("2026-11-31", "2026-12-01", "--from '2026-11-31' is not a day (YYYY-MM-DD)"),
        ("2026-11-01", "tomorrow", "--to 'tomorrow' is not a day (YYYY-MM-DD)"),
        ("2026-01-01", "9999-12-31", "--to 9999-12-31 is after 2999-12-31"),
        ("0001-01-01", "2026-01-01", "--from 0001-01-01 is before 1970-01-01"),
        # Python 3.11 reads ISO week and basic forms too: 2026-W49 would be its Monday alone
        ("2026-11-01", "2026-W49", "--to '2026-W49' is not a day (YYYY-MM-DD)"),
        ("20261101", "2026-12-01", "--from '20261101' is not a day (YYYY-MM-DD)"),
    ],
)
def test_a_bad_day_is_named(capsys, data_dir, first, last, message):
    status, out, err = _funnel(
        capsys, "--steps", "page_view,purchase", "--from", first, "--to", last
    )
    assert (status, out) == (2, "")
    assert message in err


@pytest.mark.parametrize(
    ("stage", "message"),
    [
        ({"event_type": "page_view", "name": 5}, "stage 'name' must be text"),
        ({"event_type": "page_view", "order": True}, "stage 'order' must be an integer"),
    ],
)
def test_a_bad_stage_in_the_funnel_file_is_a_clear_error(capsys, data_dir, stage, message):
    folder = data_dir / "metadata" / "funnels"
    folder.mkdir(parents=True)
    funnel = {"name": "x", "stages": [stage, {"event_type": "purchase", "order": 2}]}
    (folder / f"{WORKSPACE_ID}.json").write_text(json.dumps({"funnels": [funnel]}))
    status, out, err = _funnel(
        capsys, "--funnel", "x", "--from", "2026-11-17", "--to", "2026-11-18"
    )
    assert (status, out) == (2, "")
    assert message in err


@pytest.mark.parametrize(
    ("content", "line", "byte"),
    [
        ('{"funnels": []}'.encode("utf-16"), 1, "0xff"),
        (b'{"funnels": [\n{"name": "caf\xe9"}]}', 2, "0xe9"),
    ],
)
def test_a_funnel_file_that_is_not_utf8_is_a_clear_error(capsys, data_dir, content, line, byte):
    folder = data_dir / "metadata" / "funnels"
    folder.mkdir(parents=True)
    file = folder / f"{WORKSPACE_ID}.json"
    file.write_bytes(content)
    status, out, err = _funnel(
        capsys, "--funnel", "x", "--from", "2026-11-17", "--to", "2026-11-18"
    )
    assert (status, out) == (2, "")
    assert err.splitlines() == [
        f"error: {file}: line {line} is not UTF-8 text (byte {byte}); save the file as UTF-8"
    ]


@pytest.mark.parametrize(
    ("window", "message"),
    [
        (True, "funnel 'x': conversion_window True is not a duration like"),
        ("0d", "funnel 'x': conversion_window '0d' must be longer than zero"),
    ],
)
def test_a_bad_conversion_window_in_the_file_names_the_funnel(capsys, data_dir, window, message):
    folder = data_dir / "metadata" / "funnels"
    folder.mkdir(parents=True)
    stages = [{"event_type": "page_view"}, {"event_type": "purchase"}]
    funnel = {"name": "x", "stages": stages, "conversion_window": window}
    (folder / f"{WORKSPACE_ID}.json").write_text(json.dumps({"funnels": [funnel]}))
    status, out, err = _funnel(
        capsys, "--funnel", "x", "--from", "2026-11-17", "--to", "2026-11-18"
    )
    assert (status, out) == (2, "")
    assert message in err


def test_funnel_json_shape_is_the_documented_one(capsys, data_dir):
    write_events(data_dir / "lake", _random_events(4))
    for by, extra in ((None, []), ("device", ["--by", "device"])):
        status, out, _ = _funnel(
            capsys, *FUNNEL_ARGS, "--from", "2026-11-17", "--to", "2026-11-18", "--json", *extra
        )
        rows = json.loads(out)
        assert status == 0 and rows
        keys = {
            "step_number",
            "step_name",
            "event_type",
            "visitors",
            "dropoff",
            "conversion_overall",
            "conversion_from_previous",
            "median_seconds_from_previous",
        }
        assert all(set(row) == keys | ({by} if by else set()) for row in rows)
        first = [row for row in rows if row["step_number"] == 1]
        assert all(r["dropoff"] == 0 and r["median_seconds_from_previous"] is None for r in first)
