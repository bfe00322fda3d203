"""Every CRM fetch strategy the catalog may name gives the same exact partition, or is refused.

COQL and Bulk Read answer lookups without their names; a partition read that way would hold
empty `<lookup>_name` columns and, merged over a full read, blank the names in the table. So the
batch pipeline refuses them by name instead of writing worse data.
"""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from zoho_pipelines.catalog import FetchStrategy
from zoho_pipelines.lake import LocalLake, PartitionRef
from zoho_pipelines.pipeline import UnsupportedStrategyError, sync_partition
from zoho_pipelines.sandbox.server import RunningSandbox
from zoho_pipelines.schema import ModuleSchema
from zoho_pipelines_tests.pipeline.support import SandboxTruth, client_for, mismatches, spec_of

DAY = date(2026, 11, 19)
LEADS = spec_of("crm", "leads")


@pytest.mark.parametrize("fetch", [FetchStrategy.AUTO, FetchStrategy.PAGES, FetchStrategy.WINDOWS])
def test_each_supported_strategy_writes_the_exact_partition(
    sandbox: RunningSandbox, lake: LocalLake, fetch: FetchStrategy
) -> None:
    spec = dataclasses.replace(LEADS, fetch=fetch)
    with client_for(sandbox) as client:
        synced = sync_partition(client, lake, spec, DAY)
    truth = SandboxTruth(sandbox).day(spec, DAY)
    ref = PartitionRef("crm", "leads", DAY)
    rows = {row["id"]: row for row in lake.read_partition(ref).to_pylist() if not row["_deleted"]}
    assert synced.records_received == len(rows)
    assert set(rows) == set(truth.records)
    schema = ModuleSchema.from_arrow(lake.read_schema(ref))
    assert not [key for key, record in truth.records.items() if mismatches(schema, record, rows[key])]


@pytest.mark.parametrize("fetch", [FetchStrategy.COQL, FetchStrategy.BULK])
def test_strategies_that_drop_lookup_names_are_refused_and_write_nothing(
    sandbox: RunningSandbox, lake: LocalLake, fetch: FetchStrategy
) -> None:
    spec = dataclasses.replace(LEADS, fetch=fetch)
    with client_for(sandbox) as client, pytest.raises(UnsupportedStrategyError) as raised:
        sync_partition(client, lake, spec, DAY)
    message = str(raised.value)
    assert f"crm:leads: fetch={fetch.value}" in message
    assert "use auto, pages or windows" in message
    assert lake.list_partitions("crm", "leads") == []
