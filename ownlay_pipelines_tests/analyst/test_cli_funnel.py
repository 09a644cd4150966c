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
