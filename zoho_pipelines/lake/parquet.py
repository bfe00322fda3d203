"""Streaming a partition's RecordBatches into one zstd Parquet file.

Batches arrive as the client pages through Zoho (200 records a page); writing each as its own
row group would make files slow to scan, so batches are buffered and written in row groups of
exactly `row_group_rows` (the last one smaller). Memory is bounded by that buffer, never by the
day's size.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from zoho_pipelines.schema import DELETED, PARTITION

# 64 Ki rows: large enough for fast scans and useful min/max statistics, small enough that the
# buffered group (plus Parquet's encoding buffers) stays a modest share of a sync's memory.
DEFAULT_ROW_GROUP_ROWS = 64 * 1024
COMPRESSION = "zstd"


class LakeError(RuntimeError):
    """A partition could not be written or read as asked."""


@dataclass(frozen=True)
class ParquetStats:
    rows: int
    tombstones: int
    row_groups: int


def write_parquet(
    path: str,
    schema: pa.Schema,
    batches: Iterable[pa.RecordBatch],
    *,
    day: date,
    row_group_rows: int = DEFAULT_ROW_GROUP_ROWS,
) -> ParquetStats:
    """Write `batches` to the local file `path`; every row must belong to partition `day`."""
    if PARTITION not in schema.names or DELETED not in schema.names:
        raise LakeError(f"a lake schema needs the {PARTITION} and {DELETED} columns")
    expected_day = pa.scalar(day, pa.date32())
    rows = tombstones = row_groups = 0
    buffer: list[pa.RecordBatch] = []
    buffered = 0
    with pq.ParquetWriter(path, schema, compression=COMPRESSION, write_statistics=True) as writer:

        def write_full_groups(final: bool) -> None:
            """Write every complete row group buffered (and the remainder when `final`)."""
            nonlocal buffer, buffered, row_groups
            if not buffered:
                return
            table = pa.Table.from_batches(buffer, schema=schema)
            groups = buffered // row_group_rows
            cut = buffered if final else groups * row_group_rows
            if cut:
                writer.write_table(table.slice(0, cut), row_group_size=row_group_rows)
                row_groups += -(-cut // row_group_rows)
            buffer = table.slice(cut).to_batches()
            buffered -= cut

        for batch in batches:
            if not batch.schema.equals(schema):
                raise LakeError(f"batch schema differs from the partition schema:\n{batch.schema}")
            if batch.num_rows == 0:
                continue
            if not pc.all(pc.equal(batch.column(PARTITION), expected_day)).as_py():
                raise LakeError(f"batch holds rows outside partition {day.isoformat()}")
            buffer.append(batch)
            buffered += batch.num_rows
            rows += batch.num_rows
            tombstones += pc.sum(batch.column(DELETED).cast(pa.int64())).as_py() or 0
            if buffered >= row_group_rows:
                write_full_groups(final=False)
        write_full_groups(final=True)
    return ParquetStats(rows=rows, tombstones=tombstones, row_groups=row_groups)
