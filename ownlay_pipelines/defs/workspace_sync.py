"""Keep the dynamic `workspace` partitions equal to the registry's workspaces."""

import dagster as dg

from ownlay_pipelines.defs.partitions import WORKSPACE_DIMENSION, workspace_partitions
from ownlay_pipelines.defs.resources import RegistryResource
from ownlay_pipelines.registry.workspaces import Registry


def partition_changes(existing: list[str], registry: Registry) -> tuple[list[str], list[str]]:
    """(keys to add, keys to delete) so the partitions match the registry exactly."""
    wanted = set(registry.workspace_ids)
    current = set(existing)
    return sorted(wanted - current), sorted(current - wanted)


def sync_workspace_partitions(
    instance: dg.DagsterInstance, registry: Registry
) -> tuple[list[str], list[str]]:
    """Apply the registry to `instance` directly (the demo and tests); returns (added, removed)."""
    added, removed = partition_changes(
        instance.get_dynamic_partitions(WORKSPACE_DIMENSION), registry
    )
    if added:
        instance.add_dynamic_partitions(WORKSPACE_DIMENSION, added)
    for key in removed:
        instance.delete_dynamic_partition(WORKSPACE_DIMENSION, key)
    return added, removed


@dg.sensor(
    name="workspace_registry",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Adds and removes `workspace` partitions so they match the registry file. "
    "Runs by default: it launches nothing, it only keeps partitions in sync.",
)
def workspace_registry_sensor(
    context: dg.SensorEvaluationContext, registry: RegistryResource
) -> dg.SensorResult | dg.SkipReason:
    """One tick: compare partitions with the registry and request the difference."""
    added, removed = partition_changes(
        context.instance.get_dynamic_partitions(WORKSPACE_DIMENSION), registry.load()
    )
    if not added and not removed:
        return dg.SkipReason("workspace partitions already match the registry")
    requests = []
    if added:
        requests.append(workspace_partitions.build_add_request(added))
    if removed:
        requests.append(workspace_partitions.build_delete_request(removed))
    return dg.SensorResult(dynamic_partitions_requests=requests)
