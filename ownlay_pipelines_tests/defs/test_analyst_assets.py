"""The analyst assets in-process over the sandbox: journeys agree with order attribution, the
funnel narrows, Markov shares out the period's converting paths, the report renders."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from ownlay_pipelines.defs.assets.analyst_assets import (
    ANALYST_ASSETS,
    analyst_report,
    conversion_paths,
    funnels,
    path_attribution,
)
from ownlay_pipelines.defs.partitions import multi_key
from ownlay_pipelines.defs.sensors.models import model_assets
from ownlay_pipelines_tests.defs.test_marts import (
    DAYS,
    WORKSPACE,
    _resources,
    lake,  # noqa: F401 (module-scoped sandbox lake fixture, requested by analyst_lake)
)
from ownlay_pipelines_tests.defs.test_marts import rows_of as _rows

RANGE = {
    "dagster/asset_partition_range_start": multi_key(DAYS[0], WORKSPACE),
    "dagster/asset_partition_range_end": multi_key(DAYS[-1], WORKSPACE),
}


@pytest.fixture(scope="module")
def analyst_lake(lake: Path) -> tuple[Path, dg.MaterializeResult]:  # noqa: F811
    resources = _resources(lake.parent)
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("workspace", [WORKSPACE])
        marts = [funnels, conversion_paths, path_attribution]
        assert dg.materialize(marts, instance=instance, resources=resources, tags=RANGE).success
        result = dg.materialize([analyst_report], instance=instance, resources=resources)
        assert result.success
        report = result.asset_materializations_for_node("reports__analyst_report")[0]
    return lake, report


def test_every_order_is_one_converting_journey_ending_in_its_last_click(analyst_lake):
    lake_root, _ = analyst_lake
    days = ", ".join(f"DATE '{d}'" for d in DAYS)
    last_click = {
        r["conversion_id"]: r["channel"]
        for r in _rows(
            lake_root, "marts/attribution", f"model = 'last_click' AND report_date IN ({days})"
        )
    }
    journeys = {
        r["conversion_id"]: r for r in _rows(lake_root, "marts/conversion_paths", "converted")
    }
    assert set(journeys) == set(last_click)
    assert len(journeys) > 20
    for order, channel in last_click.items():
        channels = journeys[order]["channels"]
        assert (channels[-1] if channels else "unattributed") == channel, order
    assert _rows(lake_root, "marts/conversion_paths", "NOT converted")  # sandbox bounces exist


def test_funnel_narrows_step_by_step(analyst_lake):
    lake_root, _ = analyst_lake
    rows = _rows(lake_root, "marts/funnels", "breakdown = 'total'")
    by_day: dict = {}
    for row in rows:
        by_day.setdefault(row["report_date"], []).append((row["step_number"], row["visitors"]))
    assert set(by_day) == set(DAYS)
    for steps in by_day.values():
        visitors = [v for _, v in sorted(steps)]
        assert len(visitors) == 4 and visitors[0] > 0
        assert visitors == sorted(visitors, reverse=True)
    assert sum(v[-1][1] for v in map(sorted, by_day.values())) > 0  # purchases reached


def test_markov_credits_add_up_to_the_converting_paths_of_the_period(analyst_lake):
    lake_root, _ = analyst_lake
    last = DAYS[-1]
    credited = _rows(
        lake_root, "marts/path_attribution", f"model = 'markov' AND report_date = DATE '{last}'"
    )
    converting = _rows(lake_root, "marts/conversion_paths", "converted AND path_length > 0")
    assert sum(r["conversions"] for r in credited) == pytest.approx(len(converting))
    assert all(0 <= r["removal_effect"] <= 1 for r in credited)


def test_report_is_one_self_contained_html_file_linked_from_metadata(analyst_lake):
    lake_root, report = analyst_lake
    path = Path(report.metadata["path"].value)
    assert path == lake_root.parent / "reports" / "analyst_report.html"
    page = path.read_text()
    assert page.count("Plotly.newPlot") == report.metadata["charts"].value >= 3
    # plotly.js is inlined once and nothing is loaded from elsewhere: opens with no network.
    assert page.count("plotly.js v") == 1
    assert "<script src" not in page
    assert report.metadata["open"].value == path.as_uri()
    assert report.metadata["workspaces_with_data"].value == [WORKSPACE]


def test_the_marts_follow_their_inputs_and_the_report_renders_daily():
    followed = {key for model in model_assets(ANALYST_ASSETS) for key in model.keys}
    assert followed == {funnels.key, conversion_paths.key, path_attribution.key}
    assert analyst_report.automation_conditions_by_key[analyst_report.key] is not None
