"""The same pipeline into a real PostgreSQL server gives the DuckDB result, row for row.

One lake, written once from a sandbox whose records were then edited and deleted, is loaded into
a DuckDB file and into a fresh PostgreSQL database, in a shuffled order and then again; the two
tables must be equal in every column (lists, decimals, UTC timestamps, JSON text, tombstones)
and equal to the sandbox's truth.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from zoho_pipelines.lake import LocalLake, PartitionRef
from zoho_pipelines.pipeline import load_partition, sync_partition
from zoho_pipelines.schema import ModuleSchema
from zoho_pipelines.warehouse import open_warehouse
from zoho_pipelines_tests.pipeline.support import SandboxTruth, client_for, mismatches, spec_of, table_rows

MODULES = (("crm", "deals"), ("crm", "leads"), ("books", "invoices"), ("projects", "tasks"))
HISTORY_DAYS = 3


def test_postgresql_and_duckdb_hold_the_same_exact_tables(
    sandbox_factory, lake: LocalLake, tmp_path: Path, postgres_url: str
) -> None:
    sandbox = sandbox_factory(records_per_module=2_000, history_days=HISTORY_DAYS)
    assert sandbox.state is not None
    anchor = sandbox.config.anchor
    assert anchor is not None
    first = (anchor - timedelta(days=HISTORY_DAYS)).date()
    days = [first + timedelta(days=offset) for offset in range((anchor.date() - first).days + 1)]
    specs = [spec_of(app, module) for app, module in MODULES]
    with client_for(sandbox) as client:
        for spec in specs:
            for day in days:
                sync_partition(client, lake, spec, day)
        changed = sandbox.state.crm.mutate("Deals", creates=20, edits=200, deletes=100)
        modified = sandbox.state.crm.record("Deals", changed["edited"][0])["Modified_Time"]
        today = datetime.fromisoformat(modified).astimezone(UTC).date()
        sync_partition(client, lake, specs[0], today)

    loads: list[tuple[int, date]] = [(0, today)] + [
        (index, day) for index in range(len(specs)) for day in days
    ]
    order = random.Random(11).sample(loads, len(loads))
    tables = {}
    for name, url in (("duckdb", f"duckdb://{tmp_path / 'warehouse.duckdb'}"), ("postgresql", postgres_url)):
        with open_warehouse(url) as warehouse:
            for index, day in order + order:
                load_partition(warehouse, lake, specs[index], day)
            tables[name] = {spec.selector: table_rows(warehouse, spec) for spec in specs}

    for spec in specs:
        duck, postgres = tables["duckdb"][spec.selector], tables["postgresql"][spec.selector]
        assert len(duck) > 100
        assert postgres == duck, f"{spec.selector}: PostgreSQL and DuckDB differ"

    deals = tables["postgresql"]["crm:deals"]
    live = {key: row for key, row in deals.items() if not row["_deleted"]}
    assert set(live) == {str(record_id) for record_id in sandbox.state.crm.ids("Deals")}
    assert set(changed["deleted"]) <= {key for key, row in deals.items() if row["_deleted"]}
    schema = ModuleSchema.from_arrow(lake.read_schema(PartitionRef("crm", "deals", today)))
    records = SandboxTruth(sandbox).crm_records("Deals", live)
    assert not [key for key, row in live.items() if mismatches(schema, records[key], row)]
