"""DuckDB: the embedded default warehouse, one database file.

A partition in a local lake is staged by DuckDB's own Parquet reader, which streams the file
within DuckDB's memory_limit (a million Deals: about 250 MB less peak memory than handing the
same rows over as Arrow). Other sources (S3 lakes, which DuckDB cannot read offline, and rows the
process holds) go through a registered Arrow RecordBatchReader, still without copying through
Python. Resolved rows are applied with one set-based UPDATE and one INSERT (see
`sql.update_then_insert`).
"""

from __future__ import annotations

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
    # and DuckDB allows one writer per file, so ids stay unique without the index.
    declares_primary_key = False

    def __init__(self, path: Path | str, *, config: Mapping[str, str] | None = None) -> None:
        """`config` takes DuckDB settings, e.g. {"memory_limit": "1GB"} to spill merges to disk."""
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._connection = duckdb.connect(self.path, config=dict(config or {}))
        except duckdb.Error as exc:
            raise WarehouseError(f"cannot open DuckDB database {self.path}: {exc}") from exc

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._connection.begin()
        try:
            yield
        except BaseException:
            self._connection.rollback()
            raise
        self._connection.commit()

    def _execute(self, statement: str, params: Sequence[Any] = ()) -> None:
        self._connection.execute(statement, list(params))

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._connection.execute(statement, list(params)).fetchall()

    def merge_partition(self, lake: Lake, ref: PartitionRef) -> MergeResult:
        if not isinstance(lake, LocalLake):
            return super().merge_partition(lake, ref)
        schema = lake.read_schema(ref)
        table = merge_target(schema)
        with self._transaction():
            added = self._ensure_table(table, schema)
            self._execute(sql.drop_table(sql.STAGE))
            # The lake's `date=YYYY-MM-DD/` directories look like hive partitions, and DuckDB
            # would turn them into a `date` column, overwriting a module's own `date` field.
            self._execute(
                f"CREATE TEMP TABLE {sql.quote(sql.STAGE)} AS "  # noqa: S608 - a quoted constant name
                "SELECT * FROM read_parquet(?, hive_partitioning = false)",
                [str(lake.root / ref.key)],
            )
            return self._merge_staged(table, schema, added)

    def _load_stage(self, schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> None:
        source = _WatchedSource(batches)
        self._connection.register(_SOURCE_VIEW, pa.RecordBatchReader.from_batches(schema, iter(source)))
        try:
            self._execute(f"CREATE TEMP TABLE {sql.quote(sql.STAGE)} AS SELECT * FROM {_SOURCE_VIEW}")  # noqa: S608
        except duckdb.Error:
            if source.error is not None:
                raise source.error from None  # the lake's own error, not DuckDB's wrapper
            raise
        finally:
            # In a failed transaction DuckDB refuses even this; `register` replaces it next time.
            with suppress(duckdb.Error):
                self._connection.unregister(_SOURCE_VIEW)

    def close(self) -> None:
        self._connection.close()
