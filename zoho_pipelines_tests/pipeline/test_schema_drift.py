"""Schema drift through the real pipeline: Zoho's fields change between two partitions.

The earlier partition is written as an earlier run would have written it, from the field list
Zoho had then (the same records, normalised with that schema); the later one by `sync_partition`
against the sandbox's current fields. The warehouse then has to follow: ALTER TABLE for new
columns, old columns kept, and an incompatible change refused before anything is touched.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from zoho_pipelines.lake import LocalLake, PartitionRef
from zoho_pipelines.pipeline import load_partition, sync_partition
from zoho_pipelines.sandbox.server import RunningSandbox
from zoho_pipelines.schema import ModuleSchema, SchemaDriftError
from zoho_pipelines.warehouse import SqlWarehouse, open_warehouse
from zoho_pipelines_tests.pipeline.support import (
    SandboxTruth,
    client_for,
    day_rows,
    leftovers,
    partition_path,
    snapshot,
    spec_of,
    table_ref,
    write_as_earlier_run,
)

DEALS = spec_of("crm", "deals")
EARLIER, LATER = date(2026, 11, 20), date(2026, 11, 21)


@pytest.fixture(params=["duckdb", "postgresql"])
def warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlWarehouse]:
    url = (
        f"duckdb://{tmp_path / 'warehouse.duckdb'}"
        if request.param == "duckdb"
        else request.getfixturevalue("postgres_url")
    )
    with open_warehouse(url) as opened:
        yield opened


def test_a_new_zoho_field_becomes_a_new_column_in_lake_and_warehouse(
    sandbox: RunningSandbox, lake: LocalLake, warehouse: SqlWarehouse
) -> None:
    new_fields = {"Contact_Name", "Region__c"}
    with client_for(sandbox) as client:
        current = client.crm.fields("Deals")
        write_as_earlier_run(
            client, lake, DEALS, EARLIER, [field for field in current if field["api_name"] not in new_fields]
        )
        load_partition(warehouse, lake, DEALS, EARLIER)
        assert "region__c" not in warehouse.table_columns(table_ref(DEALS))
        synced = sync_partition(client, lake, DEALS, LATER)
        merged = load_partition(warehouse, lake, DEALS, LATER)

    added = {"contact_name_id", "contact_name_name", "region__c"}
    assert set(synced.added_columns) == added
    assert set(merged.added_columns) == added
    assert added <= set(lake.read_schema(PartitionRef("crm", "deals", LATER)).names)
    assert not added & set(lake.read_schema(PartitionRef("crm", "deals", EARLIER)).names)
    assert added <= set(warehouse.table_columns(table_ref(DEALS)))
    truth = SandboxTruth(sandbox)
    later = day_rows(warehouse, DEALS, LATER, deleted=False)
    for record_id, record in truth.day(DEALS, LATER).records.items():
        assert later[record_id]["region__c"] == record["Region__c"]
        assert later[record_id]["contact_name_id"] == (record["Contact_Name"] or {}).get("id")
    earlier = day_rows(warehouse, DEALS, EARLIER, deleted=False)
    assert earlier
    assert all(row["region__c"] is None for row in earlier.values())


def test_a_field_removed_in_zoho_stays_as_a_nullable_column(
    sandbox: RunningSandbox, lake: LocalLake, warehouse: SqlWarehouse
) -> None:
    legacy = {"api_name": "Legacy_Code__c", "data_type": "text", "custom_field": True}
    with client_for(sandbox) as client:
        current = client.crm.fields("Deals")
        write_as_earlier_run(
            client,
            lake,
            DEALS,
            EARLIER,
            [*current, legacy],
            extra_values=lambda record: {"Legacy_Code__c": f"L-{record['id']}"},
        )
        load_partition(warehouse, lake, DEALS, EARLIER)
        # The sandbox would refuse a field it does not know: the sync must not ask for it.
        synced = sync_partition(client, lake, DEALS, LATER)
        load_partition(warehouse, lake, DEALS, LATER)

    assert synced.removed_fields == ("Legacy_Code__c",)
    assert synced.added_columns == ()
    later_schema = lake.read_schema(PartitionRef("crm", "deals", LATER))
    column = later_schema.field("legacy_code__c")
    assert column.nullable
    assert ModuleSchema.from_arrow(later_schema).fields[-1].removed
    later_values = lake.read_partition(PartitionRef("crm", "deals", LATER), columns=["legacy_code__c"])
    assert later_values.column(0).null_count == later_values.num_rows > 0
    assert "legacy_code__c" in warehouse.table_columns(table_ref(DEALS))
    earlier = day_rows(warehouse, DEALS, EARLIER, deleted=False)
    assert earlier
    assert all(row["legacy_code__c"] == f"L-{key}" for key, row in earlier.items())
    later = day_rows(warehouse, DEALS, LATER, deleted=False)
    assert later
    assert all(row["legacy_code__c"] is None for row in later.values())


def test_an_incompatible_type_change_stops_with_advice_and_touches_nothing(
    sandbox: RunningSandbox, lake: LocalLake, duckdb_warehouse: SqlWarehouse
) -> None:
    """Amount was stored as text; Zoho now says currency (decimal): no silent rewrite."""
    with client_for(sandbox) as client:
        current = client.crm.fields("Deals")
        as_text = [
            {**field, "data_type": "text"} if field["api_name"] == "Amount" else field for field in current
        ]
        for day in (EARLIER, LATER):
            write_as_earlier_run(client, lake, DEALS, day, as_text)
            load_partition(duckdb_warehouse, lake, DEALS, day)
        file_before = partition_path(lake, DEALS, LATER).read_bytes()
        table_before = snapshot(duckdb_warehouse, DEALS)

        with pytest.raises(SchemaDriftError) as raised:
            sync_partition(client, lake, DEALS, LATER)

    error = raised.value
    assert error.field == "Amount"
    message = str(error)
    assert "'Amount'" in message
    assert "text" in message
    assert "currency" in message
    assert "backfill" in message
    assert "zoho_crm.deals" in message
    assert partition_path(lake, DEALS, LATER).read_bytes() == file_before
    assert leftovers(lake, DEALS, LATER) == []
    assert snapshot(duckdb_warehouse, DEALS) == table_before
    assert lake.list_partitions("crm", "deals") == [EARLIER, LATER]
