"""Document assets: one partition per CRM attachment, hanging off the Deals lake asset.

- `documents/crm/deals/extractions`: fetch the attachment into the lake, extract it, merge its
  row into zoho_documents.extractions. Depends on `lake/crm/deals`: the documents belong to the
  Deals the batch syncs, which is the lineage the UI draws.
- `documents/crm/deals/writebacks`: write the mapped values back onto the Deal (from the
  extraction row), its status into zoho_documents.writebacks.

Partitions are dynamic, keyed by document (`Deals/<record id>/<attachment id>.<ext>`), so one
document can be re-run alone. New ones are found by an hourly schedule, not a sensor, because
finding them calls Zoho (the Deals modified in the last hour, then each one's Attachments list,
one call per Deal): as a run it executes in a run task, whose role holds the Zoho credentials,
is recorded and retried like any run, and is paced by the run queue; a sensor would call Zoho
from the daemon every tick. A sensor that reads only the instance then requests one run per new
document partition. Schedule and sensor are off until documents are turned on (README).

Every body is one call into `zoho_pipelines.documents`; this file only wires resources and metadata.
No `from __future__ import annotations`: Dagster reads the resource annotations at definition time.
"""

from datetime import timedelta

import dagster as dg
from pydantic import Field

from zoho_pipelines.defs.events.resources import ClockResource
from zoho_pipelines.defs.resources import LakeResource, WarehouseResource, ZohoResource
from zoho_pipelines.documents.flow import (
    DocumentsFlow,
    save_extraction,
    save_writeback,
    stored_extraction,
)
from zoho_pipelines.documents.mapping import load_mapping
from zoho_pipelines.documents.model import DocumentRef
from zoho_pipelines.documents.store import document_store
from zoho_pipelines.lake import Lake, open_lake
from zoho_pipelines.settings import load_settings
from zoho_pipelines.warehouse import ArrowLoadingWarehouse, SqlWarehouse

MODULE = "Deals"
DEALS_LAKE = dg.AssetKey(["lake", "crm", "deals"])
# A document hangs off a Deal, not off one day of Deals: each document partition depends on the
# module as a whole (a dynamic partition has no daily partition to map to).
DEALS_LAKE_AS_A_WHOLE = dg.AssetDep(DEALS_LAKE, partition_mapping=dg.AllPartitionMapping())
EXTRACTIONS = dg.AssetKey(["documents", "crm", "deals", "extractions"])
WRITEBACKS = dg.AssetKey(["documents", "crm", "deals", "writebacks"])
DOCUMENT_PARTITIONS = dg.DynamicPartitionsDefinition(name="zoho_crm_deals_documents")
DOCUMENTS_JOB = "zoho_documents_job"
DISCOVERY_JOB = "zoho_documents_discovery"
DISCOVERY_CRON = "15 * * * *"
DISCOVERY_LOOKBACK_MINUTES = 75
"""An hour between runs, and a margin: a Deal saved while the last discovery ran is not missed."""
SENSOR_INTERVAL_S = 60
GROUP = "zoho_documents"


class DocumentsResource(dg.ConfigurableResource):
    """The extractor DOCUMENT_EXTRACTOR names, the mapping shipped with the package, and the clock."""

    def flow(self, zoho: ZohoResource, lake: Lake, clock: ClockResource) -> DocumentsFlow:
        from zoho_pipelines.documents.extractors import extractor_for

        return DocumentsFlow(
            zoho.client(), document_store(lake), extractor_for(load_settings()), load_mapping(), clock.clock()
        )


def _staging(lake: LakeResource, warehouse: SqlWarehouse) -> Lake | None:
    """Redshift loads only from S3 (COPY): rows go through a staging prefix of the lake."""
    if isinstance(warehouse, ArrowLoadingWarehouse):
        return None
    settings = load_settings()
    url = (lake.url or settings.resolved_lake_url).rstrip("/")
    return open_lake(f"{url}/_documents_staging", kms_key_id=settings.lake_kms_key_id)


@dg.asset(
    key=EXTRACTIONS,
    deps=[DEALS_LAKE_AS_A_WHOLE],
    group_name=GROUP,
    partitions_def=DOCUMENT_PARTITIONS,
    kinds={"zoho", "textract", "table"},
    pool="zoho_api",
    description=(
        "Each Deal attachment in the lake (zoho/documents/Deals/<record id>/<attachment id>.<ext>, "
        "SSE-KMS on S3) and its extraction (key-value pairs, tables, named values, confidence, "
        "extractor) in zoho_documents.extractions."
    ),
    tags={"zoho/app": "crm", "zoho/module": "deals"},
)
def deal_document_extractions(
    context: dg.AssetExecutionContext,
    zoho: ZohoResource,
    lake: LakeResource,
    warehouse: WarehouseResource,
    documents: DocumentsResource,
    documents_clock: ClockResource,
) -> dg.MaterializeResult:
    ref = DocumentRef.from_partition_key(context.partition_key)
    store = lake.lake()
    flow = documents.flow(zoho, store, documents_clock)
    found = flow.find(ref)
    stored = flow.fetch(found.attachment)
    extraction = flow.extract(stored, found.kind)
    with warehouse.connect() as connection:
        save_extraction(connection, extraction, _staging(lake, connection))
    return dg.MaterializeResult(
        metadata={
            "document": dg.MetadataValue.path(stored.uri),
            "kind": found.kind,
            "extractor": extraction.content.extractor,
            "pages": extraction.content.page_count,  # Textract bills per page analysed
            "bytes": stored.size,
            "downloaded": stored.downloaded,
            "key_values": len(extraction.content.key_values),
            "tables": len(extraction.content.tables),
            "named_values": ", ".join(sorted(extraction.fields)) or "none",
            "confidence": extraction.confidence if extraction.confidence is not None else -1.0,
        }
    )


@dg.asset(
    key=WRITEBACKS,
    deps=[EXTRACTIONS],
    group_name=GROUP,
    partitions_def=DOCUMENT_PARTITIONS,
    kinds={"zoho", "table"},
    pool="zoho_api",
    description=(
        "The mapped values (mapping.toml: a contract's end date and value) written onto the Deal "
        "when Zoho does not hold them yet; each document's outcome in zoho_documents.writebacks."
    ),
    tags={"zoho/app": "crm", "zoho/module": "deals"},
)
def deal_document_writebacks(
    context: dg.AssetExecutionContext,
    zoho: ZohoResource,
    lake: LakeResource,
    warehouse: WarehouseResource,
    documents: DocumentsResource,
    documents_clock: ClockResource,
) -> dg.MaterializeResult:
    ref = DocumentRef.from_partition_key(context.partition_key)
    flow = documents.flow(zoho, lake.lake(), documents_clock)
    with warehouse.connect() as connection:
        kind, fields = stored_extraction(connection, ref)
        outcome = flow.write_back(ref, kind, fields)
        if outcome is not None:
            save_writeback(connection, outcome, _staging(lake, connection))
    if outcome is None:
        return dg.MaterializeResult(metadata={"status": f"no write-back rules for {kind}"})
    return dg.MaterializeResult(
        metadata={
            "status": outcome.status,
            "reason": outcome.reason or "none",
            "written_fields": ", ".join(outcome.written_fields) or "none",
        }
    )


documents_job = dg.define_asset_job(
    DOCUMENTS_JOB,
    selection=dg.AssetSelection.assets(EXTRACTIONS, WRITEBACKS),
    tags={"zoho/app": "crm"},
    description="One Deal document: into the lake, extracted, written back.",
)


class DiscoveryConfig(dg.Config):
    lookback_minutes: int = Field(
        0,
        ge=0,
        description="Look at the Deals modified this many minutes before the run; 0 looks at every Deal.",
    )


@dg.op(
    description="List the Attachments of the Deals modified in the window; each new one becomes a partition.",
    tags={"zoho/app": "crm"},
)
def discover_deal_documents(
    context: dg.OpExecutionContext,
    config: DiscoveryConfig,
    zoho: ZohoResource,
    lake: LakeResource,
    documents: DocumentsResource,
    documents_clock: ClockResource,
) -> None:
    now = documents_clock.clock().now()
    since = now - timedelta(minutes=config.lookback_minutes) if config.lookback_minutes else None
    flow = documents.flow(zoho, lake.lake(), documents_clock)
    found = list(dict.fromkeys(item.ref.partition_key for item in flow.discover(MODULE, since, now)))
    known = set(context.instance.get_dynamic_partitions(DOCUMENT_PARTITIONS.name))
    new = [key for key in found if key not in known]
    context.instance.add_dynamic_partitions(DOCUMENT_PARTITIONS.name, new)
    context.log.info(f"{len(found)} documents on the Deals modified since {since or 'ever'}; {len(new)} new")


@dg.job(name=DISCOVERY_JOB, tags={"zoho/app": "crm"}, description="Find new Deal attachments.")
def discovery_job() -> None:
    discover_deal_documents()


@dg.schedule(
    cron_schedule=DISCOVERY_CRON,
    job=discovery_job,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description=(
        "Hourly: the Attachments of the Deals modified in the last hour (and a margin). Off until "
        "documents are turned on; run the job once with lookback_minutes 0 for the existing ones."
    ),
)
def discovery_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    config = DiscoveryConfig(lookback_minutes=DISCOVERY_LOOKBACK_MINUTES)
    return dg.RunRequest(run_config=dg.RunConfig(ops={"discover_deal_documents": config}))


@dg.sensor(
    job=documents_job,
    minimum_interval_seconds=SENSOR_INTERVAL_S,
    default_status=dg.DefaultSensorStatus.STOPPED,
)
def deal_documents_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    """A run for every document partition not yet extracted; reads only the Dagster instance.

    The run key is the document key, so each document is requested once: a failed one is
    re-run by hand (its partition in the UI), not retried on every tick.
    """
    keys = context.instance.get_dynamic_partitions(DOCUMENT_PARTITIONS.name)
    done = context.instance.get_materialized_partitions(EXTRACTIONS)
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=key, partition_key=key) for key in keys if key not in done]
    )


def documents_definitions() -> dg.Definitions:
    return dg.Definitions(
        assets=[deal_document_extractions, deal_document_writebacks],
        jobs=[documents_job, discovery_job],
        schedules=[discovery_schedule],
        sensors=[deal_documents_sensor],
        resources={"documents": DocumentsResource(), "documents_clock": ClockResource()},
    )
