"""The watchtower sources' schedule: seed 004's refresh intervals, spread over the hour.

`orchestration/source_cadence.py` decides which sources of which workspace are due at a tick;
this schedule turns that into one run of `watchtower_sources` per due workspace. Omnisend assets
run only for workspaces that connect Omnisend; file-drop sources for every workspace (an empty
drop folder records nothing).
"""

from datetime import UTC

import dagster as dg

from ownlay_pipelines.defs.assets.watchtower_sources import (
    WATCHTOWER_SOURCE_ASSETS,
    watchtower_sources_job,
)
from ownlay_pipelines.defs.jobs import PARTITION_RANGE_END_TAG, PARTITION_RANGE_START_TAG
from ownlay_pipelines.defs.partitions import WORKSPACE_DIMENSION
from ownlay_pipelines.defs.resources import RegistryResource
from ownlay_pipelines.defs.schedules import default_schedule_status
from ownlay_pipelines.orchestration.plan import WORKSPACE_TAG
from ownlay_pipelines.orchestration.source_cadence import TICK_MINUTES, due_sources
from ownlay_pipelines.schema.platforms import Platform
from ownlay_pipelines.settings import Settings
from ownlay_pipelines.watchtower.seed_data import PROJECT_SOURCES, SEEDED_SOURCES

OMNISEND = Platform.OMNISEND.value
REFRESH_MINUTES = {
    f"ops/{source['provider']}/{source['endpoint']}": int(source["refresh_interval_minutes"])
    for source in (*SEEDED_SOURCES, *PROJECT_SOURCES)
}
"""Asset key → seed 004's refresh interval of its source."""
SOURCE_KEYS = [key.to_user_string() for a in WATCHTOWER_SOURCE_ASSETS for key in a.keys]
MISSING = sorted(set(SOURCE_KEYS) - set(REFRESH_MINUTES))
if MISSING:
    raise ValueError(f"watchtower sources without a refresh interval in seed_data.py: {MISSING}")


def build_source_schedule(settings: Settings) -> dg.ScheduleDefinition:
    """Every 5 minutes: the watchtower sources due for the workspaces of this slot."""
    intervals = {key: REFRESH_MINUTES[key] for key in SOURCE_KEYS}

    @dg.schedule(
        name="watchtower_sources_on_seed_cadence",
        cron_schedule=f"*/{TICK_MINUTES} * * * *",
        execution_timezone="UTC",
        job=watchtower_sources_job,
        default_status=default_schedule_status(settings),
        description="Snapshots each workspace's watchtower sources on seed 004's refresh "
        "intervals (Omnisend and communication reports hourly, clients daily, CVR weekly; "
        "daily and weekly ones in the 05:00 UTC hour), each workspace in its own 5-minute slot "
        "of the hour so no tick launches more than one run per workspace in the slot.",
    )
    def source_schedule(
        context: dg.ScheduleEvaluationContext, registry: RegistryResource
    ) -> dg.SkipReason | list[dg.RunRequest]:
        if context.scheduled_execution_time is None:
            raise ValueError("the source schedule plans by tick time; give a scheduled time")
        tick = context.scheduled_execution_time.astimezone(UTC)
        partitioned = set(context.instance.get_dynamic_partitions(WORKSPACE_DIMENSION))
        workspaces = {w.id: w for w in registry.load().workspaces if w.id in partitioned}
        requests = []
        for workspace_id, keys in due_sources(intervals, list(workspaces), tick).items():
            if not workspaces[workspace_id].connections_for(Platform.OMNISEND):
                keys = [key for key in keys if not key.startswith(f"ops/{OMNISEND}/")]
            if keys:
                requests.append(
                    dg.RunRequest(
                        run_key=f"watchtower_sources:{tick.isoformat()}:{workspace_id}",
                        asset_selection=[dg.AssetKey.from_user_string(key) for key in keys],
                        # A one-partition range: no per-key instance query at tick time.
                        tags={
                            WORKSPACE_TAG: workspace_id,
                            PARTITION_RANGE_START_TAG: workspace_id,
                            PARTITION_RANGE_END_TAG: workspace_id,
                        },
                    )
                )
        return requests or dg.SkipReason(f"no watchtower source due at {tick:%H:%M} UTC")

    return source_schedule
