"""Faults on the way from Zoho to the lake: each run ends exact, or fails leaving the old state.

Transient faults (5xx, 429, dropped connections) must be retried into an exact partition. A
failure the client cannot ride out (every call failing from some page on) or a killed process
must leave the previous partition file as it was, with no partial file a reader could pick up, and
the next run must complete. A value that breaks its field's type is not a fault: it lands as sent.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, date, datetime

import duckdb
import pytest

from zoho_pipelines.catalog import FetchStrategy
from zoho_pipelines.lake import LocalLake, PartitionRef
from zoho_pipelines.pipeline import sync_partition
from zoho_pipelines.sandbox.server import RunningSandbox
from zoho_pipelines.schema import ModuleSchema
from zoho_pipelines.warehouse import SqlWarehouse
from zoho_pipelines.zoho import RetryPolicy, ZohoServerError
from zoho_pipelines_tests.pipeline.support import (
    SandboxTruth,
    client_for,
    day_rows,
    leftovers,
    mismatches,
    partition_path,
    spec_of,
    sync_and_load,
)

DEALS = spec_of("crm", "deals")
LEADS = spec_of("crm", "leads")
# Sequential pages, so that "after some pages" is well defined.
PAGED_DEALS = dataclasses.replace(DEALS, fetch=FetchStrategy.PAGES)
DAY = date(2026, 11, 26)
GIVE_UP_FAST = RetryPolicy(max_attempts=3, initial_backoff_s=0.01, max_backoff_s=0.02)
DEADLINE_S = 30.0


def test_transient_faults_are_ridden_out_into_an_exact_partition(
    sandbox_factory, lake: LocalLake, duckdb_warehouse: SqlWarehouse
) -> None:
    sandbox = sandbox_factory(
        records_per_module=3_000,
        history_days=3,
        fault_rate=0.08,
        rate_limit_rate=0.08,
        drop_rate=0.04,
        retry_after_s=0.02,
    )
    truth = SandboxTruth(sandbox)
    with client_for(sandbox) as client:
        for spec in (DEALS, LEADS):
            sync_and_load(client, lake, duckdb_warehouse, spec, DAY)
        retries = client.stats.snapshot()["retries"]
    events = sandbox.stats()["events"]
    assert retries > 0
    assert events["injected_server_errors"]
    assert events["injected_rate_limits"]
    assert events["injected_drops"]
    for spec in (DEALS, LEADS):
        expected = truth.day(spec, DAY)
        assert len(expected.records) > 800, "the day must span several pages"
        rows = day_rows(duckdb_warehouse, spec, DAY, deleted=False)
        assert set(rows) == set(expected.records)
        assert set(day_rows(duckdb_warehouse, spec, DAY, deleted=True)) == expected.deleted
        schema = _schema(lake, spec.module)
        problems = {
            key: issues
            for key, record in expected.records.items()
            if (issues := mismatches(schema, record, rows[key]))
        }
        assert not problems, (spec.module, problems)


def _schema(lake: LocalLake, module: str) -> ModuleSchema:
    return ModuleSchema.from_arrow(lake.read_schema(PartitionRef("crm", module, DAY)))


def _fail_every_call_after(sandbox: RunningSandbox, calls: int) -> threading.Event:
    """Turn fault_rate to 1.0 once `calls` more API calls have been answered; returns `tripped`."""
    state = sandbox.state
    assert state is not None
    target = state.stats.snapshot()["total_calls"] + calls
    tripped = threading.Event()

    def watch() -> None:
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            if state.stats.snapshot()["total_calls"] >= target:
                state.set_faults(fault_rate=1.0)
                tripped.set()
                return
            tripped.wait(0.001)

    threading.Thread(target=watch, daemon=True).start()
    return tripped


def test_a_run_failing_mid_partition_leaves_the_previous_file_and_the_rerun_completes(
    sandbox_factory, lake: LocalLake
) -> None:
    sandbox = sandbox_factory(records_per_module=4_000, history_days=2, latency_ms=15)
    assert sandbox.state is not None
    expected = SandboxTruth(sandbox).day(DEALS, DAY)
    assert len(expected.records) > 1_000, "the day must span many pages"
    with client_for(sandbox, retry_policy=GIVE_UP_FAST) as client:
        sync_partition(client, lake, PAGED_DEALS, DAY)
        previous = partition_path(lake, DEALS, DAY).read_bytes()

        tripped = _fail_every_call_after(sandbox, calls=4)
        with pytest.raises(ZohoServerError):
            sync_partition(client, lake, PAGED_DEALS, DAY)
        assert tripped.is_set()
        assert partition_path(lake, DEALS, DAY).read_bytes() == previous
        assert leftovers(lake, DEALS, DAY) == []

        sandbox.state.set_faults(fault_rate=0.0)
        rerun = sync_partition(client, lake, PAGED_DEALS, DAY)
    assert rerun.records_received == len(expected.records)
    ids = lake.read_partition(PartitionRef("crm", "deals", DAY), columns=["id"]).column("id").to_pylist()
    assert sorted(ids) == sorted([*expected.records, *expected.deleted])
    assert leftovers(lake, DEALS, DAY) == []


def _rows_by_id(lake: LocalLake, day: date) -> dict[str, dict]:
    return {row["id"]: row for row in lake.read_partition(PartitionRef("crm", "deals", day)).to_pylist()}


def test_a_mistyped_value_lands_unaltered_and_is_counted_rather_than_failing_the_run(
    sandbox_factory, lake: LocalLake
) -> None:
    """The never-fail rule (issue 10): Zoho data that breaks its own field type is kept, not fatal."""
    sandbox = sandbox_factory(records_per_module=2_000, history_days=3)
    assert sandbox.state is not None
    crm = sandbox.state.crm
    edited = crm.mutate("Deals", edits=50)["edited"]
    today = datetime.fromisoformat(crm.record("Deals", edited[0])["Modified_Time"]).astimezone(UTC).date()
    with client_for(sandbox) as client:
        # The sandbox's store takes the value as is (the API would validate it): Zoho data
        # that breaks its own field type, as a formula or an integration can produce.
        victim = crm.index_of("Deals", int(edited[0]))
        assert victim is not None
        crm.update("Deals", victim, {"Contract_Length_Months__c": "about twelve"})
        synced = sync_partition(client, lake, DEALS, today)
        assert synced.unfitted == {"Contract_Length_Months__c": 1}
        assert synced.unfitted_samples == {"Contract_Length_Months__c": [edited[0]]}
        assert leftovers(lake, DEALS, today) == []
        written = {
            row["id"]: row for row in lake.read_partition(PartitionRef("crm", "deals", today)).to_pylist()
        }
        assert written[edited[0]]["contract_length_months__c"] is None
        assert json.loads(written[edited[0]]["_unfitted"]) == {"Contract_Length_Months__c": "about twelve"}
        assert synced.records_received == len(SandboxTruth(sandbox).day(DEALS, today).records)

        crm.update("Deals", victim, {"Contract_Length_Months__c": 12})
        rerun = sync_partition(client, lake, DEALS, today)
    written = _rows_by_id(lake, today)
    assert rerun.unfitted == {}
    assert (written[edited[0]]["contract_length_months__c"], written[edited[0]]["_unfitted"]) == (12, None)


_SYNC_IN_CHILD = textwrap.dedent(
    """
    import dataclasses, sys
    from datetime import date
    from zoho_pipelines.catalog import FetchStrategy, default_catalog
    from zoho_pipelines.lake import open_lake
    from zoho_pipelines.pipeline import sync_partition
    from zoho_pipelines.settings import load_settings
    from zoho_pipelines.zoho import ZohoClient

    spec = dataclasses.replace(default_catalog().get("crm", "deals"), fetch=FetchStrategy.PAGES)
    with ZohoClient.from_settings(load_settings()) as client:
        sync_partition(client, open_lake(sys.argv[1]), spec, date.fromisoformat(sys.argv[2]))
    """
)


def test_a_killed_sync_leaves_only_a_hidden_temp_file_and_the_old_partition(
    sandbox_factory, lake: LocalLake
) -> None:
    sandbox = sandbox_factory(records_per_module=4_000, history_days=2, latency_ms=40)
    with client_for(sandbox) as client:
        sync_partition(client, lake, PAGED_DEALS, DAY)
    final = partition_path(lake, DEALS, DAY)
    previous = final.read_bytes()

    env = {**os.environ, **sandbox.env()}
    child = subprocess.Popen(
        [sys.executable, "-c", _SYNC_IN_CHILD, str(lake.root), DAY.isoformat()],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + DEADLINE_S
        while not leftovers(lake, DEALS, DAY):
            assert child.poll() is None, child.stderr.read().decode() if child.stderr else ""
            assert time.monotonic() < deadline, "the child never started writing"
            time.sleep(0.005)  # polling the file system for the child's temp file, not synchronising
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=DEADLINE_S)

    assert final.read_bytes() == previous
    (temporary,) = leftovers(lake, DEALS, DAY)
    assert temporary.startswith(".")
    assert not temporary.endswith(".parquet")
    assert lake.list_partitions("crm", "deals") == [DAY]
    # A reader globbing the lake (DuckDB, Athena) sees exactly the old file.
    pattern = str(lake.root / "zoho/crm/deals/*/*.parquet")
    with duckdb.connect() as reader:
        count = reader.execute("SELECT count(*) FROM read_parquet(?)", [pattern]).fetchone()
    assert count == (lake.read_partition(PartitionRef("crm", "deals", DAY)).num_rows,)

    with client_for(sandbox) as client:
        rerun = sync_partition(client, lake, PAGED_DEALS, DAY)
    assert rerun.records_received == len(SandboxTruth(sandbox).day(DEALS, DAY).records)
