"""The SQL every warehouse runs, built once and rendered per dialect.

A merge is three set-based steps inside one transaction (the stage is loaded before them):

1. collapse: the staged partition holds at most one live row and any number of tombstones per
   id; keep the newest live row and the newest deletion time, one row per id;
2. resolve: join with the table and decide, per id and per column, what the row becomes;
3. apply: write the resolved rows (INSERT ... ON CONFLICT, UPDATE + INSERT, or MERGE on Redshift).

Resolution treats each row as two versions that only move forward: the record values with the
Zoho modification time they belong to (`_record_modified_time`, a warehouse-only column) and
the newest deletion time (kept in `_modified_time` while `_deleted` is true). Values are taken
when their time is newer than the stored one, or equal and read later (`_synced_at`); a row is
deleted when its newest deletion is >= its newest values. Both are maxima, so merging partitions
in any order, or twice, ends in the same table; `_modified_time`, `_synced_at` and `_partition`
follow the newest event of either kind (`warehouse.resolution` spells the rule out).

Overlapping runs: the rule is applied again inside the statement that writes, against the row
that statement finds, so a merge whose read went stale cannot regress a row (PostgreSQL, DuckDB).
Writers of one table are also serialized, so reads are never stale in the first place: a
transaction-scoped advisory lock on PostgreSQL, `LOCK` taken first in the transaction on Redshift
(whose MERGE allows no condition, so the resolved rows are filtered against the table under that
lock), and a lock file around every DuckDB connection (`warehouse.file_lock`).
"""

# ruff: noqa: S608 -- statements are assembled from identifiers passed through quote(); no value
# is ever interpolated (values travel in the staged data), so there is nothing to inject.
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import pyarrow as pa

from zoho_pipelines.schema import DELETED, ID_COLUMN, MODIFIED_TIME, PARTITION, SYNCED_AT, UTC_TIMESTAMP
from zoho_pipelines.warehouse.resolution import (
    RECORD_MODIFIED_TIME,
    Side,
    at_least,
    changes,
    quote,
    resolved_columns,
)

SYSTEM_NAMES = frozenset({ID_COLUMN, MODIFIED_TIME, DELETED, SYNCED_AT, PARTITION})

STAGE = "zoho_stage"
COLLAPSED = "zoho_collapsed"
RESOLVED = "zoho_resolved"
IS_NEW = "zoho_is_new"
DELETED_TIME = "zoho_deleted_time"
RECORD_SYNCED_AT = "zoho_record_synced_at"  # collapsed only: when the newest live row was read
_HASH_SUFFIX_BYTES = 9  # "_" and 8 hex digits


def column_name(name: str, max_bytes: int | None) -> str:
    """The column a lake field becomes: its own name, or shortened to fit `max_bytes`.

    PostgreSQL cuts identifiers to 63 bytes (Redshift: 127) without an error, so two long api names
    sharing a prefix would become one column, and even one long name would never match its own
    (cut) column again. A long name keeps its first bytes and gains `_` and 8 hex digits of the
    full name's SHA-256: deterministic, so every run and every engine instance agrees on it.
    """
    encoded = name.encode()
    if max_bytes is None or len(encoded) <= max_bytes:
        return name
    prefix = encoded[: max_bytes - _HASH_SUFFIX_BYTES].decode(errors="ignore")  # whole characters only
    return f"{prefix}_{hashlib.sha256(encoded).hexdigest()[:8]}"


@dataclass(frozen=True)
class TableRef:
    """`zoho_<app>.<module>`."""

    schema: str
    table: str

    @classmethod
    def for_module(cls, app: str, module: str) -> TableRef:
        return cls(f"zoho_{app}", module)

    @classmethod
    def from_arrow(cls, schema: pa.Schema) -> TableRef:
        metadata = schema.metadata or {}
        try:
            return cls.for_module(metadata[b"zoho.app"].decode(), metadata[b"zoho.module"].decode())
        except KeyError:
            raise ValueError("Arrow schema lacks zoho.app / zoho.module metadata") from None

    @property
    def sql(self) -> str:
        return f"{quote(self.schema)}.{quote(self.table)}"

    def __str__(self) -> str:
        return f"{self.schema}.{self.table}"


def table_columns(schema: pa.Schema) -> list[tuple[str, pa.DataType]]:
    """The warehouse table's columns: the lake schema plus `_record_modified_time`."""
    return [(field.name, field.type) for field in schema] + [(RECORD_MODIFIED_TIME, UTC_TIMESTAMP)]


def columns_query(placeholder: str) -> str:
    """A table's column names in order; schema and table name are bound as two parameters."""
    return (
        "SELECT column_name FROM information_schema.columns "
        f"WHERE table_schema = {placeholder} AND table_name = {placeholder} ORDER BY ordinal_position"
    )


def create_schema(table: TableRef) -> str:
    return f"CREATE SCHEMA IF NOT EXISTS {quote(table.schema)}"


def create_table(
    table: TableRef, columns: Sequence[tuple[str, str]], *, suffix: str = "", primary_key: bool = True
) -> str:
    """`columns` are (name, SQL type); `id` is NOT NULL and the primary key."""
    definitions = [
        f"{quote(name)} {sql_type}" + (" NOT NULL" if name == ID_COLUMN else "") for name, sql_type in columns
    ]
    if primary_key:
        definitions.append(f"PRIMARY KEY ({quote(ID_COLUMN)})")
    return f"CREATE TABLE IF NOT EXISTS {table.sql} ({', '.join(definitions)}){suffix}"


def add_column(table: TableRef, name: str, sql_type: str) -> str:
    return f"ALTER TABLE {table.sql} ADD COLUMN {quote(name)} {sql_type}"


def lock_table(table: TableRef) -> str:
    """Redshift's (and PostgreSQL's) explicit lock: ACCESS EXCLUSIVE until the transaction ends."""
    return f"LOCK {table.sql}"


def create_temp_table(name: str, columns: Sequence[tuple[str, str]]) -> str:
    return f"CREATE TEMP TABLE {quote(name)} ({', '.join(f'{quote(c)} {t}' for c, t in columns)})"


def drop_table(name: str) -> str:
    return f"DROP TABLE IF EXISTS {quote(name)}"


def _newest_first(stage: str, where: str) -> str:
    """The stage's rows of one kind, ranked per id by (time, read, partition), newest first."""
    order = ", ".join(f"s.{quote(name)} DESC" for name in (MODIFIED_TIME, SYNCED_AT, PARTITION))
    return (
        f'SELECT * FROM (SELECT s.*, ROW_NUMBER() OVER (PARTITION BY s."id" ORDER BY {order}) AS zoho_rank '
        f"FROM {quote(stage)} s WHERE {where}) ranked WHERE zoho_rank = 1"
    )


def collapse(stage_columns: Sequence[str], *, stage: str = STAGE, into: str = COLLAPSED) -> str:
    """One row per id: the newest live row's values and the newest deletion time."""
    data = [name for name in stage_columns if name not in SYSTEM_NAMES]
    deletion_event = [
        f"d.{quote(name)}" for name in (DELETED_TIME, "zoho_deleted_synced_at", "zoho_deleted_partition")
    ]
    live_event = [f"r.{quote(name)}" for name in (MODIFIED_TIME, SYNCED_AT, PARTITION)]
    # The newest event of the two, by the same (time, read, partition) order the table uses;
    # a tombstone wins a full tie.
    tomb_wins = (
        f'{deletion_event[0]} IS NOT NULL AND (r."id" IS NULL OR {at_least(deletion_event, live_event)})'
    )

    def newest(live: str, deleted: str) -> str:
        return f"CASE WHEN {tomb_wins} THEN d.{quote(deleted)} ELSE r.{quote(live)} END"

    select = [
        'COALESCE(r."id", d."id") AS "id"',
        *(f"r.{quote(name)} AS {quote(name)}" for name in data),
        f"r.{quote(MODIFIED_TIME)} AS {quote(RECORD_MODIFIED_TIME)}",
        f"r.{quote(SYNCED_AT)} AS {quote(RECORD_SYNCED_AT)}",
        f"d.{quote(DELETED_TIME)} AS {quote(DELETED_TIME)}",
        f"{newest(MODIFIED_TIME, DELETED_TIME)} AS {quote(MODIFIED_TIME)}",
        f"{newest(SYNCED_AT, 'zoho_deleted_synced_at')} AS {quote(SYNCED_AT)}",
        f"{newest(PARTITION, 'zoho_deleted_partition')} AS {quote(PARTITION)}",
    ]
    deletions = (
        f'SELECT "id", {quote(MODIFIED_TIME)} AS {quote(DELETED_TIME)}, '
        f"{quote(SYNCED_AT)} AS zoho_deleted_synced_at, {quote(PARTITION)} AS zoho_deleted_partition "
        f"FROM ({_newest_first(stage, f's.{quote(DELETED)}')}) newest_deletion"
    )
    return (
        f"CREATE TEMP TABLE {quote(into)} AS SELECT {', '.join(select)} "
        f"FROM ({_newest_first(stage, f'NOT s.{quote(DELETED)}')}) r "
        f'FULL OUTER JOIN ({deletions}) d ON r."id" = d."id"'
    )


def resolve(
    table: TableRef,
    target_columns: Sequence[str],
    stage_columns: Sequence[str],
    *,
    collapsed: str = COLLAPSED,
    into: str = RESOLVED,
) -> str:
    """The rows the table must hold for each incoming id that changes it, and whether the id is new."""
    incoming = Side(
        "c", values_read_at=RECORD_SYNCED_AT, deleted_time=DELETED_TIME, columns=frozenset(stage_columns)
    )
    stored = Side("t", may_be_missing=True)
    select = [
        'c."id" AS "id"',
        *(
            f"{expression} AS {quote(name)}"
            for name, expression in resolved_columns(incoming, stored, target_columns)
        ),
        f't."id" IS NULL AS {IS_NEW}',
    ]
    return (
        f"CREATE TEMP TABLE {quote(into)} AS SELECT {', '.join(select)} "
        f'FROM {quote(collapsed)} c LEFT JOIN {table.sql} t ON t."id" = c."id" '
        f"WHERE {changes(incoming, stored)}"
    )


def upsert(table: TableRef, target_columns: Sequence[str], *, resolved: str = RESOLVED) -> str:
    """Apply resolved rows with a guarded INSERT ... ON CONFLICT (PostgreSQL).

    On a conflict the merge rule runs again between the resolved row (EXCLUDED) and the row the
    statement locked, and rows it would not change are skipped: whatever committed since the
    resolve, an older version never replaces a newer one.
    """
    names = ", ".join(quote(name) for name in target_columns)
    arriving, existing = Side("EXCLUDED"), Side("t")
    updates = ", ".join(
        f"{quote(name)} = {expression}"
        for name, expression in resolved_columns(arriving, existing, target_columns)
    )
    return (
        f"INSERT INTO {table.sql} AS t ({names}) SELECT {names} FROM {quote(resolved)} "
        f'ON CONFLICT ("id") DO UPDATE SET {updates} WHERE {changes(arriving, existing)}'
    )


def merge_into(table: TableRef, target_columns: Sequence[str], *, resolved: str = RESOLVED) -> str:
    """Apply resolved rows with MERGE (Redshift; PostgreSQL 15+ runs the same statement).

    Redshift's MERGE takes no condition on WHEN MATCHED and only equality in ON, so it cannot
    re-check versions itself: it is correct because `resolved` was filtered against the table
    under `LOCK`, taken first in the same transaction (see `RedshiftWarehouse`).
    """
    names = ", ".join(quote(name) for name in target_columns)
    updates = ", ".join(f"{quote(name)} = m.{quote(name)}" for name in target_columns if name != ID_COLUMN)
    values = ", ".join(f"m.{quote(name)}" for name in target_columns)
    return (
        f'MERGE INTO {table.sql} USING {quote(resolved)} m ON {table.sql}."id" = m."id" '
        f"WHEN MATCHED THEN UPDATE SET {updates} "
        f"WHEN NOT MATCHED THEN INSERT ({names}) VALUES ({values})"
    )


def update_then_insert(
    table: TableRef, target_columns: Sequence[str], *, resolved: str = RESOLVED
) -> list[str]:
    """Apply resolved rows as one guarded UPDATE of known ids and one INSERT of new ones (DuckDB).

    DuckDB runs INSERT ... ON CONFLICT DO UPDATE nearly row by row (a minute per 100,000
    updates); these two set-based statements take under a second. The UPDATE re-applies the merge
    rule against the row it finds, like `upsert`; the INSERT relies on DuckDB's lock file (one
    connection per database file at a time, `warehouse.file_lock`), so no id can appear between
    the resolve and the insert.
    """
    names = ", ".join(quote(name) for name in target_columns)
    arriving, existing = Side("r"), Side("t")
    updates = ", ".join(
        f"{quote(name)} = {expression}"
        for name, expression in resolved_columns(arriving, existing, target_columns)
    )
    return [
        f'UPDATE {table.sql} AS t SET {updates} FROM {quote(resolved)} r WHERE t."id" = r."id" '
        f"AND NOT r.{IS_NEW} AND {changes(arriving, existing)}",
        f"INSERT INTO {table.sql} ({names}) SELECT {names} FROM {quote(resolved)} WHERE {IS_NEW}",
    ]


class ApplyStrategy(StrEnum):
    """How resolved rows reach the table; each engine's fastest correct statement."""

    ON_CONFLICT = "on_conflict"  # PostgreSQL: guarded upsert, writers serialized per table
    UPDATE_INSERT = "update_insert"  # DuckDB: set-based, guarded update, one connection per file
    MERGE = "merge"  # Redshift (PostgreSQL 15+ runs it too): resolved under LOCK


@dataclass(frozen=True)
class MergeSteps:
    """A merge after the stage is loaded: resolve, (count,) apply, clean up."""

    resolve: tuple[str, ...]
    apply: tuple[str, ...]
    cleanup: tuple[str, ...]

    @property
    def statements(self) -> list[str]:
        return [*self.resolve, *self.apply, *self.cleanup]


def merge_steps(
    table: TableRef, stage_columns: Sequence[str], target_columns: Sequence[str], *, strategy: ApplyStrategy
) -> MergeSteps:
    """The statements of one merge, applied with `strategy`."""
    apply = {
        ApplyStrategy.ON_CONFLICT: lambda: [upsert(table, target_columns)],
        ApplyStrategy.UPDATE_INSERT: lambda: update_then_insert(table, target_columns),
        ApplyStrategy.MERGE: lambda: [merge_into(table, target_columns)],
    }[strategy]()
    return MergeSteps(
        resolve=(
            drop_table(COLLAPSED),
            drop_table(RESOLVED),
            collapse(stage_columns),
            resolve(table, target_columns, stage_columns),
        ),
        apply=tuple(apply),
        cleanup=tuple(drop_table(name) for name in (STAGE, COLLAPSED, RESOLVED)),
    )


def merge_counts(*, resolved: str = RESOLVED) -> str:
    """(rows to write, rows new) of the resolved set."""
    return f"SELECT COUNT(*), COALESCE(SUM(CASE WHEN {IS_NEW} THEN 1 ELSE 0 END), 0) FROM {quote(resolved)}"


def count_rows(name: str) -> str:
    return f"SELECT COUNT(*) FROM {quote(name)}"
