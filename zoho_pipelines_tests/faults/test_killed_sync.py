"""A sync killed with SIGKILL mid-partition, then rerun: no duplicate, no partial file, no leftover.

The sync runs in a child process (as a Dagster run would), against the in-process sandbox, whose
call counter says how far the child got; it is killed after a chosen number of API calls: while
paging with `page`, after the switch to `page_token`, or in the middle of the concurrent
sub-windows `auto` fans out to. Nothing a reader can see may change: the previous partition (if
any) stays byte for byte, no partition appears where there was none. The rerun must then write
exactly the day, remove the killed writer's temp file, and load into a warehouse without a
duplicate, even when the load itself is repeated.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import date
from pathlib import Path

import pytest

from zoho_pipelines.catalog import FetchStrategy
from zoho_pipelines.lake import LocalLake, PartitionRef
from zoho_pipelines.pipeline import load_partition, sync_partition
from zoho_pipelines.sandbox.server import RunningSandbox
from zoho_pipelines.warehouse import TableRef, open_warehouse
from zoho_pipelines_tests.faults.conftest import LeakWatch
from zoho_pipelines_tests.pipeline.support import SandboxTruth, client_for, leftovers, partition_path, spec_of

DAY = date(2026, 11, 26)
DEADLINE_S = 30.0

_SYNC_IN_CHILD = textwrap.dedent(
    """
    import dataclasses, logging, sys
    from datetime import date
    from zoho_pipelines.catalog import FetchStrategy, default_catalog
    from zoho_pipelines.lake import open_lake
    from zoho_pipelines.pipeline import sync_partition
    from zoho_pipelines.settings import load_settings
    from zoho_pipelines.zoho import ZohoClient

    logging.basicConfig(level=logging.DEBUG)  # everything it says is searched for secrets
    lake_root, day, strategy = sys.argv[1], date.fromisoformat(sys.argv[2]), FetchStrategy(sys.argv[3])
    spec = dataclasses.replace(default_catalog().get("crm", "deals"), fetch=strategy)
    with ZohoClient.from_settings(load_settings()) as client:
        sync_partition(client, open_lake(lake_root), spec, day)
    """
)


def _calls(sandbox: RunningSandbox) -> int:
    assert sandbox.state is not None
    return int(sandbox.state.stats.snapshot()["total_calls"])


def kill_sync_after(sandbox: RunningSandbox, lake: LocalLake, strategy: FetchStrategy, calls: int) -> Path:
    """Start the sync in a child, SIGKILL it once the sandbox has answered `calls` more calls."""
    log = lake.root.parent / f"child-{strategy.value}-{calls}.log"
    target = _calls(sandbox) + calls
    with log.open("w") as stderr:
        child = subprocess.Popen(
            [sys.executable, "-c", _SYNC_IN_CHILD, str(lake.root), DAY.isoformat(), strategy.value],
            env={**os.environ, **sandbox.env()},
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        try:
            deadline = time.monotonic() + DEADLINE_S
            while _calls(sandbox) < target:
                assert child.poll() is None, f"the child ended before {calls} calls:\n{log.read_text()}"
                assert time.monotonic() < deadline, "the child never made its calls"
                time.sleep(0.002)  # polling the sandbox's call counter, not synchronising
            child.send_signal(signal.SIGKILL)
        finally:
            child.wait(timeout=DEADLINE_S)
    assert child.returncode == -signal.SIGKILL, "the child finished before it could be killed"
    return log


@pytest.mark.parametrize(
    ("strategy", "calls", "previous"),
    [
        pytest.param(FetchStrategy.PAGES, 4, False, id="pages-first-run"),
        pytest.param(FetchStrategy.PAGES, 14, True, id="page-token-over-a-previous-run"),
        # fields, probe page, lookup metadata (3), then users and COQL sub-windows in flight
        pytest.param(FetchStrategy.AUTO, 9, True, id="auto-fan-out-over-a-previous-run"),
    ],
)
def test_a_killed_sync_is_invisible_and_its_rerun_is_exact(
    sandbox_factory, tmp_path, leak_watch: LeakWatch, strategy: FetchStrategy, calls: int, previous: bool
) -> None:
    sandbox = leak_watch.watch_sandbox(
        sandbox_factory(records_per_module=14_000, history_days=2, latency_ms=20)
    )
    spec = spec_of("crm", "deals")
    expected = SandboxTruth(sandbox).day(spec, DAY)
    assert len(expected.records) > 2_000, "the day must reach past `page` into page_token"
    lake = LocalLake(tmp_path / "lake")
    final = partition_path(lake, spec, DAY)
    before = None
    if previous:
        with client_for(sandbox) as client:
            sync_partition(client, lake, spec, DAY)
        before = final.read_bytes()

    kill_sync_after(sandbox, lake, strategy, calls)

    # What a reader sees is exactly what it saw before the run.
    if before is None:
        assert not final.exists()
        assert lake.list_partitions("crm", "deals") == []
    else:
        assert final.read_bytes() == before
    (temporary,) = leftovers(lake, spec, DAY)
    assert temporary.startswith(".")
    assert temporary.endswith(".tmp")

    with (
        client_for(sandbox) as client,
        open_warehouse(f"duckdb://{tmp_path / 'warehouse.duckdb'}") as warehouse,
    ):
        rerun = sync_partition(client, lake, spec, DAY)
        assert leftovers(lake, spec, DAY) == [], "the rerun removes the killed writer's temp file"
        for _ in range(2):  # loading twice, as a retried run would, adds nothing
            load_partition(warehouse, lake, spec, DAY)
        table = TableRef.for_module("crm", "deals")
        ((total, distinct),) = warehouse.query(f"SELECT count(*), count(DISTINCT id) FROM {table.sql}")  # noqa: S608
    ids = lake.read_partition(PartitionRef("crm", "deals", DAY), columns=["id"]).column("id").to_pylist()
    assert rerun.records_received == len(expected.records)
    assert len(ids) == len(set(ids))
    assert set(ids) == set(expected.records) | expected.deleted
    assert total == distinct == len(ids)
