"""Delivering watchtower alerts: a job that drains the notification outbox, on a schedule.

The rules engine queues a delivery per alert and channel when the check records it; this job
sends the due immediate notifications and digests (Discord, e-mail). It runs every five minutes by
default: an alert nobody hears about is useless. With no channel configured a delivery stays
pending (retried with back-off) and the run logs which environment variable to set.
"""

import dagster as dg

from ownlay_pipelines.defs.resources import OpsStoreResource
from ownlay_pipelines.http.clock import SystemClock
from ownlay_pipelines.watchtower.notify.channels import Notifiers
from ownlay_pipelines.watchtower.notify.dispatch import dispatch_notifications


@dg.op(description="Send due watchtower notifications and digests from the ops-store outbox.")
def dispatch_watchtower_notifications(
    context: dg.OpExecutionContext, ops_store: OpsStoreResource
) -> dg.Output[None]:
    """One pass over the outbox; failures stay pending with back-off and are reported here."""
    report = dispatch_notifications(
        ops_store.engine(), Notifiers.from_env(), now=SystemClock().now()
    )
    for error in report.errors:
        context.log.warning(error)
    return dg.Output(
        None,
        metadata={"sent": report.sent, "muted": report.muted, "failed": report.failed},
    )


@dg.job(description="Send due watchtower notifications (immediate alerts and digests).")
def watchtower_notifications() -> None:
    dispatch_watchtower_notifications()


watchtower_notifications_schedule = dg.ScheduleDefinition(
    name="watchtower_notifications_every_5_minutes",
    job=watchtower_notifications,
    cron_schedule="*/5 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Drains the watchtower outbox every five minutes; digests go out when due.",
)
