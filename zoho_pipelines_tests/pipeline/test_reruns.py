"""Reruns, back-fills in any order, and tombstones, through the real pipeline on a changing sandbox.

The sandbox's history is synced into the lake, then records are edited and deleted (sandbox
`mutate`, stamped now) and today's partition is synced. The lake then holds two versions of the
edited records (the old day's and today's) and tombstones for the deleted ones, so the order in
which partitions reach the warehouse matters unless the merge is right.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from zoho_pipelines.clock import OffsetClock
from zoho_pipelines.lake import LocalLake, PartitionRef
from zoho_pipelines.pipeline import day_window, load_partition, sync_partition
from zoho_pipelines.sandbox.server import RunningSandbox
from zoho_pipelines.schema import SYNCED_AT, ModuleSchema
from zoho_pipelines.warehouse import open_warehouse
from zoho_pipelines_tests.conftest import SANDBOX_ANCHOR
from zoho_pipelines_tests.pipeline.support import (
    SandboxTruth,
    client_for,
    mismatches,
    snapshot,
    spec_of,
    sync_and_load,
    table_rows,
)

DEALS = spec_of("crm", "deals")
HISTORY_DAYS = 4
RECORDS = 2_000


def history_days(sandbox: RunningSandbox) -> list[date]:
    """Every UTC day the sandbox generated records on."""
    anchor = sandbox.config.anchor
    assert anchor is not None
    first = (anchor - timedelta(days=HISTORY_DAYS)).date()
    return [first + timedelta(days=offset) for offset in range((anchor.date() - first).days + 1)]


def start_after_history(sandbox_factory) -> RunningSandbox:
    """A sandbox whose clock reads the day after its history ends: mutations get a day of their own."""
    clock = OffsetClock.starting_at(SANDBOX_ANCHOR + timedelta(days=1))
    return sandbox_factory(records_per_module=RECORDS, history_days=HISTORY_DAYS, clock=clock)


def mutation_day(sandbox: RunningSandbox, ids: list[str]) -> date:
    """The UTC day the sandbox stamped a mutation with (read from the record, not the clock)."""
    assert sandbox.state is not None
    modified = sandbox.state.crm.record("Deals", ids[0])["Modified_Time"]
    return datetime.fromisoformat(modified).astimezone(UTC).date()


def test_partitions_loaded_in_any_order_or_twice_give_the_same_exact_table(
    sandbox_factory, tmp_path: Path
) -> None:
    sandbox = start_after_history(sandbox_factory)
    assert sandbox.state is not None
    lake = LocalLake(tmp_path / "lake")
    days = history_days(sandbox)
    with client_for(sandbox) as client:
        for day in days:
            sync_partition(client, lake, DEALS, day)
        changed = sandbox.state.crm.mutate("Deals", creates=40, edits=300, deletes=150)
        edited = set(changed["edited"])
        older_versions = [
            row
            for day in days
            for row in lake.read_partition(PartitionRef("crm", "deals", day)).to_pylist()
            if row["id"] in edited
        ]
        today = mutation_day(sandbox, changed["edited"])
        sync_partition(client, lake, DEALS, today)
        partitions = [*days, today]

        orders = {
            "in order": partitions,
            "reversed": partitions[::-1],
            "shuffled": random.Random(3).sample(partitions, len(partitions)),
            "twice": partitions + partitions,
        }
        snapshots = {}
        for name, order in orders.items():
            with open_warehouse(f"duckdb://{tmp_path / name.replace(' ', '_')}.duckdb") as warehouse:
                for day in order:
                    load_partition(warehouse, lake, DEALS, day)
                if name == "twice":
                    # A rerun re-syncs every partition (new _synced_at, edited records gone from
                    # their old day) and loads them all again on top.
                    for day in partitions:
                        sync_and_load(client, lake, warehouse, DEALS, day)
                snapshots[name] = snapshot(warehouse, DEALS)
                if name == "reversed":
                    reversed_rows = table_rows(warehouse, DEALS)

    expected = snapshots["in order"]
    for name, table in snapshots.items():
        assert table == expected, f"loading {name} gave a different table"

    # ... and the one table is Zoho's truth: every live record with its newest values, every
    # deleted one as a tombstone.
    crm = sandbox.state.crm
    live = {key: row for key, row in expected.items() if not row["_deleted"]}
    assert set(live) == {str(record_id) for record_id in crm.ids("Deals")}
    window = (day_window(days[0])[0], day_window(today)[1])
    assert {key for key, row in expected.items() if row["_deleted"]} == {
        str(record_id) for record_id in crm.deleted_ids("Deals", *window)
    }
    schema = ModuleSchema.from_arrow(lake.read_schema(PartitionRef("crm", "deals", today)))
    records = SandboxTruth(sandbox).crm_records("Deals", live)
    problems = {key: issues for key, row in live.items() if (issues := mismatches(schema, records[key], row))}
    assert not problems, dict(list(problems.items())[:3])

    # Reversed order loaded today's edits first and the older versions after: no regression.
    assert older_versions, "no edited record had an older version in the lake"
    for old in older_versions:
        final = reversed_rows[old["id"]]
        assert final["_modified_time"] > old["_modified_time"]
        assert final["_partition"] == today


def test_a_deleted_record_becomes_a_tombstone_that_keeps_its_newest_values(
    sandbox_factory, tmp_path: Path
) -> None:
    """The daily flow: history, then today's edits, then today's deletes (today re-synced)."""
    sandbox = start_after_history(sandbox_factory)
    assert sandbox.state is not None
    crm = sandbox.state.crm
    lake = LocalLake(tmp_path / "lake")
    with (
        client_for(sandbox) as client,
        open_warehouse(f"duckdb://{tmp_path / 'warehouse.duckdb'}") as warehouse,
    ):
        for day in history_days(sandbox):
            sync_and_load(client, lake, warehouse, DEALS, day)
        edited = crm.mutate("Deals", edits=600)["edited"]
        today = mutation_day(sandbox, edited)
        sync_and_load(client, lake, warehouse, DEALS, today)
        before = table_rows(warehouse, DEALS)
        deleted = crm.mutate("Deals", deletes=300)["deleted"]
        synced, _ = sync_and_load(client, lake, warehouse, DEALS, today)
        after = table_rows(warehouse, DEALS)

    assert synced.deletions_received == len(deleted)
    edited_then_deleted = set(edited) & set(deleted)
    assert edited_then_deleted, "the scenario needs records edited today and deleted after"
    schema = ModuleSchema.from_arrow(lake.read_schema(PartitionRef("crm", "deals", today)))
    data_columns = [column.name for column in schema.fields]
    for record_id in deleted:
        row, previous = after[record_id], before[record_id]
        assert row["_deleted"] is True
        assert row["_partition"] == today
        deleted_time = datetime.fromisoformat(_deleted_entry(crm, record_id)["deleted_time"])
        assert row["_modified_time"] == deleted_time
        assert previous["_deleted"] is False
        assert {name: row[name] for name in data_columns} == {name: previous[name] for name in data_columns}
    for record_id in edited_then_deleted:
        # The newest values are today's edit, which only the warehouse still holds.
        assert after[record_id]["_record_modified_time"] == before[record_id]["_modified_time"]
        assert after[record_id]["_record_modified_time"].date() == today
    # Everything else is as it was (today's re-synced edits only got a new _synced_at).
    unchanged = {key: row for key, row in before.items() if key not in set(deleted)}
    assert {key: _without_synced_at(after[key]) for key in unchanged} == {
        key: _without_synced_at(row) for key, row in unchanged.items()
    }


def _without_synced_at(row: dict) -> dict:
    return {column: value for column, value in row.items() if column != SYNCED_AT}


def _deleted_entry(crm, record_id: str) -> dict:
    index = crm.index_of("Deals", int(record_id))
    assert index is not None
    return crm.deleted_entry("Deals", index)


@pytest.mark.parametrize("order", ["tombstone first", "tombstone last"])
def test_tombstone_and_older_live_row_in_either_order(sandbox_factory, tmp_path: Path, order: str) -> None:
    """A back-fill may bring a record's old live version after its deletion: still deleted."""
    sandbox = start_after_history(sandbox_factory)
    assert sandbox.state is not None
    lake = LocalLake(tmp_path / "lake")
    days = history_days(sandbox)
    with (
        client_for(sandbox) as client,
        open_warehouse(f"duckdb://{tmp_path / 'warehouse.duckdb'}") as warehouse,
    ):
        for day in days:
            sync_partition(client, lake, DEALS, day)
        deleted = sandbox.state.crm.mutate("Deals", deletes=200)["deleted"]
        today = mutation_day_of_deletion(sandbox, deleted)
        sync_partition(client, lake, DEALS, today)
        sequence = [today, *days] if order == "tombstone first" else [*days, today]
        for day in sequence:
            load_partition(warehouse, lake, DEALS, day)
        rows = table_rows(warehouse, DEALS)
    truth = SandboxTruth(sandbox)
    old_live = {
        row["id"]: row
        for day in days
        for row in lake.read_partition(PartitionRef("crm", "deals", day)).to_pylist()
        if row["id"] in set(deleted)
    }
    assert old_live, "some deleted records must have an older live version in the lake"
    for record_id, old in old_live.items():
        row = rows[record_id]
        assert row["_deleted"] is True
        assert row["_partition"] == today
        assert row["stage"] == old["stage"]
        assert row["amount"] == old["amount"]
    assert set(deleted) <= set(truth.day(DEALS, today).deleted)


def mutation_day_of_deletion(sandbox: RunningSandbox, ids: list[str]) -> date:
    assert sandbox.state is not None
    entry = _deleted_entry(sandbox.state.crm, ids[0])
    return datetime.fromisoformat(entry["deleted_time"]).astimezone(UTC).date()
