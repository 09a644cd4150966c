"""The drop folder: the sensor asks for one run per file version; the run loads the file and marks
the touched days of raw/uploads/costs, which the unified model depends on."""

from __future__ import annotations

import os
import shutil
from datetime import date, datetime
from decimal import Decimal

import dagster as dg
import duckdb
import openpyxl

from ownlay_pipelines.definitions import defs
from ownlay_pipelines.defs.partitions import multi_key
from ownlay_pipelines.defs.resources import LakeResource, RegistryResource
from ownlay_pipelines.defs.uploads import (
    file_uploads,
    upload_drop_folder,
    uploaded_files,
    uploads_root,
)
from ownlay_pipelines.models.campaign_metrics import compute_campaign_metrics

COSTS = (
    "Date,Campaign,Network,Spend\n2026-11-21,Pins,Pinterest,10.00\n2026-11-22,Pins,Pinterest,x\n"
)


def _upload_job(tmp_path) -> dg.JobDefinition:
    """The `file_uploads` job as the drop-folder sensor launches it (no partition)."""
    resources = {"lake": LakeResource(data_dir=str(tmp_path)), "registry": RegistryResource()}
    definitions = dg.Definitions(assets=[uploaded_files], jobs=[file_uploads], resources=resources)
    return definitions.resolve_job_def("file_uploads")


def _load_config(path) -> dict:
    config = {"path": str(path), "workspace": "acme-outdoor", "kind": "costs"}
    return {"ops": {"load_uploaded_file": {"config": config}}}


def test_the_drop_folder_sensor_requests_a_run_per_file_version(tmp_path):
    folder = uploads_root(tmp_path) / "acme-outdoor" / "costs"
    folder.mkdir(parents=True)
    (folder / "pinterest.csv").write_text(COSTS)
    (folder / "notes.md").write_text("ignored: not a data file")
    # Excel's lock file while the workbook is open, and macOS' resource fork on shared folders.
    (folder / "~$spend.xlsx").write_bytes(b"\x0bowner name" + bytes(150))
    (folder / "._pinterest.csv").write_bytes(b"\x00\x05\x16\x07" + bytes(60))
    (uploads_root(tmp_path) / "unknown-workspace" / "costs").mkdir(parents=True)
    sensor_args = {"lake": LakeResource(data_dir=str(tmp_path)), "registry": RegistryResource()}

    with dg.build_sensor_context(resources=sensor_args) as context:
        [request] = list(upload_drop_folder(context))
    assert request.run_key.startswith("acme-outdoor/costs/pinterest.csv@")
    config = request.run_config["ops"]["load_uploaded_file"]["config"]
    assert config == {
        "path": str(folder / "pinterest.csv"),
        "workspace": "acme-outdoor",
        "kind": "costs",
    }

    os.utime(folder / "pinterest.csv", ns=(1, 1))
    with dg.build_sensor_context(resources=sensor_args) as context:
        [changed] = list(upload_drop_folder(context))
    assert changed.run_key != request.run_key


def test_the_upload_job_loads_the_file_and_marks_its_days(tmp_path):
    path = tmp_path / "pinterest.csv"
    path.write_text(COSTS)
    instance = dg.DagsterInstance.ephemeral()
    result = _upload_job(tmp_path).execute_in_process(
        run_config=_load_config(path), instance=instance
    )
    assert result.success
    [marked] = result.asset_materializations_for_node("load_uploaded_file")
    assert marked.asset_key == dg.AssetKey(["raw", "uploads", "costs"])
    assert marked.partition == multi_key(date(2026, 11, 21), "acme-outdoor")
    assert (marked.metadata["rows"].value, marked.metadata["quarantined"].value) == (1, 1)
    assert instance.get_materialized_partitions(dg.AssetKey(["raw", "uploads", "orders"])) == set()
    unified = defs.resolve_asset_graph().get(dg.AssetKey(["unified", "campaign_metrics_daily"]))
    assert dg.AssetKey(["raw", "uploads", "costs"]) in unified.parent_keys


def test_a_refused_file_fails_the_run_with_the_reason(tmp_path):
    path = tmp_path / "spend.csv"
    path.write_text("Date,Campaign,Budget\n2026-11-21,A,1\n")
    result = _upload_job(tmp_path).execute_in_process(
        run_config=_load_config(path), raise_on_error=False
    )
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    assert "no column found for impressions or clicks or spend" in (
        failure.step_failure_data.error.message
    )


def test_a_dropped_copy_of_a_loaded_table_under_another_name_does_not_double_spend(tmp_path):
    # The same table dropped again: the workbook saved anew as `spend-final.xlsx`, its sheet
    # renamed; then a CSV copied in under a second name.
    folder = uploads_root(tmp_path) / "acme-outdoor" / "costs"
    folder.mkdir(parents=True)
    table = [
        ["Date", "Campaign", "Network", "Spend"],
        [datetime(2026, 11, 21), "Pins", "Pins", 10.0],
    ]
    for name, sheet, saved in (("spend.xlsx", "Sheet1", 1), ("spend-final.xlsx", "Spend", 2)):
        book = openpyxl.Workbook()
        book.active.title = sheet
        for row in table:
            book.active.append(row)
        book.properties.modified = datetime(2026, 12, saved)
        book.save(folder / name)
    (folder / "pins.csv").write_text("Date,Campaign,Network,Spend\n2026-11-21,Pins,Pins,5.00\n")
    shutil.copy(folder / "pins.csv", folder / "pins (1).csv")
    lake = tmp_path / "lake"

    def spend() -> Decimal:
        table = compute_campaign_metrics(
            duckdb.connect(),
            lake,
            sources=[],
            workspace_id="acme-outdoor",
            days=[date(2026, 11, 21)],
        )
        return sum(row["spend"] for row in table.to_pylist())

    runs = {}
    for name in ("spend.xlsx", "spend-final.xlsx", "pins.csv", "pins (1).csv"):
        result = _upload_job(tmp_path).execute_in_process(run_config=_load_config(folder / name))
        assert result.success
        [marked] = result.asset_materializations_for_node("load_uploaded_file")
        runs[name] = (spend(), getattr(marked.metadata.get("replaced"), "value", None))
    assert runs == {
        "spend.xlsx": (Decimal("10"), {}),
        "spend-final.xlsx": (Decimal("10"), {"spend.xlsx#Sheet1": "same content"}),
        "pins.csv": (Decimal("15"), {}),
        "pins (1).csv": (Decimal("15"), {"pins.csv": "same content"}),
    }
