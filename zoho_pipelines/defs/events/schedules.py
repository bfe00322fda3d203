"""The schedule that keeps the Notification API watch channel alive.

No `from __future__ import annotations` here: Dagster reads the config and resource annotations
of ops, sensors and schedules when they are defined, and cannot resolve them from strings.
"""

import dagster as dg

from zoho_pipelines.defs.events.jobs import watch_channels_job
from zoho_pipelines.events.processing.config import load_event_settings

WATCH_CHANNELS_CRON = "*/30 * * * *"


@dg.schedule(
    cron_schedule=WATCH_CHANNELS_CRON,
    job=watch_channels_job,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description=(
        "Every 30 minutes: subscribe the watch channel if missing, renew it when half its lifetime "
        "(ZOHO_WATCH_CHANNEL_TTL_HOURS) is gone. Skips until a channel is configured."
    ),
)
def watch_channels_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
    if not load_event_settings().manages_watch_channel:
        return dg.SkipReason("set ZOHO_WATCH_CHANNEL_ID and ZOHO_WATCH_NOTIFY_URL to manage a watch channel")
    return dg.RunRequest()
