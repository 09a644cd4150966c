"""The restatement ledger is observed by the run its sensor launches: rows and newest write."""

from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq

from ownlay_pipelines.connectors.restatements import RESTATEMENTS
from ownlay_pipelines.defs.resources import LakeResource
from ownlay_pipelines.defs.restatement_watch import (
    restatement_ledger,
    restatement_ledger_sensor,
)
from ownlay_pipelines.lake.tables import table_dir


def _write_ledger_file(lake: LakeResource, name: str, rows: int) -> Path:
    folder = table_dir(lake.lake_root, RESTATEMENTS) / "workspace_id=acme"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    pq.write_table(pa.table({"n": list(range(rows))}), path)
    return path


def test_observing_the_ledger_records_its_rows_and_newest_write(tmp_path: Path):
    lake = LakeResource(data_dir=str(tmp_path))
    _write_ledger_file(lake, "a.parquet", rows=3)
    newest = _write_ledger_file(lake, "b.parquet", rows=2)

    with dg.instance_for_test() as instance:
        observe = dg.define_asset_job("observe_ledger", selection=[restatement_ledger.key])
        definitions = dg.Definitions(
            assets=[restatement_ledger], jobs=[observe], resources={"lake": lake}
        )
        result = definitions.resolve_job_def("observe_ledger").execute_in_process(instance=instance)
        [observation] = result.asset_observations_for_node("ledger__restatements")

    assert observation.tags["dagster/data_version"] == str(newest.stat().st_mtime_ns)
    assert observation.metadata["dagster/row_count"].value == 5
    assert observation.metadata["files"].value == 2


def test_the_sensor_asks_for_a_run_only_when_a_ledger_file_changed(tmp_path: Path):
    lake = LakeResource(data_dir=str(tmp_path))
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, resources={"lake": lake})
        assert restatement_ledger_sensor.evaluate_tick(context).skip_message == (
            "no new restatement rows"
        )
        path = _write_ledger_file(lake, "a.parquet", rows=1)
        tick = restatement_ledger_sensor.evaluate_tick(context)
        (request,) = tick.run_requests
        repeat = restatement_ledger_sensor.evaluate_tick(
            dg.build_sensor_context(instance=instance, resources={"lake": lake}, cursor=tick.cursor)
        )

    assert request.run_key == f"restatements-{path.stat().st_mtime_ns}"
    assert repeat.skip_message == "no new restatement rows"
