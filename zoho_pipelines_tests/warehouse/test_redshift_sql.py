"""Redshift without a Redshift: every statement parses as Redshift SQL, and the very same merge
statements, run on the real PostgreSQL, give the table the PostgreSQL backend gives."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import psycopg
import pytest
import sqlglot
from sqlglot import exp

from zoho_pipelines.lake import LocalLake
from zoho_pipelines.schema import SqlDialect, sql_type
from zoho_pipelines.warehouse import TableRef, WarehouseError, open_warehouse, sql
from zoho_pipelines.warehouse.redshift import (
    TABLE_SUFFIX,
    connection_arguments,
    copy_statement,
    merge_script,
)
from zoho_pipelines_tests.warehouse.redshift_on_postgres import ROLE, run_redshift_merge
from zoho_pipelines_tests.warehouse.support import SCALAR_FIELDS, Partitions, lead, table_rows

LEADS = TableRef("zoho_crm", "leads")
URI = "s3://lake-bucket/prod/zoho/crm/leads/date=2024-03-05/leads.parquet"


def _parse_redshift(statement: str) -> exp.Expression:
    parsed = sqlglot.parse(statement, read="redshift", error_level=sqlglot.ErrorLevel.RAISE)
    assert len(parsed) == 1
    assert parsed[0] is not None
    assert not isinstance(parsed[0], exp.Command), f"sqlglot did not understand: {statement[:80]}"
    return parsed[0]


def test_every_statement_of_a_redshift_merge_parses_as_redshift_sql(tmp_path: Path) -> None:
    partitions = Partitions(LocalLake(tmp_path))
    schema = partitions.schema.to_arrow()
    columns = [
        (name, sql_type(arrow_type, SqlDialect.REDSHIFT)) for name, arrow_type in sql.table_columns(schema)
    ]
    ddl = [
        sql.create_schema(LEADS),
        sql.create_table(LEADS, columns, suffix=TABLE_SUFFIX),
        sql.add_column(LEADS, "lead_score", "INTEGER"),
        sql.columns_query("%s"),
    ]
    script = merge_script(LEADS, schema, [name for name, _ in columns], source_uri=URI, iam_role_arn=ROLE)
    # sqlglot has no LOCK; Redshift's grammar is `LOCK [ TABLE ] table_name [, ...]`.
    assert script[0] == 'LOCK "zoho_crm"."leads"'
    kinds = [type(_parse_redshift(statement)).__name__ for statement in [*ddl, *script[1:]]]

    assert kinds[:4] == ["Create", "Create", "Alter", "Select"]
    assert kinds[4:] == [
        "Drop",
        "Create",
        "Copy",
        "Drop",
        "Drop",
        "Create",
        "Create",
        "Merge",
        "Drop",
        "Drop",
        "Drop",
    ]
    create_stage = _parse_redshift(script[2])
    assert "SUPER" in create_stage.sql("redshift")  # the multi-select picklist column
    assert "VARCHAR(65535)" in create_stage.sql("redshift")


def test_copy_reads_the_partition_with_the_iam_role_and_serialises_lists(tmp_path: Path) -> None:
    with_lists = Partitions(LocalLake(tmp_path)).schema.to_arrow()
    without_lists = Partitions(LocalLake(tmp_path), SCALAR_FIELDS).schema.to_arrow()

    statement = copy_statement("s3://b/it's.parquet", ROLE, with_lists)
    assert statement == (
        f"COPY \"zoho_stage\" FROM 's3://b/it''s.parquet' IAM_ROLE '{ROLE}' FORMAT AS PARQUET SERIALIZETOJSON"
    )
    assert "SERIALIZETOJSON" not in copy_statement(URI, ROLE, without_lists)
    _parse_redshift(statement)


def _run_redshift_script_on_postgres(url: str, partitions: Partitions, refs: list) -> None:
    """The Redshift statements verbatim; only the S3 COPY becomes COPY FROM STDIN."""
    warehouse = open_warehouse(url)
    try:
        warehouse.ensure_table(partitions.schema.to_arrow())
        target_columns = warehouse.table_columns(LEADS)
    finally:
        warehouse.close()
    with psycopg.connect(url) as connection:
        for ref in refs:
            run_redshift_merge(connection, LEADS, partitions.lake, ref, target_columns)


def test_the_redshift_merge_statements_behave_like_the_postgresql_backend(
    postgres_url: str, tmp_path: Path
) -> None:
    partitions = Partitions(LocalLake(tmp_path), SCALAR_FIELDS)
    day1 = partitions.write(
        date(2024, 3, 5),
        [lead("1", "2024-03-05T08:00:00Z", "one"), lead("2", "2024-03-05T09:00:00+05:30", "two")],
        deletions=[("3", "2024-03-05T10:00:00Z")],
    )
    day2 = partitions.write(
        date(2024, 3, 6),
        [lead("2", "2024-03-06T08:00:00Z", "two again"), lead("3", "2024-03-05T23:59:59-08:00", "three")],
        deletions=[("1", "2024-03-06T11:00:00Z")],
    )
    order = [day2, day1, day2, day1]

    _run_redshift_script_on_postgres(postgres_url, partitions, order)
    warehouse = open_warehouse(postgres_url)
    try:
        via_redshift_sql = table_rows(warehouse)
        with psycopg.connect(postgres_url, autocommit=True) as connection:
            connection.execute('DROP SCHEMA "zoho_crm" CASCADE')
        for ref in order:
            warehouse.merge_partition(partitions.lake, ref)
        assert table_rows(warehouse) == via_redshift_sql
    finally:
        warehouse.close()
    summary = {row["id"]: (row["last_name"], row["_deleted"]) for row in via_redshift_sql}
    assert summary == {"1": ("one", True), "2": ("two again", False), "3": ("three", False)}


def test_redshift_urls_become_connection_arguments() -> None:
    arguments = connection_arguments(
        "redshift://etl:p%40ss@wg.123.us-east-1.redshift-serverless.amazonaws.com/analytics"
        "?iam=false&ssl=true&timeout=30"
    )
    assert arguments == {
        "host": "wg.123.us-east-1.redshift-serverless.amazonaws.com",
        "port": 5439,
        "database": "analytics",
        "user": "etl",
        "password": "p@ss",
        "iam": False,
        "ssl": True,
        "timeout": 30,
    }
    with pytest.raises(WarehouseError, match="redshift://"):
        connection_arguments("postgresql://host/db")


def test_an_unreachable_redshift_fails_clearly_without_echoing_the_password() -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again when the block ends: nothing listens there
    with pytest.raises(WarehouseError) as failure:
        open_warehouse(f"redshift://etl:s3cr3t-value@127.0.0.1:{port}/dev?timeout=5", iam_role_arn=ROLE)
    assert f"127.0.0.1:{port}/dev" in str(failure.value)
    assert "s3cr3t-value" not in str(failure.value)
