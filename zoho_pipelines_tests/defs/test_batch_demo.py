"""`zoho-pipelines demo` end to end: its own sandbox process, real Dagster runs, DuckDB, a summary.

The demo is the README's first command, so it is run here as a user gets it: a fresh working
directory, ZOHO_PIPELINES_HOME pointing there, nothing else configured. Two modules (ZOHO_MODULES)
keep it quick; every default module is synced the same way by the other tests.
"""

from __future__ import annotations

import io
import os
import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest
from rich.console import Console

from zoho_pipelines.demo import DEMO_DAYS, demo_days, run_demo
from zoho_pipelines.lake import LocalLake
from zoho_pipelines.sandbox.server import SandboxConfig
from zoho_pipelines.warehouse import TableRef, open_warehouse

MODULES = ("deals", "leads")
RECORDS = 500
CODE_LOCATION = "zoho_pipelines.definitions"
SUMMARY_COLUMNS = (
    "count(*), count(*) FILTER (WHERE _deleted), count(DISTINCT id), min(_partition), max(_partition)"
)


@pytest.fixture
def fresh_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A working directory with nothing configured; the demo's own environment is undone after."""
    saved = dict(os.environ)
    for name in list(os.environ):
        if name.startswith(("ZOHO_", "LAKE_", "WAREHOUSE_", "DAGSTER_")):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    monkeypatch.setenv("ZOHO_PIPELINES_HOME", str(home))
    monkeypatch.chdir(tmp_path)
    # The code location reads ZOHO_MODULES when imported: the demo imports it afresh, and the
    # module it builds must not outlive the test (monkeypatch puts back the one it replaced).
    monkeypatch.delitem(sys.modules, CODE_LOCATION, raising=False)
    try:
        yield home
    finally:
        sys.modules.pop(CODE_LOCATION, None)
        os.environ.clear()
        os.environ.update(saved)


def test_the_demo_syncs_seven_days_into_duckdb_and_prints_what_landed(
    fresh_checkout: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = fresh_checkout
    monkeypatch.setenv("ZOHO_MODULES", ",".join(f"crm:{module}" for module in MODULES))
    output = io.StringIO()
    started = datetime.now(UTC)
    exit_code = run_demo(records=RECORDS, port=0, latency_ms=0, console=Console(file=output, width=160))
    printed = output.getvalue()
    assert exit_code == 0, printed

    # The last complete UTC days when the demo started (or, across a midnight, when it synced).
    days = next(
        candidate
        for candidate in (demo_days(started.date()), demo_days(datetime.now(UTC).date()))
        if f"syncing {candidate[0]} .. {candidate[-1]} (UTC) of {len(MODULES)} modules" in printed
    )
    assert len(days) == DEMO_DAYS
    assert "dagster dev -w workspace.yaml" in printed
    assert SandboxConfig().client_secret not in printed

    lake = LocalLake(home / "lake")
    with open_warehouse(f"duckdb://{home / 'warehouse.duckdb'}") as warehouse:
        for module in MODULES:
            assert lake.list_partitions("crm", module) == days
            table = TableRef.for_module("crm", module)
            summary = f"SELECT {SUMMARY_COLUMNS} FROM {table.sql}"  # noqa: S608 quoted identifier
            rows, deleted, distinct, first, last = warehouse.query(summary)[0]
            assert rows == distinct > 0
            assert (first, last) == (days[0], days[-1])
            # The summary line: table, rows, deleted, records read, API calls, credits, checks.
            line = re.search(
                rf"{re.escape(str(table))}\s*│\s*([\d,]+)\s*│\s*([\d,]+)\s*│\s*([\d,]+)", printed
            )
            assert line, printed
            shown_rows, shown_deleted, records_read = (int(value.replace(",", "")) for value in line.groups())
            assert (shown_rows, shown_deleted) == (rows, deleted)
            assert records_read + deleted == rows, "each record read once, each deletion a tombstone"
    assert printed.count("passed") >= len(MODULES)

    environment = (home / "demo.env").read_text(encoding="utf-8")
    assert "ZOHO_API_URL=http://127.0.0.1:" in environment
    assert f"DAGSTER_HOME={home / 'dagster'}" in environment
    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        runs = instance.get_runs()
        assert len(runs) == DEMO_DAYS * len(MODULES)
        assert all(run.status == dg.DagsterRunStatus.SUCCESS for run in runs)


def test_a_module_that_cannot_sync_is_reported_in_the_summary_and_the_exit_code(
    fresh_checkout: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sandbox serves no Vendors module: every run fails, and the summary says so (no traceback)."""
    monkeypatch.setenv("ZOHO_MODULES", "crm:vendors")
    output = io.StringIO()
    exit_code = run_demo(records=RECORDS, port=0, latency_ms=0, console=Console(file=output, width=160))
    printed = output.getvalue()
    assert exit_code == 1
    vendors = rf"zoho_crm\.vendors\s*│\s*-\s*│\s*-\s*│.*FAILED: {DEMO_DAYS} runs failed"
    assert re.search(vendors, printed), printed
    assert "dagster dev -w workspace.yaml" in printed, "the way to inspect the failed runs"
