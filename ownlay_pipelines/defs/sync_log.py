"""Which kind of `api_snapshots` row a Dagster run records (seed 004 "Snapshot Types")."""

from collections.abc import Mapping

from ownlay_pipelines.watchtower.snapshots import SnapshotType

SCHEDULE_TAG = "dagster/schedule_name"
SENSOR_TAG = "dagster/sensor_name"


def snapshot_type_for(run_tags: Mapping[str, str]) -> SnapshotType:
    """`scheduled` for a schedule's run, `triggered` for a sensor's, `manual` for any other."""
    if SCHEDULE_TAG in run_tags:
        return SnapshotType.SCHEDULED
    if SENSOR_TAG in run_tags:
        return SnapshotType.TRIGGERED
    return SnapshotType.MANUAL
