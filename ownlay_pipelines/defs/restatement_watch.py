"""The watchtower on the restatement ledger: when a sync has added ledger rows, a run executes
the ledger's `watchtower` check (`defs/checks/watchtower_checks.py`, rules in
`watchtower/restatement_rules.py`). The ledger is written by the syncs themselves, so it is an
external asset here and this sensor is its trigger.
"""

import dagster as dg

from ownlay_pipelines.connectors.restatements import RESTATEMENTS
from ownlay_pipelines.defs.resources import LakeResource
from ownlay_pipelines.lake.tables import table_dir

LEDGER_KEY = dg.AssetKey(list(RESTATEMENTS.parts))

restatement_ledger = dg.AssetSpec(
    LEDGER_KEY,
    description=(
        "One row per re-sync of a workspace x platform x account x day that moved something: "
        "spend, clicks, conversions and conversion value before and after, in the account's "
        "currency (written by the connector syncs, never by a run of its own)."
    ),
    group_name="ledger",
    kinds={"parquet"},
    metadata={"lake_table": str(RESTATEMENTS)},
)

restatement_watch = dg.define_asset_job(
    "restatement_watch",
    selection=dg.AssetSelection.checks_for_assets(LEDGER_KEY),
    description="Evaluate the watchtower rules on the restatement ledger.",
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
    files = list(table_dir(lake.lake_root, RESTATEMENTS).rglob("*.parquet"))
    newest = max((f.stat().st_mtime_ns for f in files), default=0)
    if newest <= int(context.cursor or 0):
        return dg.SkipReason("no new restatement rows")
    context.update_cursor(str(newest))
    return dg.RunRequest(run_key=f"restatements-{newest}")
