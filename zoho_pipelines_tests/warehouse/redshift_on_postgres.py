"""Redshift's merge statements run verbatim on PostgreSQL 15 (which has MERGE and LOCK too); only
the S3 COPY becomes COPY FROM STDIN of the same Parquet rows."""

from __future__ import annotations

import io
from collections.abc import Sequence

import psycopg
import pyarrow.csv as pa_csv

from zoho_pipelines.lake import Lake, PartitionRef
from zoho_pipelines.warehouse import TableRef, sql
from zoho_pipelines.warehouse.postgres import _csv_ready
from zoho_pipelines.warehouse.redshift import merge_script

ROLE = "arn:aws:iam::123456789012:role/redshift-copy"


def run_redshift_merge(
    connection: psycopg.Connection,
    table: TableRef,
    lake: Lake,
    ref: PartitionRef,
    target_columns: Sequence[str],
) -> None:
    """One partition's Redshift transaction, from its LOCK to its commit."""
    schema = lake.read_schema(ref)
    for statement in merge_script(
        table, schema, target_columns, source_uri=lake.partition_uri(ref), iam_role_arn=ROLE
    ):
        if statement.startswith("COPY "):
            names = ", ".join(sql.quote(name) for name in schema.names)
            with connection.cursor().copy(f'COPY "zoho_stage" ({names}) FROM STDIN (FORMAT csv)') as copy:
                for batch in lake.iter_batches(ref):
                    buffer = io.BytesIO()
                    pa_csv.write_csv(_csv_ready(batch), buffer, pa_csv.WriteOptions(include_header=False))
                    copy.write(buffer.getvalue())
        else:
            connection.execute(statement)
    connection.commit()
