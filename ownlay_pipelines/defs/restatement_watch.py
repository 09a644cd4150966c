"""The watchtower on the restatement ledger: when a sync has added ledger rows, a run observes the
ledger and executes its `watchtower` check (`defs/checks/watchtower_checks.py`, rules in
`watchtower/restatement_rules.py`). The ledger is written by the syncs themselves, so it is an
observable source asset here: the run records what the ledger holds (its data version is the
newest file's time), and this sensor is its trigger.
"""

from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq

from ownlay_pipelines.connectors.restatements import RESTATEMENTS
from ownlay_pipelines.defs.resources import LakeResource
from ownlay_pipelines.lake.tables import table_dir

LEDGER_KEY = dg.AssetKey(list(RESTATEMENTS.parts))


def ledger_files(lake: LakeResource) -> list[Path]:
    """The ledger's Parquet files, in path order."""
    return sorted(table_dir(lake.lake_root, RESTATEMENTS).rglob("*.parquet"))


def newest_write_ns(files: list[Path]) -> int:
    """Modification time (ns) of the newest of `files`; 0 when there are none."""
    return max((f.stat().st_mtime_ns for f in files), default=0)


@dg.observable_source_asset(
    key=LEDGER_KEY,
    description=(
        "One row per re-sync of a workspace x platform x account x day that moved something: "
        "spend, clicks, conversions and conversion value before and after, in the account's "
        "currency (written by the connector syncs, never by a run of its own)."
    ),
    group_name="ledger",
    kinds={"parquet"},
    metadata={"lake_table": str(RESTATEMENTS)},
)
def restatement_ledger(lake: LakeResource) -> dg.ObserveResult:
    """Observe the ledger: its files and rows (from the Parquet footers) and its newest write."""
    files = ledger_files(lake)
    rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    return dg.ObserveResult(
        data_version=dg.DataVersion(str(newest_write_ns(files))),
        metadata={"files": len(files), "dagster/row_count": rows},
    )


restatement_watch = dg.define_asset_job(
    "restatement_watch",
    selection=dg.AssetSelection.assets(LEDGER_KEY)
    | dg.AssetSelection.checks_for_assets(LEDGER_KEY),
    description="Observe the restatement ledger and evaluate the watchtower rules on it.",
)


@dg.sensor(
    name="restatement_ledger_changes",
    job=restatement_watch,
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Requests a ledger watchtower run when a sync added restatement rows.",
)
def restatement_ledger_sensor(
    context: dg.SensorEvaluationContext, lake: LakeResource
) -> dg.RunRequest | dg.SkipReason:
    """One tick: has any ledger file changed since the cursor (newest file time, in ns)?"""
    newest = newest_write_ns(ledger_files(lake))
    if newest <= int(context.cursor or 0):
        return dg.SkipReason("no new restatement rows")
    context.update_cursor(str(newest))
    return dg.RunRequest(run_key=f"restatements-{newest}")
