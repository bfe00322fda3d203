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

from collections import Counter
from datetime import timedelta

import dagster as dg
from pydantic import Field

from zoho_pipelines.defs.events.resources import ClockResource
from zoho_pipelines.defs.resources import LakeResource, WarehouseResource, ZohoResource
from zoho_pipelines.documents.batch import (
    BatchResult,
    extract_documents,
    pending_ranges,
    write_back_documents,
)
from zoho_pipelines.documents.flow import DocumentsFlow
from zoho_pipelines.documents.mapping import load_mapping
from zoho_pipelines.documents.model import DocumentRef
from zoho_pipelines.documents.store import document_store
from zoho_pipelines.documents.writeback import FAILED, UNCHANGED, WRITTEN
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
RANGE_START_TAG, RANGE_END_TAG = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"
"""The run tags Dagster reads a run's partition range from (as a backfill sets them)."""


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


SINGLE_RUN = dg.BackfillPolicy.single_run()
"""A backfill or a range of document partitions is one run: Dagster's per-run cost (seconds of
process start, event log writes and resource set-up) paid once, not once per document."""


def _refs(context: dg.AssetExecutionContext) -> list[DocumentRef]:
    return [DocumentRef.from_partition_key(key) for key in context.partition_keys]


def _raise_failures(result: BatchResult, step: str) -> None:
    """A failed document fails the run (so none of its range reads as done) once the others are saved."""
    if result.failures:
        raise dg.Failure(
            description=f"{len(result.failures)} documents failed to {step}: {result.failure_summary()}",
            metadata={"failed": [failure.ref.partition_key for failure in result.failures]},
        )


@dg.asset(
    key=EXTRACTIONS,
    deps=[DEALS_LAKE_AS_A_WHOLE],
    group_name=GROUP,
    partitions_def=DOCUMENT_PARTITIONS,
    backfill_policy=SINGLE_RUN,
    kinds={"zoho", "textract", "table"},
    pool="zoho_api",
    description=(
        "Each Deal document (Attachments list and file-upload fields) in the lake "
        "(zoho/documents/Deals/<record id>/<file id>.<ext>, SSE-KMS on S3) and its extraction "
        "(key-value pairs, tables, named values, confidence, extractor) in zoho_documents.extractions."
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
    flow = documents.flow(zoho, lake.lake(), documents_clock)
    with warehouse.connect() as connection:
        result = extract_documents(flow, connection, _refs(context), _staging(lake, connection))
    _raise_failures(result, "extract")
    extractions = result.extractions
    return dg.MaterializeResult(
        metadata={
            "documents": len(extractions),
            "kinds": ", ".join(sorted({item.kind for item in extractions})),
            "extractor": ", ".join(sorted({item.content.extractor for item in extractions})),
            "pages": sum(item.content.page_count for item in extractions),  # Textract bills per page
            "bytes": sum(item.document.size for item in extractions),
            "downloaded": sum(1 for item in extractions if item.document.downloaded),
            "key_values": sum(len(item.content.key_values) for item in extractions),
            "tables": sum(len(item.content.tables) for item in extractions),
            "named_values": ", ".join(sorted({name for item in extractions for name in item.fields}))
            or "none",
            "lowest_confidence": min(
                (item.confidence for item in extractions if item.confidence is not None), default=-1.0
            ),
        }
    )


@dg.asset(
    key=WRITEBACKS,
    deps=[EXTRACTIONS],
    group_name=GROUP,
    partitions_def=DOCUMENT_PARTITIONS,
    backfill_policy=SINGLE_RUN,
    kinds={"zoho", "table"},
    pool="zoho_api",
    description=(
        "The mapped values (mapping.toml: a contract's end date and value) written onto the Deal "
        "when Zoho does not hold them yet; every attempt's outcome in zoho_documents.writebacks."
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
    flow = documents.flow(zoho, lake.lake(), documents_clock)
    with warehouse.connect() as connection:
        result = write_back_documents(flow, connection, _refs(context), _staging(lake, connection))
    _raise_failures(result, "write back")
    statuses = Counter(outcome.status for outcome in result.writebacks)
    return dg.MaterializeResult(
        metadata={
            **{status: statuses[status] for status in (WRITTEN, UNCHANGED, FAILED)},
            "without_rules": len(result.without_rules),
            "written_fields": ", ".join(
                sorted({name for outcome in result.writebacks for name in outcome.written_fields})
            )
            or "none",
            "reasons": "; ".join(sorted({outcome.reason for outcome in result.writebacks if outcome.reason}))
            or "none",
        }
    )


documents_job = dg.define_asset_job(
    DOCUMENTS_JOB,
    selection=dg.AssetSelection.assets(EXTRACTIONS, WRITEBACKS),
    tags={"zoho/app": "crm"},
    description="Deal documents (a partition, or a range as one run): lake, extraction, write-back.",
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
    """One run per unbroken range of document partitions not yet extracted; reads only the instance.

    The run key is the range, so each range is requested once: a failed run is re-run by hand
    (its range, or one document's partition, in the UI), not retried on every tick.
    """
    keys = context.instance.get_dynamic_partitions(DOCUMENT_PARTITIONS.name)
    done = set(context.instance.get_materialized_partitions(EXTRACTIONS))
    return dg.SensorResult(
        run_requests=[partition_range_request(first, last) for first, last in pending_ranges(keys, done)]
    )


def partition_range_request(first: str, last: str) -> dg.RunRequest:
    """A run over the document partitions first..last (one partition when they are the same)."""
    if first == last:
        return dg.RunRequest(run_key=first, partition_key=first)
    return dg.RunRequest(run_key=f"{first}..{last}", tags=partition_range_tags(first, last))


def partition_range_tags(first: str, last: str) -> dict[str, str]:
    return {RANGE_START_TAG: first, RANGE_END_TAG: last}


def documents_definitions() -> dg.Definitions:
    return dg.Definitions(
        assets=[deal_document_extractions, deal_document_writebacks],
        jobs=[documents_job, discovery_job],
        schedules=[discovery_schedule],
        sensors=[deal_documents_sensor],
        resources={"documents": DocumentsResource(), "documents_clock": ClockResource()},
    )
