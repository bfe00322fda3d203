"""Document assets: one partition per CRM attachment, hanging off the Deals lake asset.

- `documents/crm/deals/extractions`: fetch the attachment into the lake, extract it, merge its
  row into zoho_documents.extractions. Depends on `lake/crm/deals`: the documents belong to the
  Deals the batch syncs, which is the lineage the UI draws.
- `documents/crm/deals/writebacks`: write the mapped values back onto the Deal (from the
  extraction row), its status into zoho_documents.writebacks.

Partitions are dynamic, keyed by document (`Deals/<record id>/<attachment id>.<ext>`), so one
document can be re-run alone. A sensor, not a schedule, adds them: it is the Dagster construct
that can add dynamic partitions and request their runs in one tick (SensorResult), and its cursor
(the last discovery time) keeps each tick to the Deals modified since, so the Attachments list is
read only for records that changed. It ticks hourly: every tick costs one call per modified Deal.

Every body is one call into `zoho_pipelines.documents`; this file only wires resources and metadata.
No `from __future__ import annotations`: Dagster reads the resource annotations at definition time.
"""

from datetime import datetime, timedelta

import dagster as dg

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
EXTRACTIONS = dg.AssetKey(["documents", "crm", "deals", "extractions"])
WRITEBACKS = dg.AssetKey(["documents", "crm", "deals", "writebacks"])
DOCUMENT_PARTITIONS = dg.DynamicPartitionsDefinition(name="zoho_crm_deals_documents")
DOCUMENTS_JOB = "zoho_documents_job"
SENSOR_INTERVAL_S = 3_600
DISCOVERY_OVERLAP = timedelta(minutes=5)
"""Each tick looks this far behind its cursor: a record saved during the last tick is not missed."""
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
    deps=[DEALS_LAKE],
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


@dg.sensor(
    job=documents_job,
    minimum_interval_seconds=SENSOR_INTERVAL_S,
    default_status=dg.DefaultSensorStatus.STOPPED,
)
def deal_documents_sensor(
    context: dg.SensorEvaluationContext,
    zoho: ZohoResource,
    lake: LakeResource,
    documents: DocumentsResource,
    documents_clock: ClockResource,
) -> dg.SensorResult:
    """New attachments of the Deals modified since the last tick become partitions and runs.

    Off until turned on: its first tick reads the Attachments list of every Deal (one API call
    each), which an org should choose to spend.
    """
    now = documents_clock.clock().now()
    since = datetime.fromisoformat(context.cursor) - DISCOVERY_OVERLAP if context.cursor else None
    flow = documents.flow(zoho, lake.lake(), documents_clock)
    known = set(context.instance.get_dynamic_partitions(DOCUMENT_PARTITIONS.name))
    new = list(dict.fromkeys(found.ref.partition_key for found in flow.discover(MODULE, since, now)))
    new = [key for key in new if key not in known]
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=key, partition_key=key) for key in new],
        dynamic_partitions_requests=[DOCUMENT_PARTITIONS.build_add_request(new)] if new else [],
        cursor=now.isoformat(),
    )


def documents_definitions() -> dg.Definitions:
    return dg.Definitions(
        assets=[deal_document_extractions, deal_document_writebacks],
        jobs=[documents_job],
        sensors=[deal_documents_sensor],
        resources={"documents": DocumentsResource(), "documents_clock": ClockResource()},
    )
