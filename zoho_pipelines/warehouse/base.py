"""The warehouse contract and the merge flow the SQL backends share."""

from __future__ import annotations

import abc
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol, Self, runtime_checkable

import pyarrow as pa

from zoho_pipelines.lake import Lake, PartitionRef
from zoho_pipelines.schema import SqlDialect, sql_type
from zoho_pipelines.warehouse import sql
from zoho_pipelines.warehouse.sql import TableRef


class WarehouseError(RuntimeError):
    """The warehouse could not be reached, configured or merged into."""


@dataclass(frozen=True)
class MergeResult:
    """What one merge did, for run metadata."""

    table: TableRef
    staged_rows: int
    applied_rows: int
    inserted_rows: int
    added_columns: tuple[str, ...]

    @property
    def updated_rows(self) -> int:
        return self.applied_rows - self.inserted_rows


@runtime_checkable
class Warehouse(Protocol):
    """Tables `zoho_<app>.<module>` kept in step with the lake, one transaction per merge."""

    dialect: SqlDialect

    def ensure_table(self, schema: pa.Schema) -> tuple[str, ...]:
        """Create schema and table if missing, add missing columns; returns the added ones."""
        ...

    def merge_partition(self, lake: Lake, ref: PartitionRef) -> MergeResult:
        """Merge one lake partition by id, never regressing a newer row."""
        ...

    def table_columns(self, table: TableRef) -> list[str]: ...

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def close(self) -> None: ...


class SqlWarehouse(abc.ABC):
    """Evolve, stage, collapse, resolve, apply: the backends supply connection and loading."""

    dialect: SqlDialect
    placeholder = "%s"  # the driver's parameter marker
    apply_strategy = sql.ApplyStrategy.ON_CONFLICT
    declares_primary_key = True

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ---- what each backend provides ---------------------------------------------------------

    @abc.abstractmethod
    def _transaction(self) -> AbstractContextManager[None]:
        """Everything inside commits together or not at all."""

    @abc.abstractmethod
    def _execute(self, statement: str, params: Sequence[Any] = ()) -> None: ...

    @abc.abstractmethod
    def query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    @abc.abstractmethod
    def close(self) -> None: ...

    @abc.abstractmethod
    def merge_partition(self, lake: Lake, ref: PartitionRef) -> MergeResult:
        """Merge one lake partition by id in one transaction, never regressing a newer row."""

    def _table_suffix(self) -> str:
        return ""

    # ---- shared behaviour -------------------------------------------------------------------

    def _sql_type(self, arrow_type: pa.DataType) -> str:
        return sql_type(arrow_type, self.dialect)

    def table_columns(self, table: TableRef) -> list[str]:
        rows = self.query(sql.columns_query(self.placeholder), (table.schema, table.table))
        return [row[0] for row in rows]

    def ensure_table(self, schema: pa.Schema) -> tuple[str, ...]:
        with self._transaction():
            return self._ensure_table(merge_target(schema), schema)

    def _ensure_table(self, table: TableRef, schema: pa.Schema) -> tuple[str, ...]:
        wanted = [(name, self._sql_type(arrow_type)) for name, arrow_type in sql.table_columns(schema)]
        existing = self.table_columns(table)
        if not existing:
            self._execute(sql.create_schema(table))
            self._execute(
                sql.create_table(
                    table, wanted, suffix=self._table_suffix(), primary_key=self.declares_primary_key
                )
            )
            return ()
        present = set(existing)
        added = tuple(name for name, _ in wanted if name not in present)
        for name, column_type in wanted:
            if name not in present:
                self._execute(sql.add_column(table, name, column_type))
        return added

    def _merge_staged(self, table: TableRef, schema: pa.Schema, added: tuple[str, ...]) -> MergeResult:
        """Collapse, resolve and apply the loaded stage; runs inside the caller's transaction."""
        steps = sql.merge_steps(table, schema.names, self.table_columns(table), strategy=self.apply_strategy)
        for statement in steps.resolve:
            self._execute(statement)
        staged = self.query(sql.count_rows(sql.STAGE))[0][0]
        applied, inserted = self.query(sql.merge_counts())[0]
        for statement in steps.apply:
            self._execute(statement)
        for statement in steps.cleanup:
            self._execute(statement)
        return MergeResult(
            table=table,
            staged_rows=int(staged),
            applied_rows=int(applied),
            inserted_rows=int(inserted),
            added_columns=added,
        )


class ArrowLoadingWarehouse(SqlWarehouse):
    """Backends that load the stage from Arrow batches the process holds (DuckDB, PostgreSQL)."""

    @abc.abstractmethod
    def _load_stage(self, schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> None:
        """Create the temp table `zoho_stage` with `schema`'s columns and fill it."""

    def merge_batches(self, schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> MergeResult:
        """Merge rows of `schema` (a module's lake schema) from any source, in one transaction."""
        table = merge_target(schema)
        with self._transaction():
            added = self._ensure_table(table, schema)
            self._execute(sql.drop_table(sql.STAGE))
            self._load_stage(schema, batches)
            return self._merge_staged(table, schema, added)

    def merge_partition(self, lake: Lake, ref: PartitionRef) -> MergeResult:
        return self.merge_batches(lake.read_schema(ref), lake.iter_batches(ref))


def merge_target(schema: pa.Schema) -> TableRef:
    """The table a lake schema belongs to; refuses schemas that lack the merge's columns."""
    table = TableRef.from_arrow(schema)
    missing = sorted(sql.SYSTEM_NAMES - set(schema.names))
    if missing:
        raise WarehouseError(f"{table}: rows to merge lack the columns {missing}")
    return table
