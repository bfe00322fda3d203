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
    """Stage, lock, evolve, collapse, resolve, apply: the backends supply connection and loading.

    Runs overlap (a schedule's rerun, a backfill, the event refresh), so every merge serializes
    with the other writers of its table before it reads the table (`_lock_table`), and the
    statement that writes re-checks versions anyway (`warehouse.resolution`).
    """

    dialect: SqlDialect
    placeholder = "%s"  # the driver's parameter marker
    apply_strategy = sql.ApplyStrategy.ON_CONFLICT
    declares_primary_key = True
    max_identifier_bytes: int | None = None  # longer column names are shortened (`sql.column_name`)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ---- what each backend provides ---------------------------------------------------------

    @abc.abstractmethod
    def _transaction(self, purpose: str = "") -> AbstractContextManager[None]:
        """Everything inside commits together or not at all; `purpose` names the work for anyone
        left waiting (DuckDB's lock file shows it)."""

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

    @abc.abstractmethod
    def _lock_table(self, table: TableRef) -> None:
        """Make the table's other writers wait until this transaction ends; taken before the table
        is read, so the resolve never works from a stale read."""

    @abc.abstractmethod
    def _lock_schema(self, table: TableRef) -> None:
        """Like `_lock_table`, for creating the table's schema (two new tables may share one)."""

    # ---- shared behaviour -------------------------------------------------------------------

    def _sql_type(self, arrow_type: pa.DataType) -> str:
        return sql_type(arrow_type, self.dialect)

    def column_names(self, names: Iterable[str]) -> list[str]:
        """The columns these lake fields are stored in (long names shortened, see `sql.column_name`)."""
        fields: dict[str, str] = {}
        for name in names:
            column = sql.column_name(name, self.max_identifier_bytes)
            if fields.setdefault(column, name) != name:
                raise WarehouseError(f"lake fields {fields[column]} and {name} would share column {column}")
        return list(fields)

    def table_columns(self, table: TableRef) -> list[str]:
        rows = self.query(sql.columns_query(self.placeholder), (table.schema, table.table))
        return [row[0] for row in rows]

    def ensure_table(self, schema: pa.Schema) -> tuple[str, ...]:
        table = merge_target(schema)
        with self._transaction(f"evolving {table}"):
            self._lock_table(table)
            return self._ensure_table(table, schema)

    def _ensure_table(self, table: TableRef, schema: pa.Schema) -> tuple[str, ...]:
        """Create or widen the table; call with the table lock held, so the columns read here are
        the ones every concurrent writer sees (no duplicate CREATE or ADD COLUMN)."""
        fields = sql.table_columns(schema)
        names = self.column_names(name for name, _ in fields)
        wanted = [
            (name, self._sql_type(arrow_type)) for name, (_, arrow_type) in zip(names, fields, strict=True)
        ]
        existing = self.table_columns(table)
        if not existing:
            self._lock_schema(table)
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
        """Collapse, resolve and apply the loaded stage; runs inside the caller's transaction,
        after `_lock_table`."""
        steps = sql.merge_steps(
            table, self.column_names(schema.names), self.table_columns(table), strategy=self.apply_strategy
        )
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
        """Create the temp table `zoho_stage` with `schema`'s columns (as `column_names`) and fill it."""

    def merge_batches(self, schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> MergeResult:
        """Merge rows of `schema` (a module's lake schema) from any source, in one transaction.

        The stage is private to the transaction, so it is loaded before the table lock: other
        writers wait only for the part that reads and writes the table.
        """
        table = merge_target(schema)
        with self._transaction(f"merging into {table}"):
            self._execute(sql.drop_table(sql.STAGE))
            self._load_stage(schema, batches)
            self._lock_table(table)
            added = self._ensure_table(table, schema)
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
