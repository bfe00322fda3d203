"""Table changes when runs overlap: writers that find the same schema, table or Zoho field missing
at the same instant must all succeed, and create each exactly once (DuckDB and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pyarrow as pa
import pytest

from zoho_pipelines.warehouse import SqlWarehouse, TableRef, open_warehouse
from zoho_pipelines_tests.warehouse.overlap_support import run_together
from zoho_pipelines_tests.warehouse.support import LEAD_FIELDS, Partitions, lead

ROUNDS = 4
WRITERS = 4


@pytest.fixture(params=["duckdb", "postgresql"])
def writers(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[SqlWarehouse]]:
    """Four warehouse objects on one database: four connections (PostgreSQL), four openers (DuckDB)."""
    if request.param == "duckdb":
        url = f"duckdb://{tmp_path / 'warehouse.duckdb'}"
    else:
        url = request.getfixturevalue("postgres_url")
    opened = [open_warehouse(url) for _ in range(WRITERS)]
    yield opened
    for warehouse in opened:
        warehouse.close()


def _rows(partitions: Partitions, app: str, module: str) -> tuple[pa.Schema, list[pa.RecordBatch]]:
    """Ten leads, as rows of `zoho_<app>.<module>`."""
    schema = partitions.schema.to_arrow()
    schema = schema.with_metadata(
        {**schema.metadata, b"zoho.app": app.encode(), b"zoho.module": module.encode()}
    )
    records = [lead(str(number), "2024-03-05T08:00:00Z", f"n{number}") for number in range(10)]
    return schema, [partitions.normalizer.records(records, synced_at=datetime(2024, 3, 6, tzinfo=UTC))]


def test_new_tables_sharing_a_new_schema_are_created_at_once(
    writers: list[SqlWarehouse], partitions: Partitions
) -> None:
    for round_number in range(ROUNDS):
        app = f"race{round_number}"
        batches = [_rows(partitions, app, f"module_{position}") for position in range(WRITERS)]
        run_together(
            *(partial(writer.merge_batches, *rows) for writer, rows in zip(writers, batches, strict=True))
        )
        for position in range(WRITERS):
            table = TableRef.for_module(app, f"module_{position}")
            assert writers[0].query(f"SELECT COUNT(*) FROM {table.sql}") == [(10,)]  # noqa: S608


def test_one_new_table_is_created_by_four_writers_at_once(
    writers: list[SqlWarehouse], partitions: Partitions
) -> None:
    for round_number in range(ROUNDS):
        schema, batches = _rows(partitions, f"race{round_number}", "leads")
        results = run_together(*(partial(writer.merge_batches, schema, batches) for writer in writers))
        assert sum(result.inserted_rows for result in results) == 10  # each row inserted once
        table = TableRef.for_module(f"race{round_number}", "leads")
        assert writers[0].query(f'SELECT COUNT(*), COUNT(DISTINCT "id") FROM {table.sql}') == [(10, 10)]  # noqa: S608


def test_a_new_zoho_field_is_added_by_four_writers_at_once(
    writers: list[SqlWarehouse], partitions: Partitions
) -> None:
    writers[0].merge_batches(*_rows(partitions, "crm", "leads"))
    for round_number in range(ROUNDS):
        field = f"Extra_{round_number}"
        partitions.set_fields([*LEAD_FIELDS, {"api_name": field, "data_type": "integer"}])
        schema, batches = _rows(partitions, "crm", "leads")
        results = run_together(*(partial(writer.merge_batches, schema, batches) for writer in writers))

        assert [result.added_columns for result in results].count((field.lower(),)) == 1
        columns = writers[0].table_columns(TableRef("zoho_crm", "leads"))
        assert columns.count(field.lower()) == 1
