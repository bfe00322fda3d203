"""Redshift: COPY the S3 partition into a temp stage, then MERGE, all in one transaction.

Redshift loads from S3 itself (`COPY ... FORMAT AS PARQUET` with an IAM role), so nothing passes
through this process but SQL. The merge statements are the same text PostgreSQL runs in the
tests (collapse, resolve, MERGE INTO); only the stage's column types and the COPY differ.
Primary keys are informational in Redshift, so uniqueness rests on the merge itself, which
collapses the stage to one row per id before touching the table.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, unquote, urlparse

import pyarrow as pa

from zoho_pipelines.lake import Lake, PartitionRef
from zoho_pipelines.schema import SqlDialect, sql_type
from zoho_pipelines.warehouse import sql
from zoho_pipelines.warehouse.base import MergeResult, SqlWarehouse, WarehouseError, merge_target
from zoho_pipelines.warehouse.sql import TableRef

DEFAULT_PORT = 5439
# Rows of one id land on one slice, so the merge's joins on id never redistribute the table.
TABLE_SUFFIX = ' DISTSTYLE KEY DISTKEY ("id") SORTKEY ("id")'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def copy_statement(source_uri: str, iam_role_arn: str, schema: pa.Schema) -> str:
    """COPY the Parquet partition into the stage; nested columns land in SUPER as JSON."""
    nested = any(pa.types.is_list(field.type) for field in schema)
    return (
        f"COPY {sql.quote(sql.STAGE)} FROM {_literal(source_uri)} IAM_ROLE {_literal(iam_role_arn)} "
        f"FORMAT AS PARQUET{' SERIALIZETOJSON' if nested else ''}"
    )


def load_statements(schema: pa.Schema, *, source_uri: str, iam_role_arn: str) -> list[str]:
    """Replace the temp stage with the partition's rows."""
    stage_columns = [(field.name, sql_type(field.type, SqlDialect.REDSHIFT)) for field in schema]
    return [
        sql.drop_table(sql.STAGE),
        sql.create_temp_table(sql.STAGE, stage_columns),
        copy_statement(source_uri, iam_role_arn, schema),
    ]


def merge_script(
    table: TableRef,
    schema: pa.Schema,
    target_columns: Sequence[str],
    *,
    source_uri: str,
    iam_role_arn: str,
) -> list[str]:
    """Every statement `merge_partition` runs once the table is evolved, in order."""
    steps = sql.merge_steps(table, schema.names, target_columns, strategy=sql.ApplyStrategy.MERGE)
    return [*load_statements(schema, source_uri=source_uri, iam_role_arn=iam_role_arn), *steps.statements]


def connection_arguments(url: str) -> dict[str, Any]:
    """`redshift://user:password@host:5439/db?iam=true&serverless_work_group=wg` -> connect() kwargs."""
    parsed = urlparse(url)
    if parsed.scheme != "redshift" or not parsed.hostname:
        raise WarehouseError(
            "WAREHOUSE_URL for Redshift must look like redshift://user:password@host:5439/db"
        )
    arguments: dict[str, Any] = {
        "host": parsed.hostname,
        "port": parsed.port or DEFAULT_PORT,
        "database": unquote(parsed.path.lstrip("/")) or "dev",
    }
    if parsed.username:
        arguments["user"] = unquote(parsed.username)
    if parsed.password:
        arguments["password"] = unquote(parsed.password)
    for key, value in parse_qsl(parsed.query):
        lowered = value.lower()
        if lowered in ("true", "false"):
            arguments[key] = lowered == "true"
        else:
            arguments[key] = int(value) if value.isdigit() else value
    return arguments


class RedshiftWarehouse(SqlWarehouse):
    dialect = SqlDialect.REDSHIFT

    def __init__(self, url: str, *, iam_role_arn: str | None) -> None:
        import redshift_connector  # imported here: only Redshift deployments load the driver

        arguments = connection_arguments(url)
        self.iam_role_arn = iam_role_arn
        try:
            self._connection = redshift_connector.connect(**arguments)
        except Exception as exc:  # the driver raises a mix of its own and socket errors
            where = f"{arguments['host']}:{arguments['port']}/{arguments['database']}"
            # Only the class name: driver messages may echo connection parameters.
            raise WarehouseError(f"cannot connect to Redshift at {where}: {type(exc).__name__}") from None

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        try:
            yield
        except BaseException:
            self._connection.rollback()
            raise
        self._connection.commit()

    def _execute(self, statement: str, params: Sequence[Any] = ()) -> None:
        cursor = self._connection.cursor()
        try:
            cursor.execute(statement, tuple(params) or None)
        finally:
            cursor.close()

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cursor = self._connection.cursor()
        try:
            cursor.execute(statement, tuple(params) or None)
            return [tuple(row) for row in cursor.fetchall()]
        finally:
            cursor.close()

    apply_strategy = sql.ApplyStrategy.MERGE

    def _table_suffix(self) -> str:
        return TABLE_SUFFIX

    def merge_partition(self, lake: Lake, ref: PartitionRef) -> MergeResult:
        source_uri = lake.partition_uri(ref)
        if not source_uri.startswith("s3://"):
            raise WarehouseError("Redshift loads partitions from S3: set LAKE_URL to s3://bucket/prefix")
        if not self.iam_role_arn:
            raise WarehouseError("Redshift COPY needs REDSHIFT_IAM_ROLE_ARN (a role that can read the lake)")
        schema = lake.read_schema(ref)
        table = merge_target(schema)
        with self._transaction():
            added = self._ensure_table(table, schema)
            for statement in load_statements(schema, source_uri=source_uri, iam_role_arn=self.iam_role_arn):
                self._execute(statement)
            return self._merge_staged(table, schema, added)

    def close(self) -> None:
        self._connection.close()
