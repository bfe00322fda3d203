"""Zoho -> lake -> DuckDB for several apps, modules and days, checked against the sandbox's truth.

One shared, unmutated sandbox (2,000 records a CRM module over 30 days, fixed anchor) is synced
once per module and day into a real lake folder and a real DuckDB file; each test then compares
the warehouse with what the sandbox holds: the live ids of every day, the tombstones, and every
column of every row.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from zoho_pipelines.catalog import ModuleSpec
from zoho_pipelines.lake import LocalLake, PartitionRef
from zoho_pipelines.pipeline import PartitionSync
from zoho_pipelines.sandbox.server import RunningSandbox
from zoho_pipelines.schema import ModuleSchema
from zoho_pipelines.warehouse import MergeResult, SqlWarehouse, open_warehouse
from zoho_pipelines.zoho.crm_fields import MAX_FIELDS_PER_CALL
from zoho_pipelines_tests.pipeline.support import (
    SandboxTruth,
    client_for,
    day_rows,
    mismatches,
    spec_of,
    sync_and_load,
)

# An early day, a mid-history day and the anchor's own (half-filled) day.
DAYS = (date(2026, 11, 3), date(2026, 11, 16), date(2026, 11, 27))
MODULES = (
    ("crm", "deals"),
    ("crm", "leads"),
    ("crm", "contacts"),
    ("crm", "accounts"),
    ("books", "invoices"),
    ("books", "contacts"),
    ("projects", "projects"),
    ("projects", "tasks"),
)


@dataclass
class Loaded:
    lake: LocalLake
    warehouse: SqlWarehouse
    truth: SandboxTruth
    runs: dict[tuple[ModuleSpec, date], tuple[PartitionSync, MergeResult]]

    def schema(self, spec: ModuleSpec) -> ModuleSchema:
        return ModuleSchema.from_arrow(self.lake.read_schema(PartitionRef(spec.app, spec.module, DAYS[-1])))


@pytest.fixture(scope="module")
def loaded(sandbox: RunningSandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    root: Path = tmp_path_factory.mktemp("exactness")
    lake = LocalLake(root / "lake")
    with open_warehouse(f"duckdb://{root / 'warehouse.duckdb'}") as warehouse, client_for(sandbox) as client:
        runs = {
            (spec, day): sync_and_load(client, lake, warehouse, spec, day)
            for spec in (spec_of(app, module) for app, module in MODULES)
            for day in DAYS
        }
        yield Loaded(lake, warehouse, SandboxTruth(sandbox), runs)


@pytest.mark.parametrize(("app", "module"), MODULES)
def test_each_days_live_ids_and_tombstones_equal_the_truth(loaded: Loaded, app: str, module: str) -> None:
    spec = spec_of(app, module)
    for day in DAYS:
        truth = loaded.truth.day(spec, day)
        synced, merged = loaded.runs[(spec, day)]
        assert truth.records, f"{spec.selector} {day}: the sandbox has no records that day"
        assert set(day_rows(loaded.warehouse, spec, day, deleted=False)) == set(truth.records)
        assert set(day_rows(loaded.warehouse, spec, day, deleted=True)) == truth.deleted
        assert synced.records_received == len(truth.records)
        assert synced.deletions_received == len(truth.deleted)
        assert synced.written.rows == merged.staged_rows == len(truth.records) + len(truth.deleted)
    assert any(loaded.truth.day(spec, day).deleted for day in DAYS) == (app == "crm")


@pytest.mark.parametrize(("app", "module"), MODULES)
def test_every_column_of_every_live_row_equals_the_record(loaded: Loaded, app: str, module: str) -> None:
    spec = spec_of(app, module)
    schema = loaded.schema(spec)
    for day in DAYS:
        truth = loaded.truth.day(spec, day)
        rows = day_rows(loaded.warehouse, spec, day, deleted=False)
        problems = {
            record_id: issues
            for record_id, record in truth.records.items()
            if (issues := mismatches(schema, record, rows[record_id]))
        }
        assert not problems, f"{spec.selector} {day}: {dict(list(problems.items())[:3])}"


def test_records_deleted_before_any_sync_are_bare_tombstones(loaded: Loaded) -> None:
    spec = spec_of("crm", "deals")
    schema = loaded.schema(spec)
    tombstones = day_rows(loaded.warehouse, spec, DAYS[1], deleted=True)
    assert tombstones
    for row in tombstones.values():
        assert row["_partition"] == DAYS[1] == row["_modified_time"].date()
        assert all(row[column.name] is None for column in schema.fields)


def test_the_hard_values_are_really_exercised(loaded: Loaded) -> None:
    """The row comparison above only proves something if the data holds the tricky cases."""
    spec = spec_of("crm", "leads")
    schema = loaded.schema(spec)
    assert len(schema.fields) > MAX_FIELDS_PER_CALL, "Leads must need two field groups"
    rows = {
        record_id: row
        for day in DAYS
        for record_id, row in day_rows(loaded.warehouse, spec, day, deleted=False).items()
    }
    records = {key: value for day in DAYS for key, value in loaded.truth.day(spec, day).records.items()}
    # A field of the second field group (fetched by id after the first page) arrives.
    second_group = [column.name for column in schema.fields][MAX_FIELDS_PER_CALL:]
    assert any(row[name] is not None for row in rows.values() for name in second_group)
    texts = [value for row in rows.values() for value in row.values() if isinstance(value, str)]
    assert any("\n" in text for text in texts)
    assert any(any(ord(char) > 0xFFFF for char in text) for text in texts), "no emoji"
    assert any(row["interest_areas__c"] for row in rows.values())
    assert any(row["discount_rate__c"] is not None for row in rows.values())
    assert all(row["owner_id"] and row["owner_name"] for row in rows.values())
    offsets = {records[key]["Created_Time"][-6:] for key in rows}
    assert offsets == {"+05:30"}, "the sandbox renders CRM datetimes in the org's zone"


def test_one_lead_row_read_by_hand(loaded: Loaded) -> None:
    """One concrete row, spelled out, for a reader who wants to see the contract at work."""
    spec = spec_of("crm", "leads")
    day = DAYS[1]
    record_id, record = next(
        (key, record)
        for key, record in sorted(loaded.truth.day(spec, day).records.items())
        if record["Discount_Rate__c"] is not None
        and record["Annual_Revenue"] is not None
        and record["Interest_Areas__c"]
    )
    row = day_rows(loaded.warehouse, spec, day, deleted=False)[record_id]
    assert row["owner_id"] == record["Owner"]["id"]
    assert row["owner_name"] == record["Owner"]["name"]
    assert row["interest_areas__c"] == record["Interest_Areas__c"]
    assert row["discount_rate__c"] == Decimal(str(record["Discount_Rate__c"])).quantize(Decimal("0.0001"))
    assert row["annual_revenue"] == Decimal(str(record["Annual_Revenue"])).quantize(Decimal("0.01"))
    created = record["Created_Time"]  # e.g. 2026-10-28T22:10:29+05:30
    assert row["created_time"].isoformat() == _to_utc_text(created)
    assert row["_partition"] == day


def test_books_and_projects_nested_values_are_json(loaded: Loaded) -> None:
    tasks = spec_of("projects", "tasks")
    truth = loaded.truth.day(tasks, DAYS[1]).records
    rows = day_rows(loaded.warehouse, tasks, DAYS[1], deleted=False)
    for record_id, row in rows.items():
        assert json.loads(row["status"]) == truth[record_id]["status"]
        assert json.loads(row["project"])["id"] == truth[record_id]["project"]["id"]


def _to_utc_text(zoho_datetime: str) -> str:
    """Hand arithmetic for +05:30: subtract five and a half hours."""
    local = datetime.strptime(zoho_datetime[:19], "%Y-%m-%dT%H:%M:%S")
    return (local - timedelta(hours=5, minutes=30)).isoformat() + "+00:00"
