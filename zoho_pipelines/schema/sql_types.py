"""Arrow column types -> SQL column types for each warehouse.

Text is unbounded where the engine allows it; Redshift needs a width, and 65535 bytes (its
maximum) keeps any Zoho text (textarea holds 32,000 characters, multi-byte in UTF-8) from
failing a COPY. Lists are native arrays in DuckDB and PostgreSQL and SUPER in Redshift, which is
what COPY ... FORMAT PARQUET SERIALIZETOJSON loads nested Parquet columns into.
"""

from __future__ import annotations

from enum import StrEnum

import pyarrow as pa

from zoho_pipelines.schema.columns import STRING_LIST
from zoho_pipelines.schema.errors import SchemaError


class SqlDialect(StrEnum):
    DUCKDB = "duckdb"
    POSTGRESQL = "postgresql"
    REDSHIFT = "redshift"


_TEXT = {SqlDialect.DUCKDB: "VARCHAR", SqlDialect.POSTGRESQL: "TEXT", SqlDialect.REDSHIFT: "VARCHAR(65535)"}
_DOUBLE = {
    SqlDialect.DUCKDB: "DOUBLE",
    SqlDialect.POSTGRESQL: "DOUBLE PRECISION",
    SqlDialect.REDSHIFT: "DOUBLE PRECISION",
}
_STRING_LIST = {SqlDialect.DUCKDB: "VARCHAR[]", SqlDialect.POSTGRESQL: "TEXT[]", SqlDialect.REDSHIFT: "SUPER"}


def sql_type(arrow_type: pa.DataType, dialect: SqlDialect | str) -> str:
    """The column type `dialect` stores `arrow_type` values in, losslessly."""
    dialect = SqlDialect(dialect)
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return _TEXT[dialect]
    if pa.types.is_boolean(arrow_type):
        return "BOOLEAN"
    if pa.types.is_int32(arrow_type):
        return "INTEGER"
    if pa.types.is_int64(arrow_type):
        return "BIGINT"
    if pa.types.is_float64(arrow_type):
        return _DOUBLE[dialect]
    if pa.types.is_decimal(arrow_type):
        return f"DECIMAL({arrow_type.precision}, {arrow_type.scale})"
    if pa.types.is_date32(arrow_type):
        return "DATE"
    if pa.types.is_timestamp(arrow_type) and arrow_type.tz is not None:
        return "TIMESTAMPTZ"
    if arrow_type == STRING_LIST:
        return _STRING_LIST[dialect]
    raise SchemaError(f"no {dialect} column type for Arrow type {arrow_type}")
