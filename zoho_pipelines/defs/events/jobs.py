"""The event jobs: refresh changed records, qualify new leads, alert on dead letters, keep the
watch channel alive. Each is one op over a plain function of `events.processing`.

No `from __future__ import annotations` here: Dagster reads the config and resource annotations
of ops, sensors and schedules when they are defined, and cannot resolve them from strings.
"""

from datetime import timedelta
from typing import Any

import dagster as dg
from pydantic import Field

from zoho_pipelines.catalog import default_catalog, selected_modules
from zoho_pipelines.defs.events.resources import ClockResource, LeadScorerResource
from zoho_pipelines.defs.resources import LakeResource, WarehouseResource, ZohoResource
from zoho_pipelines.events.processing.batches import EventBatch
from zoho_pipelines.events.processing.channels import ensure_watch_channel
from zoho_pipelines.events.processing.config import load_event_settings
from zoho_pipelines.events.processing.qualification import qualify_leads
from zoho_pipelines.events.processing.refresh import refresh_batch
from zoho_pipelines.events.processing.staging import staging_for
from zoho_pipelines.settings import load_settings

REFRESH_OP = "refresh_changed_records"
QUALIFY_OP = "qualify_new_leads"
DEAD_LETTER_OP = "raise_dead_letter_alert"


class EventRefConfig(dg.Config):
    event_id: str
    record_ids: list[str]
    occurred_at: str


class EventBatchConfig(dg.Config):
    """An `EventBatch` as run config: the durable record of the run's work."""

    target: str
    app: str
    module: str
    operation: str
    events: list[EventRefConfig]
    attempt: int = 1

    def batch(self) -> EventBatch:
        return EventBatch.from_config(self.model_dump())


def batch_run_config(op_name: str, batch: EventBatch) -> dict[str, Any]:
    return {"ops": {op_name: {"config": batch.to_config()}}}


def batch_from_run_config(run_config: dict[str, Any]) -> EventBatch | None:
    """The batch an event run carries, or None for a run of another kind."""
    for op_config in (run_config.get("ops") or {}).values():
        config = op_config.get("config") if isinstance(op_config, dict) else None
        if isinstance(config, dict) and "events" in config and "target" in config:
            return EventBatch.from_config(config)
    return None


@dg.op(name=REFRESH_OP, description="Fetch the changed records by id and merge them into the warehouse.")
def refresh_changed_records(
    context: dg.OpExecutionContext,
    config: EventBatchConfig,
    zoho: ZohoResource,
    warehouse: WarehouseResource,
    lake: LakeResource,
    event_clock: ClockResource,
) -> int:
    batch = config.batch()
    spec = default_catalog().get(batch.app, batch.module)
    with warehouse.connect() as connection:
        staged = staging_for(
            connection, lake.lake().url, context.run.run_id, kms_key_id=load_settings().lake_kms_key_id
        )
        with staged as staging:
            result = refresh_batch(
                zoho.client().crm, connection, spec, batch, staging=staging, clock=event_clock.clock()
            )
    metadata = {**result.metadata(), "events": len(batch.events)}
    context.log_event(
        dg.AssetObservation(asset_key=dg.AssetKey(list(spec.warehouse_asset_key)), metadata=metadata)
    )
    context.add_output_metadata(metadata)
    return result.merge.applied_rows


@dg.op(name=QUALIFY_OP, description="Score new leads and write score and reason back to Zoho CRM.")
def qualify_new_leads(
    context: dg.OpExecutionContext,
    config: EventBatchConfig,
    zoho: ZohoResource,
    lead_scorer: LeadScorerResource,
) -> int:
    settings = load_event_settings()
    result = qualify_leads(
        zoho.client().crm,
        lead_scorer.scorer(),
        config.batch().record_ids,
        score_field=settings.lead_score_field,
        reason_field=settings.lead_score_reason_field,
    )
    metadata = {**result.metadata(), "failures": dg.MetadataValue.json(result.metadata()["failures"])}
    if not result.ok:
        raise dg.Failure(
            description=f"{len(result.failures)} of {result.requested} leads were not qualified",
            metadata=metadata,
        )
    context.add_output_metadata(metadata)
    return len(result.updated)


class DeadLetterAlertConfig(dg.Config):
    target: str
    depth: int
    previous_depth: int
    sample_reasons: list[str] = Field(default_factory=list)


@dg.op(name=DEAD_LETTER_OP, description="Fail, so that run-failure alerting reports the dead letters.")
def raise_dead_letter_alert(config: DeadLetterAlertConfig) -> None:
    grown = config.depth - config.previous_depth
    raise dg.Failure(
        description=(
            f"{grown} new dead letter(s) in the {config.target} queue ({config.depth} in total): "
            "inspect them, fix the cause, then redrive or purge"
        ),
        metadata={
            "target": config.target,
            "depth": config.depth,
            "previous_depth": config.previous_depth,
            "sample_reasons": dg.MetadataValue.json(config.sample_reasons),
        },
    )


@dg.op(description="Subscribe or renew the Notification API watch channel before it expires.")
def ensure_watch_channels(
    context: dg.OpExecutionContext, zoho: ZohoResource, event_clock: ClockResource
) -> None:
    settings = load_event_settings()
    if settings.watch_channel_id is None or settings.watch_notify_url is None:
        raise dg.Failure(
            description="set ZOHO_WATCH_CHANNEL_ID and ZOHO_WATCH_NOTIFY_URL to manage a channel"
        )
    events = settings.watch_events or [
        f"{spec.api_name}.all" for spec in selected_modules() if spec.app == "crm"
    ]
    ttl = timedelta(hours=settings.watch_channel_ttl_hours)
    status = ensure_watch_channel(
        zoho.client().crm.notifications,
        channel_id=settings.watch_channel_id,
        events=events,
        notify_url=settings.watch_notify_url,
        token=settings.channel_token,
        now=event_clock.clock().now(),
        ttl=ttl,
        renew_within=ttl / 2,
    )
    context.log.info(f"watch channel {status.channel_id}: {status.action.value}")
    context.add_output_metadata(status.metadata())


@dg.job(
    description="Refresh the warehouse rows of records Zoho reported changed.", tags={"zoho/kind": "event"}
)
def event_refresh_job() -> None:
    refresh_changed_records()


@dg.job(description="Score new leads and write the result back to Zoho CRM.", tags={"zoho/kind": "event"})
def lead_qualification_job() -> None:
    qualify_new_leads()


@dg.job(description="A failed run per growth of an event dead-letter queue.", tags={"zoho/kind": "alert"})
def dead_letter_alert_job() -> None:
    raise_dead_letter_alert()


@dg.job(description="Keep the Zoho Notification API channel subscribed.", tags={"zoho/app": "crm"})
def watch_channels_job() -> None:
    ensure_watch_channels()
