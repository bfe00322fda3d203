"""The lake in a local folder: temp file in the partition directory, fsync, os.replace.

A reader opening `<module>.parquet` sees the previous complete file until os.replace swaps in
the new one; a crash before that leaves only a hidden temp file (`.<module>.parquet.*.tmp`),
which no reader opens. The writer holds an advisory lock on its temp file for as long as it
writes, and the kernel drops that lock when the process dies (even by SIGKILL), so the next
write of the partition removes every temp file nobody holds: a crashed run's leftover is gone
after the rerun, while a concurrent writer's file is left alone.
"""

from __future__ import annotations

import fcntl
import os
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from urllib.parse import quote

import pyarrow as pa
import pyarrow.parquet as pq

from zoho_pipelines.lake.base import Lake, WrittenPartition
from zoho_pipelines.lake.layout import PartitionRef, day_from_directory
from zoho_pipelines.lake.parquet import DEFAULT_ROW_GROUP_ROWS, LakeError, write_parquet

STALE_TEMP_SECONDS = 3600


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


@contextmanager
def _held_while_writing(path: Path) -> Iterator[None]:
    """Create `path` and hold an exclusive advisory lock on it until the block ends."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        # Between creating and locking, a concurrent writer's clean-up may have judged the file
        # abandoned and removed it: then the lock guards nothing, so refuse rather than write.
        if os.stat(path).st_ino != os.fstat(descriptor).st_ino:
            raise LakeError(f"temp file {path.name} was removed while being opened; retry the write")
        yield
    finally:
        os.close(descriptor)  # releases the lock


def _abandoned(path: Path) -> bool:
    """True when no live process holds `path`'s writer lock (FileNotFoundError if it vanished)."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(descriptor)
    return True


class LocalLake(Lake):
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.url = "file://" + quote(str(self.root), safe="/=:")

    def _path(self, ref: PartitionRef) -> Path:
        return self.root / ref.key

    def partition_uri(self, ref: PartitionRef) -> str:
        # Path.as_uri() would escape the "=" of "date=", which is legal in a URI path.
        return "file://" + quote(str(self._path(ref)), safe="/=:")

    def write_partition(
        self,
        ref: PartitionRef,
        schema: pa.Schema,
        batches: Iterable[pa.RecordBatch],
        *,
        row_group_rows: int = DEFAULT_ROW_GROUP_ROWS,
    ) -> WrittenPartition:
        final = self._path(ref)
        directory = final.parent
        created = not directory.exists()
        directory.mkdir(parents=True, exist_ok=True)
        self._remove_stale_temporaries(final)
        temporary = directory / f".{final.name}.{uuid.uuid4().hex}.tmp"
        try:
            with _held_while_writing(temporary):
                stats = write_parquet(
                    str(temporary), schema, batches, day=ref.day, row_group_rows=row_group_rows
                )
                _fsync(temporary)
                os.replace(temporary, final)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        _fsync(directory)
        if created:
            _fsync(directory.parent)
        return WrittenPartition(
            ref=ref,
            uri=self.partition_uri(ref),
            rows=stats.rows,
            tombstones=stats.tombstones,
            row_groups=stats.row_groups,
            bytes=final.stat().st_size,
        )

    @staticmethod
    def _remove_stale_temporaries(final: Path) -> None:
        """Temp files of writers that died: nobody holds their lock (or, failing locks, old ones)."""
        deadline = time.time() - STALE_TEMP_SECONDS
        for leftover in final.parent.glob(f".{final.name}.*.tmp"):
            try:
                if _abandoned(leftover) or leftover.stat().st_mtime < deadline:
                    leftover.unlink()
            except FileNotFoundError:
                continue

    @contextmanager
    def open_partition(self, ref: PartitionRef) -> Iterator[pq.ParquetFile]:
        path = self._path(ref)
        try:
            parquet = pq.ParquetFile(path, memory_map=True)
        except FileNotFoundError:
            raise LakeError(f"no partition {ref.key} in {self.url}") from None
        with parquet:
            yield parquet

    def partition_exists(self, ref: PartitionRef) -> bool:
        return self._path(ref).is_file()

    def list_partitions(self, app: str, module: str) -> list[date]:
        module_dir = self.root / PartitionRef(app, module, date.min).module_prefix
        if not module_dir.is_dir():
            return []
        days = []
        for child in module_dir.iterdir():
            day = day_from_directory(child.name)
            if day is not None and (child / f"{module}.parquet").is_file():
                days.append(day)
        return sorted(days)
