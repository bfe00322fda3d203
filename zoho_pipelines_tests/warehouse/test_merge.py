"""Merging lake partitions into DuckDB and PostgreSQL: values, idempotence, order, deletions,
schema evolution and all-or-nothing transactions (each test runs on both backends)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import orjson
import pyarrow as pa
import pytest

from zoho_pipelines.lake import PartitionRef
from zoho_pipelines.warehouse import RECORD_MODIFIED_TIME, SqlWarehouse, TableRef, Warehouse, WarehouseError
from zoho_pipelines_tests.warehouse.support import LEAD_FIELDS, Partitions, lead, table_rows

MAR5, MAR6, MAR7 = date(2024, 3, 5), date(2024, 3, 6), date(2024, 3, 7)
LEADS = TableRef("zoho_crm", "leads")


def _by_id(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["id"]: row for row in rows}


def test_a_partition_lands_with_every_value_typed(warehouse: SqlWarehouse, partitions: Partitions) -> None:
    assert isinstance(warehouse, Warehouse)
    ref = partitions.write(MAR5, [lead("1", "2024-03-05T09:30:00+05:30", "Rao")])
    result = warehouse.merge_partition(partitions.lake, ref)

    assert (result.table, result.staged_rows, result.inserted_rows, result.updated_rows) == (LEADS, 1, 1, 0)
    [row] = table_rows(warehouse)
    assert row == {
        "id": "1",
        "_modified_time": datetime(2024, 3, 5, 4, 0, tzinfo=UTC),
        "_deleted": False,
        "_synced_at": datetime(2024, 4, 1, tzinfo=UTC),
        "_partition": MAR5,
        "last_name": "Rao",
        "owner_id": "42",
        "owner_name": "Ann Owner",
        "annual_revenue": Decimal("1250.50"),
        "tag_list": ["hot", 'quote"d'],
        "birthday": date(1990, 5, 17),
        "is_hot": True,
        "employees": 12,
        "details": row["details"],
        "modified_time": datetime(2024, 3, 5, 4, 0, tzinfo=UTC),
        "_unfitted": None,  # every value fitted its column
        RECORD_MODIFIED_TIME: datetime(2024, 3, 5, 4, 0, tzinfo=UTC),
    }
    assert orjson.loads(row["details"]) == [{"Line": 1, "Note": "first"}]


def test_merging_the_same_partition_twice_changes_nothing(
    warehouse: SqlWarehouse, partitions: Partitions
) -> None:
    ref = partitions.write(
        MAR5,
        [lead("1", "2024-03-05T10:00:00Z", "A"), lead("2", "2024-03-05T11:00:00Z", "B")],
        deletions=[("3", "2024-03-05T12:00:00Z")],
    )
    warehouse.merge_partition(partitions.lake, ref)
    first = table_rows(warehouse)
    again = warehouse.merge_partition(partitions.lake, ref)

    assert again.inserted_rows == 0
    assert table_rows(warehouse) == first
    assert len(first) == 3


def test_an_older_partition_never_regresses_a_newer_row(
    warehouse: SqlWarehouse, partitions: Partitions
) -> None:
    newer = partitions.write(MAR6, [lead("1", "2024-03-06T08:00:00Z", "new name")])
    older = partitions.write(
        MAR5, [lead("1", "2024-03-05T08:00:00Z", "old name"), lead("2", "2024-03-05T08:00:00Z", "other")]
    )
    warehouse.merge_partition(partitions.lake, newer)
    result = warehouse.merge_partition(partitions.lake, older)

    rows = _by_id(table_rows(warehouse))
    assert rows["1"]["last_name"] == "new name"
    assert rows["1"]["_partition"] == MAR6
    assert rows["2"]["last_name"] == "other"
    assert (result.inserted_rows, result.updated_rows) == (1, 0)


def test_a_deletion_keeps_the_newest_values_and_a_restore_revives_the_row(
    warehouse: SqlWarehouse, partitions: Partitions
) -> None:
    created = partitions.write(MAR5, [lead("1", "2024-03-05T08:00:00Z", "kept")])
    deleted = partitions.write(MAR6, deletions=[("1", "2024-03-06T09:00:00Z"), ("9", "2024-03-06T09:00:00Z")])
    warehouse.merge_partition(partitions.lake, created)
    warehouse.merge_partition(partitions.lake, deleted)

    rows = _by_id(table_rows(warehouse))
    assert rows["1"]["_deleted"] is True
    assert rows["1"]["last_name"] == "kept"
    assert rows["1"]["_modified_time"] == datetime(2024, 3, 6, 9, 0, tzinfo=UTC)
    assert rows["1"]["_partition"] == MAR6
    # A deletion of a record never seen is still recorded, as a bare tombstone.
    assert rows["9"]["_deleted"] is True
    assert rows["9"]["last_name"] is None

    restored = partitions.write(MAR7, [lead("1", "2024-03-07T10:00:00Z", "restored")])
    warehouse.merge_partition(partitions.lake, restored)
    rows = _by_id(table_rows(warehouse))
    assert (rows["1"]["_deleted"], rows["1"]["last_name"]) == (False, "restored")


def test_a_deletion_wins_over_a_change_within_the_same_partition(
    warehouse: SqlWarehouse, partitions: Partitions
) -> None:
    ref = partitions.write(
        MAR5,
        [lead("1", "2024-03-05T08:00:00Z", "edited then deleted"), lead("2", "2024-03-05T20:00:00Z", "x")],
        deletions=[("1", "2024-03-05T09:00:00Z"), ("2", "2024-03-05T07:00:00Z")],
    )
    warehouse.merge_partition(partitions.lake, ref)
    rows = _by_id(table_rows(warehouse))
    assert (rows["1"]["_deleted"], rows["1"]["last_name"]) == (True, "edited then deleted")
    assert (rows["2"]["_deleted"], rows["2"]["last_name"]) == (False, "x")  # re-created after deletion


def test_a_new_zoho_field_becomes_a_column_and_old_partitions_still_merge(
    warehouse: SqlWarehouse, partitions: Partitions
) -> None:
    old = partitions.write(
        MAR5, [lead("1", "2024-03-05T08:00:00Z", "a"), lead("2", "2024-03-05T08:00:00Z", "b")]
    )
    warehouse.merge_partition(partitions.lake, old)

    partitions.set_fields([*LEAD_FIELDS, {"api_name": "Lead_Score", "data_type": "integer"}])
    new = partitions.write(MAR6, [lead("1", "2024-03-06T08:00:00Z", "a2", Lead_Score=87)])
    result = warehouse.merge_partition(partitions.lake, new)
    assert result.added_columns == ("lead_score",)
    assert warehouse.table_columns(LEADS)[-1] == "lead_score"

    warehouse.merge_partition(partitions.lake, old)  # a back-fill of a day before the field existed
    rows = _by_id(table_rows(warehouse))
    assert (rows["1"]["last_name"], rows["1"]["lead_score"]) == ("a2", 87)
    assert (rows["2"]["last_name"], rows["2"]["lead_score"]) == ("b", None)


def test_a_merge_that_fails_midway_leaves_table_and_columns_untouched(
    warehouse: SqlWarehouse, partitions: Partitions
) -> None:
    warehouse.merge_partition(
        partitions.lake, partitions.write(MAR5, [lead("1", "2024-03-05T08:00:00Z", "a")])
    )
    before, columns = table_rows(warehouse), warehouse.table_columns(LEADS)

    partitions.set_fields([*LEAD_FIELDS, {"api_name": "Rating", "data_type": "picklist"}])
    ref = partitions.write(MAR6, [lead("1", "2024-03-06T08:00:00Z", "b", Rating="Hot")])
    schema = partitions.lake.read_schema(ref)

    def failing() -> Any:
        yield from partitions.lake.iter_batches(ref)
        raise OSError("lake read failed")

    with pytest.raises(OSError, match="lake read failed"):
        warehouse.merge_batches(schema, failing())

    assert warehouse.table_columns(LEADS) == columns
    assert table_rows(warehouse) == before


def test_merge_batches_accepts_arrow_from_any_source(warehouse: SqlWarehouse, partitions: Partitions) -> None:
    batch = partitions.normalizer.records(
        [lead(str(i), "2024-03-05T08:00:00Z", f"n{i}") for i in range(1000)], synced_at=datetime.now(UTC)
    )
    result = warehouse.merge_batches(
        partitions.schema.to_arrow(), iter(pa.Table.from_batches([batch]).to_batches(max_chunksize=128))
    )
    assert (result.staged_rows, result.inserted_rows) == (1000, 1000)
    assert warehouse.query('SELECT COUNT(*) FROM "zoho_crm"."leads"') == [(1000,)]


def test_rows_without_zoho_metadata_or_system_columns_are_refused(warehouse: SqlWarehouse) -> None:
    with pytest.raises(ValueError, match=r"zoho\.app"):
        warehouse.merge_batches(pa.schema([("id", pa.string())]), [])
    bare = pa.schema([("id", pa.string())], metadata={"zoho.app": "crm", "zoho.module": "leads"})
    with pytest.raises(WarehouseError, match="lack the columns"):
        warehouse.merge_batches(bare, [])
    assert warehouse.table_columns(LEADS) == []


def test_a_duckdb_file_keeps_the_table_across_connections(partitions: Partitions, tmp_path: Any) -> None:
    from zoho_pipelines.warehouse import open_warehouse

    path = tmp_path / "nested" / "dir" / "warehouse.duckdb"
    first = open_warehouse(f"duckdb://{path}")
    first.merge_partition(partitions.lake, partitions.write(MAR5, [lead("1", "2024-03-05T08:00:00Z", "a")]))
    first.close()

    reopened = open_warehouse(f"duckdb:///{path}?memory_limit=256MiB")  # Settings' four-slash form
    try:
        assert reopened.query('SELECT "id", "last_name" FROM "zoho_crm"."leads"') == [("1", "a")]
        assert reopened.query("SELECT current_setting('memory_limit')") == [("256.0 MiB",)]
    finally:
        reopened.close()


def test_partition_ref_and_table_names_follow_the_contract() -> None:
    assert TableRef.for_module("books", "customer_payments").sql == '"zoho_books"."customer_payments"'
    assert str(TableRef.for_module("crm", "leads")) == "zoho_crm.leads"
    assert PartitionRef("crm", "leads", MAR5).key == "zoho/crm/leads/date=2024-03-05/leads.parquet"


def test_the_settings_defaults_open_a_local_lake_and_duckdb_warehouse(tmp_path: Any) -> None:
    from zoho_pipelines.lake import LocalLake, open_lake
    from zoho_pipelines.settings import load_settings
    from zoho_pipelines.warehouse import open_warehouse
    from zoho_pipelines.warehouse.duckdb import DuckDBWarehouse

    settings = load_settings(ZOHO_PIPELINES_HOME=str(tmp_path / "home dir"))
    lake = open_lake(settings.resolved_lake_url, kms_key_id=settings.lake_kms_key_id)
    warehouse = open_warehouse(settings.resolved_warehouse_url, iam_role_arn=settings.redshift_iam_role_arn)
    try:
        assert isinstance(lake, LocalLake)
        assert lake.root == (tmp_path / "home dir" / "lake").resolve()
        assert isinstance(warehouse, DuckDBWarehouse)
        assert warehouse.path == str((tmp_path / "home dir" / "warehouse.duckdb").resolve())
        partitions = Partitions(lake)
        warehouse.merge_partition(lake, partitions.write(MAR5, [lead("1", "2024-03-05T08:00:00Z", "a")]))
        assert (tmp_path / "home dir" / "lake" / "zoho/crm/leads/date=2024-03-05/leads.parquet").is_file()
    finally:
        warehouse.close()
