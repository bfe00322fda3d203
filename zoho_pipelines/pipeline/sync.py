"""One module's UTC day from Zoho into one lake partition, streamed and atomic.

The partition holds every record whose modification time falls on the day, plus a tombstone for
every record deleted that day. Records flow page by page through the normaliser into Parquet row
groups, so a day of any size never sits in memory as Python objects; the lake swaps the finished
file in atomically, so a failure at any point leaves the previous partition as it was.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time

import pyarrow as pa

from zoho_pipelines.catalog import ModuleSpec
from zoho_pipelines.clock import SYSTEM_CLOCK, Clock
from zoho_pipelines.gc_tuning import fewer_gc_passes
from zoho_pipelines.lake import Lake, PartitionRef, WrittenPartition
from zoho_pipelines.pipeline.source import ModuleSource
from zoho_pipelines.schema import ModuleSchema, RecordNormalizer, build_module_schema, merge_schemas
from zoho_pipelines.zoho.client import ZohoClient

log = logging.getLogger(__name__)


def day_window(day: date) -> tuple[datetime, datetime]:
    """[00:00, next 00:00) of `day` in UTC: the partition's modification-time window."""
    start = datetime.combine(day, clock_time(), tzinfo=UTC)
    return start, start + timedelta(days=1)


@dataclass(frozen=True)
class PartitionSync:
    """What one partition sync did, for run metadata and checks."""

    written: WrittenPartition
    schema: ModuleSchema
    records_received: int
    deletions_received: int
    api_calls: int
    api_credits: int
    seconds: float
    added_columns: tuple[str, ...] = ()
    removed_fields: tuple[str, ...] = field(default=())
    unfitted: dict[str, int] = field(default_factory=dict)
    """Values per Zoho field kept in `_unfitted` because they fit no typed column."""
    unfitted_samples: dict[str, list[str]] = field(default_factory=dict)
    """The first record ids per field with such a value (ids only: values may be personal)."""


def resolve_schema(source: ModuleSource, lake: Lake) -> tuple[ModuleSchema, tuple[str, ...], tuple[str, ...]]:
    """Zoho's current fields merged into the schema of the newest stored partition.

    Drift is handled here, before any record is read: new fields become columns, removed ones
    stay nullable, and an incompatible type change raises `SchemaDriftError` with advice.
    """
    spec = source.spec
    incoming = build_module_schema(spec, source.field_metadata())
    days = lake.list_partitions(spec.app, spec.module)
    if not days:
        return incoming, (), ()
    stored = ModuleSchema.from_arrow(lake.read_schema(PartitionRef(spec.app, spec.module, days[-1])))
    merge = merge_schemas(stored, incoming)
    return merge.schema, merge.added_columns, merge.removed_fields


def _requested_fields(schema: ModuleSchema, removed: tuple[str, ...]) -> list[str]:
    """The Zoho api names to ask for: every live field the columns come from, cursor included."""
    names = [column.source for column in schema.fields if column.source and column.source not in removed]
    if schema.cursor_field not in names:
        names.append(schema.cursor_field)
    return list(dict.fromkeys(names))


def sync_partition(
    client: ZohoClient, lake: Lake, spec: ModuleSpec, day: date, *, clock: Clock = SYSTEM_CLOCK
) -> PartitionSync:
    """Replace the lake partition of `spec` for `day` with what Zoho holds for that day.

    `clock` stamps `_synced_at`, the tie-break between two reads of one version.
    """
    started = time.perf_counter()
    calls_before, credits_before = client.stats.calls, client.stats.credits
    source = ModuleSource(client, spec)
    schema, added, removed = resolve_schema(source, lake)
    normalizer = RecordNormalizer(schema)
    start, end = day_window(day)
    synced_at = clock.now()
    counts = {"records": 0, "deletions": 0}

    def batches() -> Iterator[pa.RecordBatch]:
        for records in source.records(_requested_fields(schema, removed), start, end):
            if records:
                counts["records"] += len(records)
                yield normalizer.records(records, synced_at=synced_at)
        for deleted in source.deletions(start, end):
            if deleted:
                counts["deletions"] += len(deleted)
                yield normalizer.tombstones(deleted, synced_at=synced_at)

    ref = PartitionRef(spec.app, spec.module, day)
    with fewer_gc_passes():
        written = lake.write_partition(ref, normalizer.arrow_schema, batches())
    result = PartitionSync(
        written=written,
        schema=schema,
        records_received=counts["records"],
        deletions_received=counts["deletions"],
        api_calls=client.stats.calls - calls_before,
        api_credits=client.stats.credits - credits_before,
        seconds=time.perf_counter() - started,
        added_columns=added,
        removed_fields=removed,
        unfitted=dict(sorted(normalizer.unfitted.items())),
        unfitted_samples=dict(sorted(normalizer.unfitted_samples.items())),
    )
    if result.unfitted:
        # Field names, counts and record ids only: the values themselves may be personal data.
        log.warning(
            "%s %s: values kept in _unfitted (they fit no typed column): %s; e.g. records %s",
            spec.selector,
            day,
            result.unfitted,
            result.unfitted_samples,
        )
    log.info(
        "synced %s %s: %d records, %d deletions, %d calls in %.2f s",
        spec.selector,
        day,
        result.records_received,
        result.deletions_received,
        result.api_calls,
        result.seconds,
    )
    return result
