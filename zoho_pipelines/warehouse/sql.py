"""The SQL every warehouse runs, built once and rendered per dialect.

A merge is three set-based steps inside one transaction (the stage is loaded before them):

1. collapse: the staged partition holds at most one live row and any number of tombstones per
   id; keep the newest live row and the newest deletion time, one row per id;
2. resolve: join with the table and decide, per id and per column, what the row becomes;
3. apply: upsert the resolved rows (INSERT ... ON CONFLICT, or MERGE on Redshift).

Resolution treats each row as two versions that only move forward: the record values with the
Zoho modification time they belong to (`_record_modified_time`, a warehouse-only column) and
the newest deletion time (kept in `_modified_time` while `_deleted` is true). Values are taken
when their time is >= the stored one; a row is deleted when its newest deletion is >= its
newest values. Both are maxima, so merging partitions in any order, or twice, ends in the same
table; `_modified_time`, `_synced_at` and `_partition` follow the newest event of either kind.
"""

# ruff: noqa: S608 -- statements are assembled from identifiers passed through quote(); no value
# is ever interpolated (values travel in the staged data), so there is nothing to inject.
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import pyarrow as pa

from zoho_pipelines.schema import DELETED, ID_COLUMN, MODIFIED_TIME, PARTITION, SYNCED_AT, UTC_TIMESTAMP

RECORD_MODIFIED_TIME = "_record_modified_time"
SYSTEM_NAMES = frozenset({ID_COLUMN, MODIFIED_TIME, DELETED, SYNCED_AT, PARTITION})

STAGE = "zoho_stage"
COLLAPSED = "zoho_collapsed"
RESOLVED = "zoho_resolved"
IS_NEW = "zoho_is_new"
DELETED_TIME = "zoho_deleted_time"


def quote(name: str) -> str:
    """A double-quoted identifier (all three engines follow the SQL standard here)."""
    return '"' + name.replace('"', '""') + '"'


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


def create_temp_table(name: str, columns: Sequence[tuple[str, str]]) -> str:
    return f"CREATE TEMP TABLE {quote(name)} ({', '.join(f'{quote(c)} {t}' for c, t in columns)})"


def drop_table(name: str) -> str:
    return f"DROP TABLE IF EXISTS {quote(name)}"


def collapse(stage_columns: Sequence[str], *, stage: str = STAGE, into: str = COLLAPSED) -> str:
    """One row per id: the newest live row's values and the newest deletion time."""
    data = [name for name in stage_columns if name not in SYSTEM_NAMES]
    deleted_time, live_time = f"d.{quote(DELETED_TIME)}", f"r.{quote(MODIFIED_TIME)}"
    tomb_wins = f'{deleted_time} IS NOT NULL AND (r."id" IS NULL OR {deleted_time} >= {live_time})'

    def newest(live: str, deleted: str) -> str:
        return f"CASE WHEN {tomb_wins} THEN d.{quote(deleted)} ELSE r.{quote(live)} END"

    select = [
        'COALESCE(r."id", d."id") AS "id"',
        *(f"r.{quote(name)} AS {quote(name)}" for name in data),
        f"r.{quote(MODIFIED_TIME)} AS {quote(RECORD_MODIFIED_TIME)}",
        f"d.{quote(DELETED_TIME)} AS {quote(DELETED_TIME)}",
        f"{newest(MODIFIED_TIME, DELETED_TIME)} AS {quote(MODIFIED_TIME)}",
        f"{newest(SYNCED_AT, 'zoho_deleted_synced_at')} AS {quote(SYNCED_AT)}",
        f"{newest(PARTITION, 'zoho_deleted_partition')} AS {quote(PARTITION)}",
    ]
    live = (
        f'SELECT * FROM (SELECT s.*, ROW_NUMBER() OVER (PARTITION BY s."id" '
        f"ORDER BY s.{quote(MODIFIED_TIME)} DESC, s.{quote(SYNCED_AT)} DESC) AS zoho_rank "
        f"FROM {quote(stage)} s WHERE NOT s.{quote(DELETED)}) ranked WHERE zoho_rank = 1"
    )
    # The newest tombstone's sync time and partition: ties on the time are broken the same way.
    deletions = (
        f'SELECT "id", {quote(MODIFIED_TIME)} AS {quote(DELETED_TIME)}, '
        f"{quote(SYNCED_AT)} AS zoho_deleted_synced_at, {quote(PARTITION)} AS zoho_deleted_partition "
        f'FROM (SELECT s.*, ROW_NUMBER() OVER (PARTITION BY s."id" '
        f"ORDER BY s.{quote(MODIFIED_TIME)} DESC, s.{quote(SYNCED_AT)} DESC) AS zoho_rank "
        f"FROM {quote(stage)} s WHERE s.{quote(DELETED)}) ranked WHERE zoho_rank = 1"
    )
    return (
        f"CREATE TEMP TABLE {quote(into)} AS SELECT {', '.join(select)} "
        f'FROM ({live}) r FULL OUTER JOIN ({deletions}) d ON r."id" = d."id"'
    )


def resolve(
    table: TableRef,
    target_columns: Sequence[str],
    stage_columns: Sequence[str],
    *,
    collapsed: str = COLLAPSED,
    into: str = RESOLVED,
) -> str:
    """The rows the table must hold for each incoming id, and whether the id is new."""
    c, t = "c", "t"
    values_win = (
        f'({c}.{quote(RECORD_MODIFIED_TIME)} IS NOT NULL AND ({t}."id" IS NULL '
        f"OR {t}.{quote(RECORD_MODIFIED_TIME)} IS NULL "
        f"OR {c}.{quote(RECORD_MODIFIED_TIME)} >= {t}.{quote(RECORD_MODIFIED_TIME)}))"
    )
    incoming_newest = f'({t}."id" IS NULL OR {c}.{quote(MODIFIED_TIME)} >= {t}.{quote(MODIFIED_TIME)})'
    stored_deletion = f"CASE WHEN {t}.{quote(DELETED)} THEN {t}.{quote(MODIFIED_TIME)} END"
    deletion = (
        f"(CASE WHEN ({stored_deletion}) IS NULL THEN {c}.{quote(DELETED_TIME)} "
        f"WHEN {c}.{quote(DELETED_TIME)} IS NULL OR ({stored_deletion}) >= {c}.{quote(DELETED_TIME)} "
        f"THEN ({stored_deletion}) ELSE {c}.{quote(DELETED_TIME)} END)"
    )
    values_time = (
        f"(CASE WHEN {values_win} THEN {c}.{quote(RECORD_MODIFIED_TIME)} "
        f"ELSE {t}.{quote(RECORD_MODIFIED_TIME)} END)"
    )
    staged = set(stage_columns)

    def pick(name: str, condition: str) -> str:
        incoming = f"{c}.{quote(name)}" if name in staged or name == RECORD_MODIFIED_TIME else "NULL"
        return f"CASE WHEN {condition} THEN {incoming} ELSE {t}.{quote(name)} END"

    select = [f'{c}."id" AS "id"']
    for name in target_columns:
        if name == ID_COLUMN:
            continue
        if name == DELETED:
            expression = (
                f"({deletion} IS NOT NULL AND ({values_time} IS NULL OR {deletion} >= {values_time}))"
            )
        elif name in (MODIFIED_TIME, SYNCED_AT, PARTITION):
            expression = pick(name, incoming_newest)
        else:
            expression = pick(name, values_win)
        select.append(f"{expression} AS {quote(name)}")
    select.append(f'{t}."id" IS NULL AS {IS_NEW}')
    relevant = f"{incoming_newest} OR {values_win}"
    return (
        f"CREATE TEMP TABLE {quote(into)} AS SELECT {', '.join(select)} "
        f'FROM {quote(collapsed)} {c} LEFT JOIN {table.sql} {t} ON {t}."id" = {c}."id" WHERE {relevant}'
    )


def upsert(table: TableRef, target_columns: Sequence[str], *, resolved: str = RESOLVED) -> str:
    """Apply resolved rows with INSERT ... ON CONFLICT (PostgreSQL, DuckDB): safe under concurrency."""
    names = ", ".join(quote(name) for name in target_columns)
    updates = ", ".join(
        f"{quote(name)} = EXCLUDED.{quote(name)}" for name in target_columns if name != ID_COLUMN
    )
    return (
        f"INSERT INTO {table.sql} ({names}) SELECT {names} FROM {quote(resolved)} "
        f'ON CONFLICT ("id") DO UPDATE SET {updates}'
    )


def merge_into(table: TableRef, target_columns: Sequence[str], *, resolved: str = RESOLVED) -> str:
    """Apply resolved rows with MERGE (Redshift; PostgreSQL 15+ runs the same statement)."""
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
    """Apply resolved rows as one UPDATE of known ids and one INSERT of new ones (DuckDB).

    DuckDB runs INSERT ... ON CONFLICT DO UPDATE nearly row by row (a minute per 100,000
    updates); these two set-based statements take under a second. DuckDB has a single writer
    per database file, so the `zoho_is_new` flag cannot go stale in between.
    """
    names = ", ".join(quote(name) for name in target_columns)
    updates = ", ".join(f"{quote(name)} = r.{quote(name)}" for name in target_columns if name != ID_COLUMN)
    return [
        f'UPDATE {table.sql} SET {updates} FROM {quote(resolved)} r WHERE {table.sql}."id" = r."id" '
        f"AND NOT r.{IS_NEW}",
        f"INSERT INTO {table.sql} ({names}) SELECT {names} FROM {quote(resolved)} WHERE {IS_NEW}",
    ]


class ApplyStrategy(StrEnum):
    """How resolved rows reach the table; each engine's fastest correct statement."""

    ON_CONFLICT = "on_conflict"  # PostgreSQL: safe against concurrent writers
    UPDATE_INSERT = "update_insert"  # DuckDB: set-based, single writer
    MERGE = "merge"  # Redshift (PostgreSQL 15+ runs it too)


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
