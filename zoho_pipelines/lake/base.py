"""The lake contract both stores (local folder, S3) fulfil."""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date

import pyarrow as pa
import pyarrow.parquet as pq

from zoho_pipelines.lake.layout import PartitionRef
from zoho_pipelines.lake.parquet import DEFAULT_ROW_GROUP_ROWS


@dataclass(frozen=True)
class WrittenPartition:
    """What a write produced, for run metadata."""

    ref: PartitionRef
    uri: str
    rows: int
    tombstones: int
    row_groups: int
    bytes: int


class Lake(abc.ABC):
    """Daily Parquet partitions, written atomically: readers see the old file or the new one."""

    url: str

    @abc.abstractmethod
    def partition_uri(self, ref: PartitionRef) -> str:
        """Where the partition file lives (file:// or s3:// URI)."""

    @abc.abstractmethod
    def write_partition(
        self,
        ref: PartitionRef,
        schema: pa.Schema,
        batches: Iterable[pa.RecordBatch],
        *,
        row_group_rows: int = DEFAULT_ROW_GROUP_ROWS,
    ) -> WrittenPartition:
        """Replace the partition with `batches` (records and tombstones of `ref.day`)."""

    @abc.abstractmethod
    def open_partition(self, ref: PartitionRef) -> AbstractContextManager[pq.ParquetFile]:
        """The partition as a ParquetFile (streamable); LakeError when it does not exist."""

    @abc.abstractmethod
    def partition_exists(self, ref: PartitionRef) -> bool: ...

    @abc.abstractmethod
    def list_partitions(self, app: str, module: str) -> list[date]:
        """Days with a complete partition file, oldest first."""

    def read_partition(self, ref: PartitionRef, columns: list[str] | None = None) -> pa.Table:
        with self.open_partition(ref) as parquet:
            return parquet.read(columns=columns)

    def read_schema(self, ref: PartitionRef) -> pa.Schema:
        """The Arrow schema (with zoho metadata) the partition was written with."""
        with self.open_partition(ref) as parquet:
            return parquet.schema_arrow

    def iter_batches(self, ref: PartitionRef, batch_size: int = 65_536) -> Iterator[pa.RecordBatch]:
        """The partition's rows in batches, without holding the whole day in memory."""
        with self.open_partition(ref) as parquet:
            yield from parquet.iter_batches(batch_size=batch_size)
