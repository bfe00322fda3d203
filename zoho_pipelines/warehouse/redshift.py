"""Redshift: COPY the S3 partition into a temp stage, then MERGE, all in one transaction.

Redshift loads from S3 itself (`COPY ... FORMAT AS PARQUET` with an IAM role), so nothing passes
through this process but SQL. The merge statements are the same text PostgreSQL runs in the
tests (collapse, resolve, MERGE INTO); only the stage's column types and the COPY differ.
Primary keys are informational in Redshift, so uniqueness rests on the merge itself, which
collapses the stage to one row per id before touching the table.

Overlapping runs: Redshift's MERGE takes no condition on WHEN MATCHED and only equality in ON,
so the version check cannot sit in the writing statement. Instead `LOCK` is the transaction's
first statement (Redshift's advice: a lock taken later can leave the transaction reading an
older snapshot), which makes the table's other writers, and readers, wait until commit; the
columns are read, the stage resolved against the table and the MERGE applied under it. Creating
a missing table happens before, in a transaction of its own, since `LOCK` needs the table.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import pyarrow as pa

from zoho_pipelines.lake import Lake, PartitionRef
from zoho_pipelines.schema import SqlDialect, sql_type
from zoho_pipelines.warehouse import sql
from zoho_pipelines.warehouse.base import MergeResult, SqlWarehouse, WarehouseError, merge_target
from zoho_pipelines.warehouse.credentials import split_url
from zoho_pipelines.warehouse.sql import TableRef

DEFAULT_PORT = 5439
MAX_IDENTIFIER_BYTES = 127  # Redshift cuts longer names silently
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
    """Replace the temp stage with the partition's rows (COPY fills Parquet columns by position)."""
    stage_columns = [
        (sql.column_name(field.name, MAX_IDENTIFIER_BYTES), sql_type(field.type, SqlDialect.REDSHIFT))
        for field in schema
    ]
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
    """Every statement of `merge_partition`'s transaction but the column changes, in order: LOCK
    first, then load, collapse, resolve against the locked table, MERGE and clean up."""
    stage_columns = [sql.column_name(name, MAX_IDENTIFIER_BYTES) for name in schema.names]
    steps = sql.merge_steps(table, stage_columns, target_columns, strategy=sql.ApplyStrategy.MERGE)
    return [
        sql.lock_table(table),
        *load_statements(schema, source_uri=source_uri, iam_role_arn=iam_role_arn),
        *steps.statements,
    ]


def connection_arguments(url: str, *, password: str | None = None) -> dict[str, Any]:
    """`redshift://user:password@host:5439/db?iam=true&serverless_work_group=wg` -> connect() kwargs.

    `password` (WAREHOUSE_PASSWORD or its secret) replaces any password in the URL. Errors name
    WAREHOUSE_URL and never quote it (see `warehouse.credentials`).
    """
    shape = "WAREHOUSE_URL for Redshift must look like redshift://user:password@host:5439/db"
    parts = split_url(url)
    if parts.scheme != "redshift":
        raise WarehouseError(shape)
    address = urlsplit(f"//{parts.address}")
    try:
        port = address.port
    except ValueError:
        raise WarehouseError(f"{shape}: the port is not a number") from None
    if not address.hostname:
        raise WarehouseError(shape)
    arguments: dict[str, Any] = {
        "host": address.hostname,
        "port": port or DEFAULT_PORT,
        "database": unquote(address.path.lstrip("/")) or "dev",
    }
    if parts.user:
        arguments["user"] = parts.user
    if password or parts.password:
        arguments["password"] = password or parts.password
    for key, value in parse_qsl(address.query):
        lowered = value.lower()
        if lowered in ("true", "false"):
            arguments[key] = lowered == "true"
        else:
            arguments[key] = int(value) if value.isdigit() else value
    return arguments


class RedshiftWarehouse(SqlWarehouse):
    dialect = SqlDialect.REDSHIFT
    max_identifier_bytes = MAX_IDENTIFIER_BYTES

    def __init__(self, url: str, *, iam_role_arn: str | None, password: str | None = None) -> None:
        import redshift_connector  # imported here: only Redshift deployments load the driver

        arguments = connection_arguments(url, password=password)
        self.iam_role_arn = iam_role_arn
        try:
            self._connection = redshift_connector.connect(**arguments)
        except Exception as exc:  # the driver raises a mix of its own and socket errors
            where = f"{arguments['host']}:{arguments['port']}/{arguments['database']}"
            # Only the class name: driver messages may echo connection parameters.
            raise WarehouseError(f"cannot connect to Redshift at {where}: {type(exc).__name__}") from None

    @contextmanager
    def _transaction(self, purpose: str = "") -> Iterator[None]:
        """A transaction of its own: the driver opens one implicitly at any statement (a read by the
        caller, say), so end that first; the next statement, the merge's LOCK, starts this one."""
        self._connection.commit()
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

    def _lock_table(self, table: TableRef) -> None:
        self._execute(sql.lock_table(table))

    def _lock_schema(self, table: TableRef) -> None:
        """Nothing: the schema is created in `_create_missing_table`, before any lock."""

    def _create_missing_table(self, table: TableRef, schema: pa.Schema) -> None:
        """Create schema and table in a transaction of their own, so `LOCK` can open the merge's.

        Two runs may both find the table missing; the one that loses the race (Redshift reports a
        conflict or a duplicate) finds it present on looking again, which is all it needed.
        """
        if self._table_exists(table):
            return
        try:
            with self._transaction(f"creating {table}"):
                self._ensure_table(table, schema)
        except Exception:
            if not self._table_exists(table):
                raise

    def _table_exists(self, table: TableRef) -> bool:
        with self._transaction(f"looking for {table}"):
            return bool(self.table_columns(table))

    def ensure_table(self, schema: pa.Schema) -> tuple[str, ...]:
        table = merge_target(schema)
        self._create_missing_table(table, schema)
        return super().ensure_table(schema)

    def merge_partition(self, lake: Lake, ref: PartitionRef) -> MergeResult:
        source_uri = lake.partition_uri(ref)
        if not source_uri.startswith("s3://"):
            raise WarehouseError("Redshift loads partitions from S3: set LAKE_URL to s3://bucket/prefix")
        if not self.iam_role_arn:
            raise WarehouseError("Redshift COPY needs REDSHIFT_IAM_ROLE_ARN (a role that can read the lake)")
        schema = lake.read_schema(ref)
        table = merge_target(schema)
        self._create_missing_table(table, schema)
        with self._transaction(f"merging into {table}"):
            self._lock_table(table)  # first: see the module docstring
            added = self._ensure_table(table, schema)
            for statement in load_statements(schema, source_uri=source_uri, iam_role_arn=self.iam_role_arn):
                self._execute(statement)
            return self._merge_staged(table, schema, added)

    def close(self) -> None:
        self._connection.close()
