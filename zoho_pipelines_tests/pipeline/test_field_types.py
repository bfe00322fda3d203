"""Every Zoho field type round-trips into the lake (Parquet), DuckDB and PostgreSQL with nothing lost.

Two records shaped as the records API returns them: one with a well-formed value in every field
(`field_types.CASES`), one with a value that breaks each field's type. Both are normalised, written
as a real Parquet partition, read back, and merged into a DuckDB file and a database on the real
PostgreSQL server; every store must hold the first record's values as `expected` says, and the
second record's mistyped values as sent in `_unfitted` (their typed columns null).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from zoho_pipelines.catalog import default_catalog
from zoho_pipelines.lake import LocalLake, PartitionRef
from zoho_pipelines.schema import ColumnRole, RecordNormalizer, build_module_schema, columns_for_field
from zoho_pipelines.warehouse import open_warehouse
from zoho_pipelines_tests.pipeline.field_types import CASES, JSON, MISTYPED, FieldCase
from zoho_pipelines_tests.pipeline.support import Row, table_rows
from zoho_pipelines_tests.postgres_server import PostgresServer

SPEC = default_catalog().get("crm", "service_contracts")
DAY = date(2026, 11, 20)
MODIFIED = "2026-11-20T09:15:00+05:30"
GOOD_ID, MISTYPED_ID = "5726267000000024254", "5726267000000024255"
STORES = ("parquet", "duckdb", "postgresql")
METADATA = [
    *(case.metadata for case in CASES),
    {"api_name": "Modified_Time", "data_type": "datetime", "json_type": "string"},
]


def _records() -> list[dict[str, Any]]:
    good = {"id": GOOD_ID, "Modified_Time": MODIFIED, **{case.api_name: case.value for case in CASES}}
    mistyped = {**good, "id": MISTYPED_ID, **{case.api_name: case.mistyped for case in MISTYPED}}
    return [good, mistyped]


@pytest.fixture(scope="module")
def landed(tmp_path_factory: pytest.TempPathFactory, postgres_server: PostgresServer) -> Iterator[dict]:
    """The two records in each store, by id; plus the normaliser's per-field counts."""
    root: Path = tmp_path_factory.mktemp("field_types")
    normalizer = RecordNormalizer(build_module_schema(SPEC, METADATA))
    lake = LocalLake(root / "lake")
    ref = PartitionRef(SPEC.app, SPEC.module, DAY)
    synced_at = datetime(2026, 11, 21, 2, 0, tzinfo=UTC)
    lake.write_partition(ref, normalizer.arrow_schema, [normalizer.records(_records(), synced_at=synced_at)])
    stores: dict[str, Any] = {
        "parquet": {row["id"]: row for row in lake.read_partition(ref).to_pylist()},
        "unfitted": dict(normalizer.unfitted),
    }
    database = f"field_types_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server.url(), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    try:
        for name, url in (
            ("duckdb", f"duckdb://{root / 'warehouse.duckdb'}"),
            ("postgresql", postgres_server.url(database)),
        ):
            with open_warehouse(url) as warehouse:
                warehouse.merge_partition(lake, ref)
                stores[name] = table_rows(warehouse, SPEC)
        yield stores
    finally:
        with psycopg.connect(postgres_server.url(), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{database}" WITH (FORCE)')


def _assert_holds(row: Row, column: str, expected: Any, value: Any) -> None:
    actual = row[column]
    if expected is JSON:
        assert isinstance(actual, str), f"{column}: JSON text expected, got {actual!r}"
        assert json.loads(actual) == value
        return
    assert actual == expected, f"{column}: {actual!r} != {expected!r}"
    assert type(actual) is type(expected), (
        f"{column}: {type(actual).__name__} is not {type(expected).__name__}"
    )


def test_the_cases_cover_every_documented_type() -> None:
    documented = {
        "text", "textarea", "email", "phone", "website", "picklist", "multiselectpicklist", "integer",
        "bigint", "double", "currency", "percent", "boolean", "date", "datetime", "autonumber", "lookup",
        "ownerlookup", "userlookup", "multiselectlookup", "multiuserlookup", "multi_module_lookup",
        "subform", "fileupload", "imageupload", "profileimage", "formula", "rollup_summary",
        "consent_lookup",
    }  # fmt: skip
    assert {case.metadata["data_type"] for case in CASES} == documented
    formulas = {case.metadata["formula"]["return_type"] for case in CASES if "formula" in case.metadata}
    assert formulas == {"double", "currency", "text", "boolean", "date", "datetime"}
    assert any(
        case.metadata == {"api_name": "Tag", "data_type": "text", "json_type": "jsonarray"} for case in CASES
    )
    for case in CASES:  # `expected` names exactly the columns the schema makes
        assert [column.name for column in columns_for_field(case.metadata)] == list(case.expected)


@pytest.mark.parametrize("store", STORES)
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.label)
def test_a_well_formed_value_lands_exactly(landed: dict, store: str, case: FieldCase) -> None:
    row = landed[store][GOOD_ID]
    for column, expected in case.expected.items():
        _assert_holds(row, column, expected, case.value)
    assert row["_unfitted"] is None


@pytest.mark.parametrize("store", STORES)
@pytest.mark.parametrize("case", MISTYPED, ids=lambda case: case.label)
def test_a_mistyped_value_lands_as_sent_in_unfitted(landed: dict, store: str, case: FieldCase) -> None:
    row = landed[store][MISTYPED_ID]
    assert all(row[column] is None for column in case.expected), "the typed column holds no guess"
    kept = json.loads(row["_unfitted"])
    assert case.api_name in kept
    assert kept[case.api_name] == case.mistyped
    assert type(kept[case.api_name]) is type(case.mistyped)


def test_every_mistyped_value_is_counted_once_and_json_columns_take_anything(landed: dict) -> None:
    assert landed["unfitted"] == {case.api_name: 1 for case in MISTYPED}
    json_fields = {
        case.api_name
        for case in CASES
        if all(column.role is ColumnRole.JSON for column in columns_for_field(case.metadata))
    }
    assert json_fields.isdisjoint(case.api_name for case in MISTYPED)
    assert len(json.loads(landed["parquet"][MISTYPED_ID]["_unfitted"])) == len(MISTYPED)
    for store in STORES:  # the other values of the mistyped record are untouched
        assert landed[store][MISTYPED_ID]["tag"] == landed[store][GOOD_ID]["tag"]
        assert landed[store][MISTYPED_ID]["_modified_time"] == datetime(2026, 11, 20, 3, 45, tzinfo=UTC)
