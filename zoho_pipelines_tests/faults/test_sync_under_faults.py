"""Every fault at once, through `sync_partition` + `load_partition`: the tables still equal Zoho.

The sandbox answers 10% of calls with a 5xx, 5% with a 429, drops 5% of connections without a
response, revokes every access token several times a second, and lets no page_token live long
enough to be used (so every read past 2,000 records hits EXPIRED_VALUE and must resume from
its cursor). Each module is read another way: Deals page by page (page, then page_token),
Contacts as concurrent page windows, Leads the way the pipeline picks by itself (a probe, then
concurrent COQL sub-windows with lookup names; more than 50 fields, so a second COQL query per
page). The warehouse rows must equal the sandbox's ground truth value for value.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import pytest

from zoho_pipelines.catalog import FetchStrategy
from zoho_pipelines.lake import LocalLake, PartitionRef
from zoho_pipelines.pipeline import load_partition, sync_partition
from zoho_pipelines.sandbox.server import RunningSandbox
from zoho_pipelines.schema import ModuleSchema
from zoho_pipelines.warehouse import open_warehouse
from zoho_pipelines.zoho import RetryPolicy
from zoho_pipelines_tests.faults.conftest import LeakWatch
from zoho_pipelines_tests.pipeline.support import SandboxTruth, client_for, day_rows, mismatches, spec_of

DAY = date(2026, 11, 26)
PAGED_DEALS = dataclasses.replace(spec_of("crm", "deals"), fetch=FetchStrategy.PAGES)
AUTO_LEADS = dataclasses.replace(spec_of("crm", "leads"), fetch=FetchStrategy.AUTO)
WINDOWED_CONTACTS = dataclasses.replace(spec_of("crm", "contacts"), fetch=FetchStrategy.WINDOWS)
SPECS = (PAGED_DEALS, WINDOWED_CONTACTS, AUTO_LEADS)
FAULTS = {
    "fault_rate": 0.10,
    "rate_limit_rate": 0.05,
    "drop_rate": 0.05,
    "retry_after_s": 0.02,
    "page_token_ttl_s": 0,
    "latency_ms": 3,
    # Faults are drawn per call in arrival order from this seed: calls 2, 17 and 21 draw a drop,
    # a 429 and a 5xx, so any sync of 21 calls or more meets each kind (the rates do the rest).
    "fault_seed": 0,
}
CALLS_TO_MEET_EVERY_FAULT = 21
# Enough attempts that 20% failing calls never exhaust them (0.2 ** 10 per call), short waits.
PATIENT = RetryPolicy(max_attempts=10, initial_backoff_s=0.005, max_backoff_s=0.05, max_retry_after_s=1)
REVOKE_EVERY_S = 0.15


@contextmanager
def revoking_tokens(sandbox: RunningSandbox, every_s: float) -> Iterator[threading.Event]:
    """Revoke access tokens on a fixed schedule until the block ends.

    Each tick revokes the tokens that have been authenticating calls for at least a period, so
    every token dies mid-run, yet none dies before the client could use it. (Counting the period
    from the mint instead failed this test under load, not the client: with the sandbox, its
    revoker and ten client threads in one interpreter on two busy cores, or under the year-ahead
    pass's LD_PRELOAD'ed libfaketime, a mint's answer took 150-200 ms to reach the client, so a
    token minted just before a tick was dead before its first call, and a call whose refreshed
    token was dead too failed with a second 401. The transport refreshes once per call, as it
    should against Zoho, whose tokens live an hour.)
    """
    assert sandbox.state is not None
    tokens, stop = sandbox.state.tokens, threading.Event()

    def revoke() -> None:
        while not stop.wait(every_s):
            tokens.expire(tokens.in_use_for(every_s))

    thread = threading.Thread(target=revoke, name="token-revoker", daemon=True)
    thread.start()
    try:
        yield stop
    finally:
        stop.set()
        thread.join()


def test_synced_tables_equal_the_ground_truth_under_every_fault(
    sandbox_factory, tmp_path, leak_watch: LeakWatch, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox = leak_watch.watch_sandbox(sandbox_factory(records_per_module=9_000, history_days=3, **FAULTS))
    truth = SandboxTruth(sandbox)
    lake = LocalLake(tmp_path / "lake")
    caplog.set_level(logging.INFO, logger="zoho_pipelines.zoho.crm")
    with (
        open_warehouse(f"duckdb://{tmp_path / 'warehouse.duckdb'}") as warehouse,
        client_for(sandbox, retry_policy=PATIENT) as client,
        revoking_tokens(sandbox, REVOKE_EVERY_S),
    ):
        for spec in SPECS:
            sync_partition(client, lake, spec, DAY)
            load_partition(warehouse, lake, spec, DAY)
        client_stats = client.stats.snapshot()

        for spec in SPECS:
            expected = truth.day(spec, DAY)
            assert len(expected.records) > 2_000, "the day must reach past `page` into page_token"
            rows = day_rows(warehouse, spec, DAY, deleted=False)
            assert sorted(rows) == sorted(expected.records)
            assert set(day_rows(warehouse, spec, DAY, deleted=True)) == expected.deleted
            schema = ModuleSchema.from_arrow(lake.read_schema(PartitionRef("crm", spec.module, DAY)))
            problems = {
                key: issues
                for key, record in expected.records.items()
                if (issues := mismatches(schema, record, rows[key]))
            }
            assert not problems, (spec.module, dict(list(problems.items())[:3]))

    # Every fault really happened, so the equality above proves the client rode them out.
    stats = sandbox.stats()
    assert stats["total_calls"] >= CALLS_TO_MEET_EVERY_FAULT
    events = stats["events"]
    assert events["injected_server_errors"] > 0
    assert events["injected_rate_limits"] > 0
    assert events["injected_drops"] > 0
    assert client_stats["token_refreshes"] > 1, "tokens were revoked mid-sync and refreshed"
    assert client_stats["retries"] > 0
    restarts = [record.getMessage() for record in caplog.records if "restarting" in record.getMessage()]
    assert any("EXPIRED_VALUE" in message for message in restarts), "expired page tokens were resumed"
