"""Document assets: one partition per file on a CRM record, hanging off the module's lake asset.

For each module in DOCUMENT_MODULES (Deals; another module is one more entry):
- `documents/crm/<module>/extractions`: fetch the file into the lake, extract it, merge its row
  into zoho_documents.extractions. Depends on `lake/crm/<module>`: the documents belong to the
  records the batch syncs, which is the lineage the UI draws.
- `documents/crm/<module>/writebacks`: write the mapped values back onto the record (from the
  extraction row), each attempt into zoho_documents.writebacks.

A file is one on the record's Attachments related list or in one of the module's file-upload
fields (found from the field metadata). Partitions are dynamic, keyed by document
(`<module>/<record id>/<attachment or file id>.<ext>`), so one document can be re-run alone; a
range of them runs as one run (BackfillPolicy.single_run), so a backfill of a thousand documents
pays Dagster's per-run cost once. New ones are found by an hourly schedule, not a sensor, because
finding them calls Zoho (the records modified in the last hour with their file-upload fields,
then each one's Attachments list, one call per record): as a run it executes in a run task, whose
role holds the Zoho credentials, is recorded and retried like any run, and is paced by the run
queue; a sensor would call Zoho from the daemon every tick. A sensor that reads only the instance
then requests one run per unbroken range of new document partitions. Schedule and sensor are off
until documents are turned on (README).

Every body is one call into `zoho_pipelines.documents`; this file only wires resources and metadata.
No `from __future__ import annotations`: Dagster reads the resource annotations at definition time.
"""

import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

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
from zoho_pipelines.events.processing.staging import staging_for
from zoho_pipelines.lake import Lake
from zoho_pipelines.settings import load_settings
from zoho_pipelines.warehouse import SqlWarehouse

DOCUMENT_MODULES = ("Deals",)
"""The CRM modules whose files are read; mapping.toml's write-back rules name Deals' fields."""
DISCOVERY_CRON = "15 * * * *"
DISCOVERY_LOOKBACK_MINUTES = 75
"""An hour between runs, and a margin: a record saved while the last discovery ran is not missed."""
SENSOR_INTERVAL_S = 60
GROUP = "zoho_documents"
RANGE_START_TAG, RANGE_END_TAG = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"
"""The run tags Dagster reads a run's partition range from (as a backfill sets them)."""
SINGLE_RUN = dg.BackfillPolicy.single_run()
"""A backfill or a range of document partitions is one run: Dagster's per-run cost (seconds of
process start, event log writes and resource set-up) paid once, not once per document."""


def _single_run_asset(**asset_args: Any) -> Callable[[Callable[..., Any]], dg.AssetsDefinition]:
    """`dg.asset` with backfill_policy=SINGLE_RUN, without the BetaWarning Dagster 1.13 gives that
    parameter on every load (`dg dev`, each run): the policy is chosen deliberately (SINGLE_RUN), so
    the note only hides the warnings that are news. Only that warning, only around this call."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Parameter `backfill_policy`", category=dg.BetaWarning)
        return dg.asset(backfill_policy=SINGLE_RUN, **asset_args)


class DocumentsResource(dg.ConfigurableResource):
    """The extractor DOCUMENT_EXTRACTOR names, the mapping shipped with the package, and the clock."""

    def flow(self, zoho: ZohoResource, lake: Lake, clock: ClockResource) -> DocumentsFlow:
        from zoho_pipelines.documents.extractors import extractor_for

        return DocumentsFlow(
            zoho.client(), document_store(lake), extractor_for(load_settings()), load_mapping(), clock.clock()
        )


class DiscoveryConfig(dg.Config):
    lookback_minutes: int = Field(
        0,
        ge=0,
        description="Look at the records modified this many minutes before the run; 0 looks at every one.",
    )


BatchStep = Callable[[DocumentsFlow, SqlWarehouse, Sequence[DocumentRef], Lake | None], BatchResult]


def _run_batch(
    step: BatchStep,
    flow: DocumentsFlow,
    context: dg.AssetExecutionContext,
    lake: LakeResource,
    warehouse: WarehouseResource,
    verb: str,
) -> BatchResult:
    """The step over the run's documents. A failed document fails the run (so none of its range
    reads as done), after the others' rows are saved."""
    refs = [DocumentRef.from_partition_key(key) for key in context.partition_keys]
    settings = load_settings()
    lake_url = lake.url or settings.resolved_lake_url
    with (
        warehouse.connect() as connection,
        staging_for(connection, lake_url, context.run.run_id, kms_key_id=settings.lake_kms_key_id) as staging,
    ):
        result = step(flow, connection, refs, staging)
    if result.failures:
        raise dg.Failure(
            description=f"{len(result.failures)} documents failed to {verb}: {result.failure_summary()}",
            metadata={"failed": [failure.ref.partition_key for failure in result.failures]},
        )
    return result


def _extraction_metadata(result: BatchResult) -> dict[str, object]:
    extractions = result.extractions
    return {
        "documents": len(extractions),
        "kinds": ", ".join(sorted({item.kind for item in extractions})),
        "extractor": ", ".join(sorted({item.content.extractor for item in extractions})),
        "pages": sum(item.content.page_count for item in extractions),  # Textract bills per page
        "bytes": sum(item.document.size for item in extractions),
        "downloaded": sum(1 for item in extractions if item.document.downloaded),
        "key_values": sum(len(item.content.key_values) for item in extractions),
        "tables": sum(len(item.content.tables) for item in extractions),
        "named_values": ", ".join(sorted({name for item in extractions for name in item.fields})) or "none",
        "lowest_confidence": min(
            (item.confidence for item in extractions if item.confidence is not None), default=-1.0
        ),
    }


def _writeback_metadata(result: BatchResult) -> dict[str, object]:
    statuses = Counter(outcome.status for outcome in result.writebacks)
    written = sorted({name for outcome in result.writebacks for name in outcome.written_fields})
    reasons = sorted({outcome.reason for outcome in result.writebacks if outcome.reason})
    return {
        **{status: statuses[status] for status in (WRITTEN, UNCHANGED, FAILED)},
        "without_rules": len(result.without_rules),
        "written_fields": ", ".join(written) or "none",
        "reasons": "; ".join(reasons) or "none",
    }


def partition_range_tags(first: str, last: str) -> dict[str, str]:
    return {RANGE_START_TAG: first, RANGE_END_TAG: last}


def partition_range_request(first: str, last: str) -> dg.RunRequest:
    """A run over the document partitions first..last (one partition when they are the same)."""
    if first == last:
        return dg.RunRequest(run_key=first, partition_key=first)
    return dg.RunRequest(run_key=f"{first}..{last}", tags=partition_range_tags(first, last))


@dataclass(frozen=True)
class ModuleDocuments:
    """The names of one module's document definitions (`documents_for` builds them)."""

    module: str

    @property
    def slug(self) -> str:
        return self.module.lower()

    @property
    def partitions(self) -> dg.DynamicPartitionsDefinition:
        return dg.DynamicPartitionsDefinition(name=f"zoho_crm_{self.slug}_documents")

    @property
    def extractions_key(self) -> dg.AssetKey:
        return dg.AssetKey(["documents", "crm", self.slug, "extractions"])

    @property
    def writebacks_key(self) -> dg.AssetKey:
        return dg.AssetKey(["documents", "crm", self.slug, "writebacks"])

    @property
    def job_name(self) -> str:
        return f"zoho_{self.slug}_documents"

    @property
    def discovery_job_name(self) -> str:
        return f"zoho_{self.slug}_documents_discovery"


def documents_for(module: str) -> dg.Definitions:
    """Assets, jobs, schedule and sensor for the files on `module`'s records."""
    names = ModuleDocuments(module)
    partitions = names.partitions
    tags = {"zoho/app": "crm", "zoho/module": names.slug}
    # A document hangs off a record, not off one day of records: each document partition depends
    # on the module's lake asset as a whole (a dynamic partition has no daily partition to map to).
    lake_as_a_whole = dg.AssetDep(
        dg.AssetKey(["lake", "crm", names.slug]), partition_mapping=dg.AllPartitionMapping()
    )

    @_single_run_asset(
        key=names.extractions_key,
        deps=[lake_as_a_whole],
        group_name=GROUP,
        partitions_def=partitions,
        kinds={"zoho", "textract", "table"},
        pool="zoho_api",
        description=(
            f"Each file on a {module} record (Attachments list and file-upload fields) in the lake "
            f"(zoho/documents/{module}/<record id>/<file id>.<ext>, SSE-KMS on S3) and its extraction "
            "(key-value pairs, tables, named values, confidence, extractor) in zoho_documents.extractions."
        ),
        tags=tags,
    )
    def extractions(
        context: dg.AssetExecutionContext,
        zoho: ZohoResource,
        lake: LakeResource,
        warehouse: WarehouseResource,
        documents: DocumentsResource,
        documents_clock: ClockResource,
    ) -> dg.MaterializeResult:
        flow = documents.flow(zoho, lake.lake(), documents_clock)
        result = _run_batch(extract_documents, flow, context, lake, warehouse, "extract")
        return dg.MaterializeResult(metadata=_extraction_metadata(result))

    @_single_run_asset(
        key=names.writebacks_key,
        deps=[names.extractions_key],
        group_name=GROUP,
        partitions_def=partitions,
        kinds={"zoho", "table"},
        pool="zoho_api",
        description=(
            f"The mapped values (mapping.toml) written onto the {module} record when Zoho does not "
            "hold them yet; every attempt's outcome in zoho_documents.writebacks."
        ),
        tags=tags,
    )
    def writebacks(
        context: dg.AssetExecutionContext,
        zoho: ZohoResource,
        lake: LakeResource,
        warehouse: WarehouseResource,
        documents: DocumentsResource,
        documents_clock: ClockResource,
    ) -> dg.MaterializeResult:
        flow = documents.flow(zoho, lake.lake(), documents_clock)
        result = _run_batch(write_back_documents, flow, context, lake, warehouse, "write back")
        return dg.MaterializeResult(metadata=_writeback_metadata(result))

    job = dg.define_asset_job(
        names.job_name,
        selection=dg.AssetSelection.assets(names.extractions_key, names.writebacks_key),
        tags={"zoho/app": "crm"},
        description=f"{module} documents (a partition, or a range as one run): lake, extraction, write-back.",
    )

    @dg.op(
        name=f"discover_{names.slug}_documents",
        description=f"The files of the {module} modified in the window; each new one becomes a partition.",
        tags={"zoho/app": "crm"},
    )
    def discover(
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
        found = list(dict.fromkeys(item.ref.partition_key for item in flow.discover(module, since, now)))
        known = set(context.instance.get_dynamic_partitions(partitions.name))
        new = [key for key in found if key not in known]
        context.instance.add_dynamic_partitions(partitions.name, new)
        context.log.info(
            f"{len(found)} documents on the {module} modified since {since or 'ever'}; {len(new)} new"
        )

    @dg.job(name=names.discovery_job_name, tags={"zoho/app": "crm"}, description=f"Find new {module} files.")
    def discovery() -> None:
        discover()

    @dg.schedule(
        name=f"{names.discovery_job_name}_hourly",
        cron_schedule=DISCOVERY_CRON,
        job=discovery,
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description=(
            f"Hourly: the files of the {module} modified in the last hour (and a margin). Off until "
            "documents are turned on; run the job once with lookback_minutes 0 for the existing ones."
        ),
    )
    def hourly(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        config = DiscoveryConfig(lookback_minutes=DISCOVERY_LOOKBACK_MINUTES)
        return dg.RunRequest(run_config=dg.RunConfig(ops={f"discover_{names.slug}_documents": config}))

    @dg.sensor(
        name=f"zoho_{names.slug}_documents_sensor",
        job=job,
        minimum_interval_seconds=SENSOR_INTERVAL_S,
        default_status=dg.DefaultSensorStatus.STOPPED,
    )
    def new_documents(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        """One run per unbroken range of document partitions not yet extracted; reads only the instance.

        The run key is the range, so each range is requested once: a failed run is re-run by hand
        (its range, or one document's partition, in the UI), not retried on every tick.
        """
        keys = context.instance.get_dynamic_partitions(partitions.name)
        done = set(context.instance.get_materialized_partitions(names.extractions_key))
        return dg.SensorResult(
            run_requests=[partition_range_request(first, last) for first, last in pending_ranges(keys, done)]
        )

    return dg.Definitions(
        assets=[extractions, writebacks],
        jobs=[job, discovery],
        schedules=[hourly],
        sensors=[new_documents],
    )


def documents_definitions() -> dg.Definitions:
    return dg.Definitions.merge(
        *(documents_for(module) for module in DOCUMENT_MODULES),
        dg.Definitions(resources={"documents": DocumentsResource(), "documents_clock": ClockResource()}),
    )
