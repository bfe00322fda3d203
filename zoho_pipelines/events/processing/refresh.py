"""The refresh job: bring the warehouse rows of changed records up to date, now.

Events say which records changed, not what they hold now (and a later change may already have
happened), so the job reads the records' current state from Zoho by id, 100 a call, and merges
it. The merge never lets an older version replace a newer one (see `warehouse.sql`), which makes
the job idempotent and order-free: a repeated run, a late run, or a delete processed before the
update that preceded it all end in the same row.

A delete event is not taken on trust either: its records are read by id like any others, and
only those Zoho no longer returns become tombstones. A record Zoho still holds (the event was
forged, misdated, or the record was restored since) is refreshed instead, because a tombstone is
final: it outranks every version older than its time, so a wrong one would hide a live record
until it next changes. A tombstone is dated with the event's time, never later than the moment
the record was seen missing.

Rows are normalised with the same schema layer as the daily batch, from Zoho's current field
metadata, so event rows and batch rows are indistinguishable in the table.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from zoho_pipelines.catalog import ModuleSpec
from zoho_pipelines.clock import SYSTEM_CLOCK, Clock
from zoho_pipelines.events.model import Operation
from zoho_pipelines.events.processing.batches import EventBatch
from zoho_pipelines.lake import Lake, PartitionRef
from zoho_pipelines.schema import PARTITION, RecordNormalizer, build_module_schema
from zoho_pipelines.warehouse import ArrowLoadingWarehouse, MergeResult, SqlWarehouse
from zoho_pipelines.warehouse.base import merge_target
from zoho_pipelines.warehouse.sql import RECORD_MODIFIED_TIME, TableRef, quote
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
    still_live: tuple[str, ...] = ()

    def metadata(self) -> dict[str, Any]:
        return {
            "module": self.module,
            "operation": self.operation.value,
            "requested_ids": self.requested,
            "fetched_records": self.fetched,
            "tombstones": self.tombstones,
            "deletes_still_live": len(self.still_live),
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
    clock: Clock = SYSTEM_CLOCK,
) -> RefreshResult:
    """Merge the current state of the batch's records (or their tombstones) into the warehouse.

    Records an update or insert names but Zoho no longer returns are `missing`: they were deleted
    since, and the delete event that follows makes their tombstone. Records a delete names but
    Zoho still returns are `still_live` and refreshed. `staging` routes the rows through a lake
    (see `merge_rows`); `clock` stamps `_synced_at`.
    """
    if spec.app != "crm":
        raise RefreshError(f"event refresh reads records by id from CRM only, not {spec.app}")
    synced_at = clock.now()
    metadata = crm.fields(spec.api_name)
    normalizer = RecordNormalizer(build_module_schema(spec, metadata))
    record_ids = batch.record_ids

    fields = [str(field["api_name"]) for field in metadata]
    rows, seen = [], set()
    for records in crm.iter_by_ids(spec.api_name, record_ids, fields):
        rows.append(normalizer.records(records, synced_at=synced_at))
        seen.update(str(record["id"]) for record in records)
    gone = tuple(record_id for record_id in record_ids if record_id not in seen)

    tombstones = 0
    if batch.operation is Operation.DELETE and gone:
        occurred = batch.latest_occurrence()
        stored = _stored_values_times(warehouse, spec, gone)
        deletions = [
            {
                "id": record_id,
                "deleted_time": _deletion_time(occurred[record_id], stored.get(record_id), synced_at),
            }
            for record_id in gone
        ]
        rows.append(normalizer.tombstones(deletions, synced_at=synced_at))
        tombstones = len(deletions)

    merge = merge_rows(warehouse, normalizer.arrow_schema, rows, staging=staging)
    deleting = batch.operation is Operation.DELETE
    return RefreshResult(
        module=spec.module,
        operation=batch.operation,
        requested=len(record_ids),
        fetched=len(seen),
        tombstones=tombstones,
        missing=() if deleting else gone,
        merge=merge,
        still_live=tuple(record_id for record_id in record_ids if record_id in seen) if deleting else (),
    )


def _deletion_time(occurred: datetime, stored_values: datetime | None, confirmed: datetime) -> str:
    """When the confirmed deletion happened, as near Zoho's own time as the evidence allows.

    Zoho deleted the record after the values the warehouse holds (the read just proved it gone)
    and no later than that read. A delete event dated before the stored values (a replayed or
    misdated webhook) would otherwise make a tombstone that loses to them, and the acknowledged
    delete would leave the row live.
    """
    moment = max(occurred, stored_values) if stored_values is not None else occurred
    return min(moment, confirmed).isoformat()


def _stored_values_times(
    warehouse: SqlWarehouse, spec: ModuleSpec, record_ids: Sequence[str]
) -> dict[str, datetime]:
    """The Zoho time of the values each record holds in the warehouse (none for unknown ids)."""
    table = TableRef.for_module(spec.app, spec.module)
    if RECORD_MODIFIED_TIME not in warehouse.table_columns(table):
        return {}
    markers = ", ".join([warehouse.placeholder] * len(record_ids))
    rows = warehouse.query(
        f'SELECT "id", {quote(RECORD_MODIFIED_TIME)} FROM {table.sql} WHERE "id" IN ({markers})',  # noqa: S608
        tuple(record_ids),
    )
    return {str(record_id): moment.astimezone(UTC) for record_id, moment in rows if moment is not None}


def merge_rows(
    warehouse: SqlWarehouse,
    schema: pa.Schema,
    rows: Sequence[pa.RecordBatch],
    *,
    staging: Lake | None,
) -> MergeResult:
    """Merge rows: in one transaction from memory where the warehouse loads Arrow (DuckDB,
    PostgreSQL); or, when `staging` is given, through Parquet files written there, the only way
    into a warehouse that loads from S3 (Redshift's COPY).

    A lake partition holds only rows of its own day, so staged rows are written as one
    partition per modification day and merged partition by partition (one transaction each;
    every merge is idempotent and order-free, so a run that fails half-way is simply retried).
    """
    if staging is not None:
        return _merge_through(staging, warehouse, schema, rows)
    if not isinstance(warehouse, ArrowLoadingWarehouse):
        raise RefreshError(
            f"{type(warehouse).__name__} loads from the lake only: give the refresh a staging lake"
        )
    return warehouse.merge_batches(schema, rows)


def _merge_through(
    staging: Lake, warehouse: SqlWarehouse, schema: pa.Schema, rows: Sequence[pa.RecordBatch]
) -> MergeResult:
    app, module = _text(schema.metadata, b"zoho.app"), _text(schema.metadata, b"zoho.module")
    results = []
    for day, day_rows in sorted(rows_by_day(schema, rows).items()):
        ref = PartitionRef(app, module, day)
        staging.write_partition(ref, schema, [day_rows])
        results.append(warehouse.merge_partition(staging, ref))
    if not results:  # every id was missing: nothing to stage
        return MergeResult(
            merge_target(schema), staged_rows=0, applied_rows=0, inserted_rows=0, added_columns=()
        )
    return _combined(results)


def rows_by_day(schema: pa.Schema, rows: Sequence[pa.RecordBatch]) -> dict[date, pa.RecordBatch]:
    """The rows grouped by their `_partition` day (their modification or deletion day)."""
    table = pa.Table.from_batches([batch for batch in rows if batch.num_rows], schema=schema)
    if table.num_rows == 0:
        return {}
    grouped: dict[date, pa.RecordBatch] = {}
    for day in pc.unique(table.column(PARTITION)).to_pylist():
        selected = table.filter(pc.equal(table.column(PARTITION), pa.scalar(day, pa.date32())))
        grouped[day] = selected.combine_chunks().to_batches()[0]
    return grouped


def _combined(results: Sequence[MergeResult]) -> MergeResult:
    """One result for the partitions' merges, as one merge would have reported them."""
    return dataclasses.replace(
        results[0],
        staged_rows=sum(result.staged_rows for result in results),
        applied_rows=sum(result.applied_rows for result in results),
        inserted_rows=sum(result.inserted_rows for result in results),
        added_columns=tuple(dict.fromkeys(name for result in results for name in result.added_columns)),
    )


def _text(metadata: Mapping[bytes, bytes] | None, key: bytes) -> str:
    return (metadata or {})[key].decode()
