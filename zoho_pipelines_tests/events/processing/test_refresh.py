"""The refresh against the sandbox and a real DuckDB file: rows match Zoho, deletes become
tombstones, repeats and out-of-order runs change nothing, and the lake staging path works."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from zoho_pipelines.catalog import default_catalog
from zoho_pipelines.events.model import ZohoEvent, parse_notification
from zoho_pipelines.events.processing.batches import EventBatch, group_events
from zoho_pipelines.events.processing.refresh import RefreshError, refresh_batch
from zoho_pipelines.lake import open_lake
from zoho_pipelines.sandbox.server import RunningSandbox
from zoho_pipelines.warehouse import open_warehouse
from zoho_pipelines.warehouse.duckdb import DuckDBWarehouse
from zoho_pipelines.zoho.client import ZohoClient

LEADS = default_catalog().get("crm", "Leads")


@pytest.fixture
def warehouse(tmp_path: Path) -> DuckDBWarehouse:
    opened = open_warehouse(f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    assert isinstance(opened, DuckDBWarehouse)
    yield opened
    opened.close()


def batch_of(operation: str, ids: list[str], *, at: datetime | None = None) -> EventBatch:
    moment = at or datetime.now(UTC)
    payload = {
        "server_time": int(moment.timestamp() * 1000),
        "module": "Leads",
        "ids": ids,
        "operation": operation,
        "channel_id": "42",
    }
    events: list[ZohoEvent] = parse_notification(payload, received_at=moment)
    (batch,) = group_events(events, target="refresh")
    return batch


def rows(warehouse: DuckDBWarehouse, ids: list[str]) -> dict[str, tuple[Any, ...]]:
    found = warehouse.query(
        "SELECT id, _deleted, _modified_time, last_name, email "
        'FROM "zoho_crm"."leads" WHERE list_contains(?, id)',
        [ids],
    )
    return {row[0]: row[1:] for row in found}


def zoho_time(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def test_changed_records_arrive_as_zoho_holds_them_now(
    small_sandbox: RunningSandbox, zoho: ZohoClient, warehouse: DuckDBWarehouse
) -> None:
    assert small_sandbox.state is not None
    changed = small_sandbox.state.crm.mutate("Leads", edits=120, creates=15)
    ids = changed["edited"] + changed["created"]

    result = refresh_batch(zoho.crm, warehouse, LEADS, batch_of("update", ids))

    assert (result.requested, result.fetched, result.missing) == (135, 135, ())
    assert result.merge.inserted_rows == 135
    stored = rows(warehouse, ids)
    for record_id in ids:
        record = small_sandbox.state.crm.record("Leads", record_id)
        assert stored[record_id] == (
            False,
            zoho_time(record["Modified_Time"]),
            record["Last_Name"],
            record["Email"],
        )


def test_deletes_become_tombstones_without_a_call_and_win_over_older_values(
    small_sandbox: RunningSandbox, zoho: ZohoClient, warehouse: DuckDBWarehouse
) -> None:
    assert small_sandbox.state is not None
    ids = [str(record_id) for record_id in small_sandbox.state.crm.ids("Leads")[:4]]
    refresh_batch(zoho.crm, warehouse, LEADS, batch_of("update", ids))
    record_calls = small_sandbox.stats()["calls"].get("GET /crm/{version}/{module}", {})
    deleted_at = datetime.now(UTC).replace(microsecond=0)

    result = refresh_batch(zoho.crm, warehouse, LEADS, batch_of("delete", ids[:2], at=deleted_at))

    assert result.tombstones == 2
    assert small_sandbox.stats()["calls"].get("GET /crm/{version}/{module}", {}) == record_calls
    stored = rows(warehouse, ids)
    assert [stored[record_id][:2] for record_id in ids[:2]] == [(True, deleted_at)] * 2
    assert [stored[record_id][0] for record_id in ids[2:]] == [False, False]
    # The update that preceded the delete, processed late, cannot resurrect the records.
    refresh_batch(zoho.crm, warehouse, LEADS, batch_of("update", ids))
    assert [rows(warehouse, ids)[record_id][0] for record_id in ids[:2]] == [True, True]


def test_a_repeated_refresh_leaves_the_table_as_it_was(
    small_sandbox: RunningSandbox, zoho: ZohoClient, warehouse: DuckDBWarehouse
) -> None:
    assert small_sandbox.state is not None
    ids = small_sandbox.state.crm.mutate("Leads", edits=10)["edited"]
    batch = batch_of("update", ids)
    refresh_batch(zoho.crm, warehouse, LEADS, batch)
    snapshot = warehouse.query('SELECT * EXCLUDE (_synced_at) FROM "zoho_crm"."leads" ORDER BY id')

    refresh_batch(zoho.crm, warehouse, LEADS, batch)

    assert warehouse.query('SELECT * EXCLUDE (_synced_at) FROM "zoho_crm"."leads" ORDER BY id') == snapshot


def test_ids_zoho_no_longer_has_are_reported_missing(
    small_sandbox: RunningSandbox, zoho: ZohoClient, warehouse: DuckDBWarehouse
) -> None:
    assert small_sandbox.state is not None
    live = str(small_sandbox.state.crm.ids("Leads")[0])

    result = refresh_batch(zoho.crm, warehouse, LEADS, batch_of("update", [live, "5725867999999999999"]))

    assert (result.fetched, result.missing) == (1, ("5725867999999999999",))


def test_rows_can_travel_through_a_staging_lake(
    small_sandbox: RunningSandbox, zoho: ZohoClient, warehouse: DuckDBWarehouse, tmp_path: Path
) -> None:
    assert small_sandbox.state is not None
    ids = small_sandbox.state.crm.mutate("Leads", edits=5)["edited"]
    staging = open_lake((tmp_path / "staging").as_uri())

    result = refresh_batch(zoho.crm, warehouse, LEADS, batch_of("update", ids), staging=staging)

    assert result.merge.inserted_rows == 5
    assert len(rows(warehouse, ids)) == 5
    assert list((tmp_path / "staging").rglob("*.parquet"))


def test_other_apps_are_refused_with_the_reason(zoho: ZohoClient, warehouse: DuckDBWarehouse) -> None:
    invoices = default_catalog().get("books", "invoices")
    with pytest.raises(RefreshError, match="CRM only"):
        refresh_batch(zoho.crm, warehouse, invoices, batch_of("update", ["1"]))
