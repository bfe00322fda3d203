"""Sensors: drain the event queues into batched runs, and alert when a dead-letter queue grows.

A queue sensor's tick is `EventIntake.tick` (see `events.processing.intake` for why nothing is
lost or done twice): it returns one RunRequest per batch, keyed by the batch's events and
attempt and tagged with app, module and operation, and keeps the batch's receipts in its cursor
until a later tick finds the run succeeded (delete) or failed (show the events again).

No `from __future__ import annotations` here: Dagster reads the config and resource annotations
of ops, sensors and schedules when they are defined, and cannot resolve them from strings.
"""

import json
from collections.abc import Callable
from datetime import timedelta
from functools import partial

import dagster as dg

from zoho_pipelines.catalog import selected_modules, snake_case
from zoho_pipelines.clock import Clock
from zoho_pipelines.defs.events.jobs import (
    DEAD_LETTER_OP,
    QUALIFY_OP,
    REFRESH_OP,
    batch_run_config,
    dead_letter_alert_job,
    event_refresh_job,
    lead_qualification_job,
)
from zoho_pipelines.defs.events.ledger import TARGET_TAG, DagsterRunLedger
from zoho_pipelines.defs.events.resources import ClockResource, EventQueuesResource
from zoho_pipelines.events.local_queue import LocalQueue
from zoho_pipelines.events.model import Operation, ZohoEvent
from zoho_pipelines.events.processing.batches import EventBatch
from zoho_pipelines.events.processing.intake import EventFilter, EventIntake, IntakeCursor
from zoho_pipelines.events.queues import EventQueue
from zoho_pipelines.events.routing import Target

QUEUE_SENSOR_INTERVAL_S = 10
DEAD_LETTER_SENSOR_INTERVAL_S = 60
SAMPLE_REASONS = 5
QUEUE_TARGETS = (Target.REFRESH, Target.LEAD_QUALIFICATION)


def refresh_filter() -> EventFilter:
    """CRM changes of the synced modules (ZOHO_MODULES); Books and Projects changes are left to
    the daily batch, which has no per-id read to do better."""
    synced = {spec.api_name.casefold() for spec in selected_modules() if spec.app == "crm"}

    def accepts(event: ZohoEvent) -> str | None:
        if event.app != "crm":
            return f"{event.app} changes are synced by the daily batch"
        if event.module.casefold() not in synced:
            return f"crm module {event.module} is not synced (ZOHO_MODULES)"
        return None

    return accepts


def lead_filter() -> EventFilter:
    def accepts(event: ZohoEvent) -> str | None:
        if (event.app, event.module, event.operation) != ("crm", "Leads", Operation.INSERT):
            return "only new CRM leads are qualified"
        return None

    return accepts


def batch_tags(batch: EventBatch) -> dict[str, str]:
    return {
        "zoho/app": batch.app,
        "zoho/module": snake_case(batch.module),
        "zoho/operation": batch.operation.value,
        TARGET_TAG: batch.target,
        "zoho/events": str(len(batch.events)),
    }


def _drain(
    target: Target,
    op_name: str,
    make_filter: Callable[[], EventFilter],
    context: dg.SensorEvaluationContext,
    event_queues: EventQueuesResource,
    clock: Clock,
) -> dg.SensorResult:
    ledger = DagsterRunLedger(
        context.instance,
        target=target.value,
        window=timedelta(seconds=event_queues.dedup_window_s),
        now=clock.now(),
    )
    with event_queues.open(target) as queue:
        intake = EventIntake(
            queue,
            ledger,
            target=target.value,
            accepts=make_filter(),
            max_messages=event_queues.max_messages_per_tick,
            visibility_timeout_s=event_queues.visibility_timeout_s,
            retry_delay_s=event_queues.retry_delay_s,
            max_records_per_batch=event_queues.max_records_per_run,
            clock=clock,
        )
        tick = intake.tick(IntakeCursor.from_json(context.cursor))
    context.log.info(tick.summary())
    for reason, count in tick.ignored_reasons.items():
        context.log.info(f"ignored {count} event(s): {reason}")
    cursor = tick.cursor.to_json()
    if not tick.batches:
        return dg.SensorResult(skip_reason=tick.summary(), cursor=cursor)
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=batch.run_key, run_config=batch_run_config(op_name, batch), tags=batch_tags(batch)
            )
            for batch in tick.batches
        ],
        cursor=cursor,
    )


def _queue_sensor(
    name: str,
    target: Target,
    job: dg.JobDefinition,
    op_name: str,
    make_filter: Callable[[], EventFilter],
    description: str,
) -> dg.SensorDefinition:
    drain = partial(_drain, target, op_name, make_filter)

    # By name, not job=job: Dagster binds the top-level resources to an op job a sensor holds by
    # rebuilding the sensor, passing owners=[] and so raising a BetaWarning for `owners` (which we
    # do not use) on every load. The job is the same one either way: events_definitions lists it.
    @dg.sensor(
        name=name,
        job_name=job.name,
        minimum_interval_seconds=QUEUE_SENSOR_INTERVAL_S,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=description,
    )
    def queue_sensor(
        context: dg.SensorEvaluationContext, event_queues: EventQueuesResource, event_clock: ClockResource
    ) -> dg.SensorResult:
        return drain(context, event_queues, event_clock.clock())

    return queue_sensor


refresh_events_sensor = _queue_sensor(
    "refresh_events_sensor",
    Target.REFRESH,
    event_refresh_job,
    REFRESH_OP,
    refresh_filter,
    "Drains the refresh queue: one run per CRM module and operation per tick.",
)
lead_qualification_sensor = _queue_sensor(
    "lead_qualification_sensor",
    Target.LEAD_QUALIFICATION,
    lead_qualification_job,
    QUALIFY_OP,
    lead_filter,
    "Drains the lead qualification queue: new leads to score, batched per tick.",
)


def _sample_reasons(queue: EventQueue, depth: int) -> list[str]:
    """The newest reasons, where the store can be read without consuming it (the local one);
    SQS dead letters are inspected in the console or with a redrive."""
    if not isinstance(queue, LocalQueue) or depth == 0:
        return []
    return [letter.reason for letter in queue.dead_letters(limit=min(depth, 1_000))[-SAMPLE_REASONS:]]


@dg.sensor(
    name="event_dead_letters_sensor",
    job=dead_letter_alert_job,
    minimum_interval_seconds=DEAD_LETTER_SENSOR_INTERVAL_S,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Requests a failing alert run whenever an event dead-letter queue grows.",
)
def event_dead_letters_sensor(
    context: dg.SensorEvaluationContext, event_queues: EventQueuesResource, event_clock: ClockResource
) -> dg.SensorResult:
    previous: dict[str, int] = json.loads(context.cursor) if context.cursor else {}
    depths: dict[str, int] = {}
    requests = []
    for target in QUEUE_TARGETS:
        with event_queues.open(target) as queue:
            depth = queue.dlq_depth()
            reasons = _sample_reasons(queue, depth)
        depths[target.value] = depth
        before = previous.get(target.value, 0)
        if depth > before:
            requests.append(
                dg.RunRequest(
                    # The cursor de-duplicates; the time keeps a later 0 -> n growth from reusing a key.
                    run_key=f"dead-letters:{target.value}:{before}->{depth}:{event_clock.clock().now().isoformat()}",
                    run_config={
                        "ops": {
                            DEAD_LETTER_OP: {
                                "config": {
                                    "target": target.value,
                                    "depth": depth,
                                    "previous_depth": before,
                                    "sample_reasons": reasons,
                                }
                            }
                        }
                    },
                    tags={TARGET_TAG: f"{target.value}-dead-letters"},
                )
            )
    cursor = json.dumps(depths, sort_keys=True)
    if not requests:
        return dg.SensorResult(skip_reason=f"dead letters: {depths}", cursor=cursor)
    return dg.SensorResult(run_requests=requests, cursor=cursor)
