"""A module's table schema: built from Zoho field metadata, stored in Parquet, merged on drift.

The Arrow schema is the one source of truth: it travels inside every Parquet partition (field
metadata records which Zoho field and role each column has), so a later run can rebuild the
`ModuleSchema` from the newest partition and merge it with Zoho's current metadata. Merging only
ever adds columns: a field deleted in Zoho keeps its column (old rows still hold values), and a
type change the old column cannot hold stops the sync with advice instead of rewriting history.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import pyarrow as pa

from zoho_pipelines.catalog import CursorFormat, ModuleSpec
from zoho_pipelines.schema.columns import (
    UNFITTED_COLUMN,
    UTC_TIMESTAMP,
    Column,
    ColumnRole,
    columns_for_field,
    unfitted_column,
)
from zoho_pipelines.schema.errors import SchemaDriftError, SchemaError

ID_COLUMN = "id"
MODIFIED_TIME = "_modified_time"
DELETED = "_deleted"
SYNCED_AT = "_synced_at"
PARTITION = "_partition"

SYSTEM_COLUMNS: tuple[Column, ...] = (
    Column(MODIFIED_TIME, UTC_TIMESTAMP, ColumnRole.SYSTEM),
    Column(DELETED, pa.bool_(), ColumnRole.SYSTEM),
    Column(SYNCED_AT, UTC_TIMESTAMP, ColumnRole.SYSTEM),
    Column(PARTITION, pa.date32(), ColumnRole.SYSTEM),
)
UNFITTED = unfitted_column()
"""After the system columns: each record's values that fit no typed column, as sent (or null)."""
_RESERVED = frozenset({ID_COLUMN, UNFITTED_COLUMN} | {column.name for column in SYSTEM_COLUMNS})
_SCHEMA_VERSION = "1"


@dataclass(frozen=True)
class ModuleSchema:
    """The columns of one module's table and how to read id and modification time."""

    app: str
    module: str
    primary_key: str
    cursor_field: str
    cursor_format: CursorFormat
    fields: tuple[Column, ...]

    @property
    def qualified_name(self) -> str:
        return f"{self.app}/{self.module}"

    @property
    def id_column(self) -> Column:
        return Column(ID_COLUMN, pa.string(), ColumnRole.ID, self.primary_key)

    @property
    def columns(self) -> tuple[Column, ...]:
        """Every column in table order: id, the system columns, `_unfitted`, then the fields."""
        return (self.id_column, *SYSTEM_COLUMNS, UNFITTED, *self.fields)

    def to_arrow(self) -> pa.Schema:
        return pa.schema(
            [column.to_arrow_field() for column in self.columns],
            metadata={
                "zoho.schema_version": _SCHEMA_VERSION,
                "zoho.app": self.app,
                "zoho.module": self.module,
                "zoho.primary_key": self.primary_key,
                "zoho.cursor_field": self.cursor_field,
                "zoho.cursor_format": self.cursor_format.value,
            },
        )

    @classmethod
    def from_arrow(cls, schema: pa.Schema) -> ModuleSchema:
        """Rebuild from a schema written by `to_arrow` (e.g. read from a Parquet partition)."""
        metadata = {key.decode(): value.decode() for key, value in (schema.metadata or {}).items()}
        try:
            rebuilt = cls(
                app=metadata["zoho.app"],
                module=metadata["zoho.module"],
                primary_key=metadata["zoho.primary_key"],
                cursor_field=metadata["zoho.cursor_field"],
                cursor_format=CursorFormat(metadata["zoho.cursor_format"]),
                fields=tuple(
                    Column.from_arrow_field(field) for field in schema if field.name not in _RESERVED
                ),
            )
        except KeyError as exc:
            raise SchemaError(f"Arrow schema lacks zoho metadata {exc.args[0]!r}") from None
        # Partitions written before `_unfitted` existed lack it; the next write adds it.
        missing = [
            column.name
            for column in rebuilt.columns
            if column.name not in schema.names and column.name != UNFITTED_COLUMN
        ]
        if missing:
            raise SchemaError(f"{rebuilt.qualified_name}: stored schema lacks columns {missing}")
        return rebuilt


def build_module_schema(
    spec: ModuleSpec, fields_metadata: Iterable[Mapping[str, Any]] | None = None
) -> ModuleSchema:
    """The schema for `spec` from Zoho field metadata (default: the catalog's own field list).

    The primary-key field is skipped: it is the `id` column. Two fields that would share a
    column name (a field `Owner_Id` next to the lookup `Owner`) are refused, naming both.
    """
    metadata = spec.fields if fields_metadata is None else tuple(fields_metadata)
    taken: dict[str, str] = dict.fromkeys(_RESERVED, "(reserved)")
    fields: list[Column] = []
    for field_metadata in metadata:
        if field_metadata.get("api_name") == spec.primary_key:
            continue
        for column in columns_for_field(field_metadata):
            if column.name in taken:
                raise SchemaError(
                    f"{spec.app}/{spec.module}: fields {taken[column.name]!r} and {column.source!r} "
                    f"both map to column {column.name!r}"
                )
            taken[column.name] = column.source or ""
            fields.append(column)
    return ModuleSchema(
        app=spec.app,
        module=spec.module,
        primary_key=spec.primary_key,
        cursor_field=spec.cursor_field,
        cursor_format=spec.cursor_format,
        fields=tuple(fields),
    )


@dataclass(frozen=True)
class SchemaMerge:
    """The merged schema and what changed, for run metadata and warehouse evolution."""

    schema: ModuleSchema
    added_columns: tuple[str, ...]
    removed_fields: tuple[str, ...]


def _describe(columns: Iterable[Column]) -> str:
    columns = tuple(columns)
    data_type = columns[0].data_type or "?"
    shape = ", ".join(f"{column.name} {column.type}" for column in columns)
    return f"{data_type} ({shape})"


def _by_source(columns: Iterable[Column]) -> dict[str, list[Column]]:
    grouped: dict[str, list[Column]] = {}
    for column in columns:
        grouped.setdefault(column.source or column.name, []).append(column)
    return grouped


def merge_schemas(stored: ModuleSchema, incoming: ModuleSchema) -> SchemaMerge:
    """Merge Zoho's current field metadata (`incoming`) into the schema already stored.

    New fields are appended; fields gone from Zoho stay as nullable columns marked removed; a
    field whose columns differ in name or Arrow type raises `SchemaDriftError`. A change that
    keeps the Arrow type (text to textarea, picklist to text) is absorbed silently.
    """
    if (stored.app, stored.module) != (incoming.app, incoming.module):
        raise SchemaError(f"cannot merge {incoming.qualified_name} into {stored.qualified_name}")
    old_fields = _by_source(stored.fields)
    new_fields = _by_source(incoming.fields)
    table = f"zoho_{stored.app}.{stored.module}"
    merged: list[Column] = []
    for source, old_columns in old_fields.items():
        current = new_fields.get(source)
        if current is None:
            merged.extend(replace(column, removed=True) for column in old_columns)
            continue
        old_shape = [(column.name, column.type) for column in old_columns]
        if old_shape != [(column.name, column.type) for column in current]:
            raise SchemaDriftError(
                module=stored.qualified_name,
                field=source,
                old_type=_describe(old_columns),
                new_type=_describe(current),
                advice=(
                    f"Either restore the field's type in Zoho, or rename the old column(s) in "
                    f"{table} (and keep old partitions apart), then backfill every partition of "
                    f"{stored.qualified_name} so the column is rebuilt with the new type."
                ),
            )
        merged.extend(current)
    stored_names = {column.name for column in merged}
    added: list[str] = []
    for source, columns in new_fields.items():
        if source in old_fields:
            continue
        for column in columns:
            if column.name in stored_names:
                raise SchemaDriftError(
                    module=stored.qualified_name,
                    field=source,
                    old_type=f"column {column.name!r} of another field",
                    new_type=_describe(columns),
                    advice=f"Rename the stored column {column.name!r} in {table}, then sync again.",
                )
            added.append(column.name)
            merged.append(column)
    removed = tuple(source for source in old_fields if source not in new_fields)
    return SchemaMerge(
        schema=replace(incoming, fields=tuple(merged)),
        added_columns=tuple(added),
        removed_fields=removed,
    )
