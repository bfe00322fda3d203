"""DuckDB: the embedded default warehouse, one database file.

A partition in a local lake is staged by DuckDB's own Parquet reader, which streams the file
within DuckDB's memory_limit (a million Deals: about 250 MB less peak memory than handing the
same rows over as Arrow). Other sources (S3 lakes, which DuckDB cannot read offline, and rows the
process holds) go through a registered Arrow RecordBatchReader, still without copying through
Python. Resolved rows are applied with one set-based UPDATE and one INSERT (see
`sql.update_then_insert`).

A DuckDB file admits one process at a time, and a second opener fails at once. So the
warehouse holds no connection between calls: each merge, query or table change takes the
database's lock file (`<database>.lock`, see `warehouse.file_lock`), opens the file, does its
work and closes it again. Overlapping runs queue for the lock, waiting at most
WAREHOUSE_LOCK_TIMEOUT_S, and an error names the holder when the wait runs out. Readers take the
same lock: a file another process has open read-write cannot be opened at all, even to read.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from zoho_pipelines.lake import Lake, LocalLake, PartitionRef
from zoho_pipelines.schema import SqlDialect
from zoho_pipelines.warehouse import sql
from zoho_pipelines.warehouse.base import ArrowLoadingWarehouse, MergeResult, WarehouseError, merge_target
from zoho_pipelines.warehouse.file_lock import FileLock, Holder, LockTimeout
from zoho_pipelines.warehouse.sql import TableRef

logger = logging.getLogger(__name__)

MEMORY = ":memory:"
DEFAULT_LOCK_TIMEOUT_S = 600.0
_SOURCE_VIEW = "zoho_stage_source"


class _WatchedSource:
    """Remembers why the batch source failed: DuckDB reports it only as a wrapped message."""

    def __init__(self, batches: Iterable[pa.RecordBatch]) -> None:
        self._batches = batches
        self.error: BaseException | None = None

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        try:
            yield from self._batches
        except BaseException as exc:
            self.error = exc
            raise


class DuckDBWarehouse(ArrowLoadingWarehouse):
    dialect = SqlDialect.DUCKDB
    placeholder = "?"
    apply_strategy = sql.ApplyStrategy.UPDATE_INSERT
    # An on-disk PRIMARY KEY index turns every UPDATE of a list column into a per-row delete and
    # re-insert (100,000 rows: 110 s instead of 0.8 s). The merge inserts only ids the table lacks
    # and the lock file admits one connection per database at a time, so ids stay unique without it.
    declares_primary_key = False

    def __init__(
        self,
        path: Path | str,
        *,
        config: Mapping[str, str] | None = None,
        lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S,
    ) -> None:
        """`config` takes DuckDB settings, e.g. {"memory_limit": "1GB"} to spill merges to disk;
        `lock_timeout_s` bounds the wait for another process's turn (WAREHOUSE_LOCK_TIMEOUT_S)."""
        self.path = str(path)
        self._config = dict(config or {})
        self._sessions = threading.local()  # the connection of the session a thread is inside
        self._closed = False
        self._memory: duckdb.DuckDBPyConnection | None = None
        self._lock: FileLock | None = None
        if self.path == MEMORY:  # private to this object: nobody to take turns with
            self._memory = self._connect()
        else:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._lock = FileLock(
                Path(self.path + ".lock"), timeout_s=lock_timeout_s, on_wait=self._report_wait
            )

    def _report_wait(self, holder: Holder | None) -> None:
        who = holder.describe() if holder else "another process"
        logger.info("DuckDB database %s is in use by %s; waiting for its turn", self.path, who)

    def _connect(self) -> duckdb.DuckDBPyConnection:
        try:
            return duckdb.connect(self.path, config=self._config)
        except duckdb.Error as exc:
            raise WarehouseError(f"cannot open DuckDB database {self.path}: {exc}") from exc

    @contextmanager
    def _session(self, doing: str) -> Iterator[duckdb.DuckDBPyConnection]:
        """The connection for `doing`: the thread's current one, or a new one under the lock file."""
        if self._closed:
            raise WarehouseError(f"DuckDB warehouse {self.path} is closed")
        current = getattr(self._sessions, "connection", None)
        if current is not None:
            yield current
            return
        if self._memory is not None:
            yield self._memory
            return
        assert self._lock is not None
        try:
            lease = self._lock.acquire(doing)
        except LockTimeout as timeout:
            who = timeout.holder.describe() if timeout.holder else "a holder that has not said who it is"
            raise WarehouseError(
                f"DuckDB database {self.path} is busy: waited {timeout.waited_s:g} s for {who} "
                "(WAREHOUSE_LOCK_TIMEOUT_S sets how long to wait)"
            ) from None
        try:
            connection = self._connect()
            self._sessions.connection = connection
            try:
                yield connection
            finally:
                self._sessions.connection = None
                connection.close()
        finally:
            lease.release()

    @contextmanager
    def _transaction(self, purpose: str = "") -> Iterator[None]:
        with self._session(purpose or "writing") as connection:
            connection.begin()
            try:
                yield
            except BaseException:
                connection.rollback()
                raise
            connection.commit()

    def _connection(self) -> duckdb.DuckDBPyConnection:
        """The connection of the session this thread is inside."""
        connection = self._memory if self._memory is not None else getattr(self._sessions, "connection", None)
        if connection is None:
            raise WarehouseError("DuckDB statements run inside a session")  # a bug, not a user error
        return connection

    def _execute(self, statement: str, params: Sequence[Any] = ()) -> None:
        self._connection().execute(statement, list(params))

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._session("reading") as connection:
            return connection.execute(statement, list(params)).fetchall()

    def _lock_table(self, table: TableRef) -> None:
        """Nothing more to take: the session's lock file already excludes every other connection."""

    def _lock_schema(self, table: TableRef) -> None:
        """As `_lock_table`."""

    def merge_partition(self, lake: Lake, ref: PartitionRef) -> MergeResult:
        if not isinstance(lake, LocalLake):
            return super().merge_partition(lake, ref)
        schema = lake.read_schema(ref)
        table = merge_target(schema)
        with self._transaction(f"merging into {table}"):
            self._execute(sql.drop_table(sql.STAGE))
            # The lake's `date=YYYY-MM-DD/` directories look like hive partitions, and DuckDB
            # would turn them into a `date` column, overwriting a module's own `date` field.
            self._execute(
                f"CREATE TEMP TABLE {sql.quote(sql.STAGE)} AS "  # noqa: S608 - a quoted constant name
                "SELECT * FROM read_parquet(?, hive_partitioning = false)",
                [str(lake.root / ref.key)],
            )
            self._lock_table(table)
            added = self._ensure_table(table, schema)
            return self._merge_staged(table, schema, added)

    def _load_stage(self, schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> None:
        connection = self._connection()
        source = _WatchedSource(batches)
        connection.register(_SOURCE_VIEW, pa.RecordBatchReader.from_batches(schema, iter(source)))
        try:
            self._execute(f"CREATE TEMP TABLE {sql.quote(sql.STAGE)} AS SELECT * FROM {_SOURCE_VIEW}")  # noqa: S608
        except duckdb.Error:
            if source.error is not None:
                raise source.error from None  # the lake's own error, not DuckDB's wrapper
            raise
        finally:
            # In a failed transaction DuckDB refuses even this; `register` replaces it next time.
            with suppress(duckdb.Error):
                connection.unregister(_SOURCE_VIEW)

    def close(self) -> None:
        """Nothing stays open between calls but an in-memory database, which closing discards."""
        self._closed = True
        if self._memory is not None:
            self._memory.close()
