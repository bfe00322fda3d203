"""Dagster definitions of event processing: queue sensors, event jobs, channel schedule.

`events_definitions()` is merged into the code location's `defs`. Its jobs use the shared
resources `zoho`, `warehouse` and `lake` (`defs.resources`), which the merged definitions
provide; its own resources (`event_queues`, `lead_scorer`, `event_clock`) have keys nobody else
uses, so the merge cannot conflict.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg

from zoho_pipelines.defs.events.jobs import (
    dead_letter_alert_job,
    event_refresh_job,
    lead_qualification_job,
    watch_channels_job,
)
from zoho_pipelines.defs.events.resources import ClockResource, EventQueuesResource, LeadScorerResource
from zoho_pipelines.defs.events.schedules import watch_channels_schedule
from zoho_pipelines.defs.events.sensors import (
    event_dead_letters_sensor,
    lead_qualification_sensor,
    refresh_events_sensor,
)


def events_definitions(resources: Mapping[str, Any] | None = None) -> dg.Definitions:
    """The event definitions; `resources` adds or replaces resources (tests, standalone use)."""
    return dg.Definitions(
        jobs=[event_refresh_job, lead_qualification_job, dead_letter_alert_job, watch_channels_job],
        sensors=[refresh_events_sensor, lead_qualification_sensor, event_dead_letters_sensor],
        schedules=[watch_channels_schedule],
        resources={
            "event_queues": EventQueuesResource(),
            "lead_scorer": LeadScorerResource(),
            "event_clock": ClockResource(),
            **(resources or {}),
        },
    )


__all__ = ["ClockResource", "EventQueuesResource", "LeadScorerResource", "events_definitions"]
