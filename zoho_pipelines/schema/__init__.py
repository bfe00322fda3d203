"""Zoho field metadata -> Arrow schema -> SQL types, and Zoho records -> Arrow batches."""

from zoho_pipelines.schema.columns import (
    DECIMAL_PRECISION,
    STRING_LIST,
    UNFITTED_COLUMN,
    UTC_TIMESTAMP,
    Column,
    ColumnRole,
    columns_for_field,
)
from zoho_pipelines.schema.errors import RecordValueError, SchemaDriftError, SchemaError
from zoho_pipelines.schema.module_schema import (
    DELETED,
    ID_COLUMN,
    MODIFIED_TIME,
    PARTITION,
    SYNCED_AT,
    SYSTEM_COLUMNS,
    ModuleSchema,
    SchemaMerge,
    build_module_schema,
    merge_schemas,
)
from zoho_pipelines.schema.normalize import RecordNormalizer
from zoho_pipelines.schema.sql_types import SqlDialect, sql_type

__all__ = [
    "DECIMAL_PRECISION",
    "DELETED",
    "ID_COLUMN",
    "MODIFIED_TIME",
    "PARTITION",
    "STRING_LIST",
    "SYNCED_AT",
    "SYSTEM_COLUMNS",
    "UNFITTED_COLUMN",
    "UTC_TIMESTAMP",
    "Column",
    "ColumnRole",
    "ModuleSchema",
    "RecordNormalizer",
    "RecordValueError",
    "SchemaDriftError",
    "SchemaError",
    "SchemaMerge",
    "SqlDialect",
    "build_module_schema",
    "columns_for_field",
    "merge_schemas",
    "sql_type",
]
