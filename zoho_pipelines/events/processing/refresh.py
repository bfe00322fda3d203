"""The refresh job: bring the warehouse rows of changed records up to date, now.

Events say which records changed, not what they hold now (and a later change may already have
happened), so the job reads the records' current state from Zoho by id, 100 a call, and merges
it; deletions need no call: the event's time becomes the tombstone's deletion time. The merge
never lets an older version replace a newer one (see `warehouse.sql`), which makes the job
idempotent and order-free: a repeated run, a late run, or a delete processed before the update
that preceded it all end in the same row.

Rows are normalised with the same schema layer as the daily batch, from Zoho's current field
metadata, so event rows and batch rows are indistinguishable in the table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa

from zoho_pipelines.catalog import ModuleSpec
from zoho_pipelines.events.model import Operation
from zoho_pipelines.events.processing.batches import EventBatch
from zoho_pipelines.lake import Lake, PartitionRef
from zoho_pipelines.schema import RecordNormalizer, build_module_schema
from zoho_pipelines.warehouse import ArrowLoadingWarehouse, MergeResult, SqlWarehouse
from zoho_pipelines.zoho.crm import CrmClient


class RefreshError(RuntimeError):
    """The batch cannot be refreshed as configured (an app without reads by id, no staging)."""


@dataclass(frozen=True)
class RefreshResult:
    """What one refresh did, for run metadata."""

    module: str
    operation: Operation
    requested: int
    fetched: int
    tombstones: int
    missing: tuple[str, ...]
    merge: MergeResult

    def metadata(self) -> dict[str, Any]:
        return {
            "module": self.module,
            "operation": self.operation.value,
            "requested_ids": self.requested,
            "fetched_records": self.fetched,
            "tombstones": self.tombstones,
            "missing_ids": len(self.missing),
            "missing_sample": ", ".join(self.missing[:20]),
            "table": str(self.merge.table),
            "applied_rows": self.merge.applied_rows,
            "inserted_rows": self.merge.inserted_rows,
            "added_columns": ", ".join(self.merge.added_columns),
        }


def refresh_batch(
    crm: CrmClient,
    warehouse: SqlWarehouse,
    spec: ModuleSpec,
    batch: EventBatch,
    *,
    staging: Lake | None = None,
    synced_at: datetime | None = None,
) -> RefreshResult:
    """Merge the current state of the batch's records (or their tombstones) into the warehouse.

    Records an update or insert names but Zoho no longer returns are `missing`: they were deleted
    since, and the delete event that follows makes their tombstone. `staging` routes the rows
    through a lake (see `merge_rows`).
    """
    if spec.app != "crm":
        raise RefreshError(f"event refresh reads records by id from CRM only, not {spec.app}")
    synced_at = synced_at or datetime.now(UTC)
    metadata = crm.fields(spec.api_name)
    normalizer = RecordNormalizer(build_module_schema(spec, metadata))
    record_ids = batch.record_ids

    if batch.operation is Operation.DELETE:
        deletions = [
            {"id": record_id, "deleted_time": moment.isoformat()}
            for record_id, moment in batch.latest_occurrence().items()
        ]
        rows = [normalizer.tombstones(deletions, synced_at=synced_at)]
        fetched, missing = 0, ()
    else:
        fields = [str(field["api_name"]) for field in metadata]
        rows, seen = [], set()
        for records in crm.iter_by_ids(spec.api_name, record_ids, fields):
            rows.append(normalizer.records(records, synced_at=synced_at))
            seen.update(str(record["id"]) for record in records)
        fetched = len(seen)
        missing = tuple(record_id for record_id in record_ids if record_id not in seen)

    merge = merge_rows(warehouse, normalizer.arrow_schema, rows, staging=staging, day=synced_at.date())
    return RefreshResult(
        module=spec.module,
        operation=batch.operation,
        requested=len(record_ids),
        fetched=fetched,
        tombstones=len(record_ids) if batch.operation is Operation.DELETE else 0,
        missing=missing,
        merge=merge,
    )


def merge_rows(
    warehouse: SqlWarehouse,
    schema: pa.Schema,
    rows: Sequence[pa.RecordBatch],
    *,
    staging: Lake | None,
    day: date,
) -> MergeResult:
    """Merge rows in one transaction: from memory where the warehouse loads Arrow (DuckDB,
    PostgreSQL), or, when `staging` is given, through a Parquet file written there: the only way
    into a warehouse that loads from S3 (Redshift's COPY)."""
    if staging is not None:
        ref = PartitionRef(_text(schema.metadata, b"zoho.app"), _text(schema.metadata, b"zoho.module"), day)
        staging.write_partition(ref, schema, rows)
        return warehouse.merge_partition(staging, ref)
    if not isinstance(warehouse, ArrowLoadingWarehouse):
        raise RefreshError(
            f"{type(warehouse).__name__} loads from the lake only: give the refresh a staging lake"
        )
    return warehouse.merge_batches(schema, rows)


def _text(metadata: Mapping[bytes, bytes] | None, key: bytes) -> str:
    return (metadata or {})[key].decode()
