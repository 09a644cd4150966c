"""The demo's sandbox Pinterest exports load through `ownlay upload`'s code path with the numbers
of the ground truth they were rendered from, minus the one `n/a` row the quarantine takes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from ownlay_pipelines.registry.workspaces import load_registry
from ownlay_pipelines.sandbox.cost_uploads import (
    delayed_row_index,
    pinterest_campaign_days,
    write_pinterest_export,
)
from ownlay_pipelines.sandbox.world import SandboxWorld
from ownlay_pipelines.settings import Settings
from ownlay_pipelines.uploads.cli import upload_file
from ownlay_pipelines_tests.sandbox.wire import NOW, SANDBOX_REGISTRY
from ownlay_pipelines_tests.uploads.files import rows

START, END = date(2026, 11, 1), date(2026, 11, 14)


@pytest.mark.parametrize("workspace_id", ["acme-outdoor", "blumen-haus", "kumo-tea"])
def test_sandbox_export_loads_to_its_ground_truth(
    tmp_path: Path, workspace_id: str, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    world = SandboxWorld(load_registry(SANDBOX_REGISTRY), now=NOW)
    workspace = world.registry.get(workspace_id)
    export, mapping = write_pinterest_export(world, workspace, START, END, tmp_path / "exports")
    settings = Settings(data_dir=tmp_path, registry_file=SANDBOX_REGISTRY)

    results, _ = upload_file(
        settings, export, workspace_id=workspace_id, kind="costs", mapping_path=mapping
    )

    truth = pinterest_campaign_days(world, workspace, START, END)
    bad = truth.pop(delayed_row_index(world, workspace, len(truth)))
    (result,) = results
    assert (result.rows, result.quarantined) == (len(truth), 1)
    assert result.reasons == {
        f"Spend in account currency: not a number (decimal "
        f"'{',' if workspace.currency == 'EUR' else '.'}')": 1
    }
    loaded = rows(tmp_path)
    assert {r["platform"] for r in loaded} == {"pinterest"}
    assert {r["currency"] for r in loaded} == {workspace.currency}
    assert sum(r["spend"] for r in loaded) == sum(t.spend for t in truth)
    assert sum(r["clicks"] for r in loaded) == sum(t.clicks for t in truth)
    by_key = {(r["report_date"], r["campaign_id"]): r for r in loaded}
    assert (bad.day, bad.campaign_id) not in by_key
    first = truth[0]
    assert by_key[(first.day, first.campaign_id)]["spend"] == first.spend
    assert by_key[(first.day, first.campaign_id)]["conversions"] == Decimal(first.conversions)

    # The next day's export under the same name replaces the load, never adds to it.
    write_pinterest_export(world, workspace, START, END, tmp_path / "exports")
    upload_file(settings, export, workspace_id=workspace_id, kind="costs", mapping_path=mapping)
    assert len(rows(tmp_path)) == len(truth)
