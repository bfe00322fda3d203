"""`zoho-pipelines demo` end to end: its own sandbox process, real Dagster runs, DuckDB, a summary.

The demo is the README's first command, so it is run here as a user gets it: a fresh working
directory, ZOHO_PIPELINES_HOME pointing there, nothing else configured. One or two modules
(ZOHO_MODULES) keep it quick; every default module is synced the same way by the other tests. The
demo's "today" comes from an injected clock, so its days (and its sandbox's data) are fixed.
"""

from __future__ import annotations

import importlib
import io
import os
import re
import socket
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import dagster as dg
import pytest
from rich.console import Console

from zoho_pipelines.catalog import CatalogError
from zoho_pipelines.clock import ManualClock
from zoho_pipelines.demo import DEMO_DAYS, ModuleTally, demo_days, run_demo, tally_day, write_env_file
from zoho_pipelines.demo_port import DEFAULT_PORT
from zoho_pipelines.lake import LocalLake
from zoho_pipelines.pipeline.checks import ID_CHECK, UNFITTED_CHECK
from zoho_pipelines.sandbox.server import SandboxConfig
from zoho_pipelines.warehouse import TableRef, open_warehouse

MODULES = ("deals", "leads")
RECORDS = 500
CODE_LOCATION = "zoho_pipelines.definitions"
ZOHO_APPS = ("crm", "books", "projects")
NOW = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)
DAYS = demo_days(NOW.date())
SUMMARY_COLUMNS = (
    "count(*), count(*) FILTER (WHERE _deleted), count(DISTINCT id), min(_partition), max(_partition)"
)


def clear_product_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("ZOHO_", "LAKE_", "WAREHOUSE_", "DAGSTER_")):
            monkeypatch.delenv(name)


@pytest.fixture
def fresh_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A working directory with nothing configured; the demo's own environment is undone after."""
    saved = dict(os.environ)
    clear_product_settings(monkeypatch)
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


def demo(port: int = 0, *, records: int = RECORDS) -> tuple[int, str]:
    """Run the demo at NOW; its exit code and what it printed."""
    sys.modules.pop(CODE_LOCATION, None)  # a second run in one test loads the code location again
    output = io.StringIO()
    exit_code = run_demo(
        records=records,
        port=port,
        latency_ms=0,
        console=Console(file=output, width=240),
        clock=ManualClock(NOW),
    )
    return exit_code, output.getvalue()


def demo_env(home: Path) -> dict[str, str]:
    lines = (home / "demo.env").read_text(encoding="utf-8").splitlines()
    return dict(line.split("=", 1) for line in lines)


def table_contents(home: Path, module: str) -> list[tuple[object, ...]]:
    """Every row of the module's table without _synced_at (the time of the read, which a re-run renews)."""
    table = TableRef.for_module("crm", module)
    with open_warehouse(f"duckdb://{home / 'warehouse.duckdb'}") as warehouse:
        return warehouse.query(f"SELECT * EXCLUDE (_synced_at) FROM {table.sql} ORDER BY id")  # noqa: S608 quoted identifier


def test_the_demo_syncs_seven_days_into_duckdb_and_prints_what_landed(
    fresh_checkout: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = fresh_checkout
    monkeypatch.setenv("ZOHO_MODULES", ",".join(f"crm:{module}" for module in MODULES))
    exit_code, printed = demo()
    assert exit_code == 0, printed
    assert f"syncing {DAYS[0]} .. {DAYS[-1]} (UTC) of {len(MODULES)} modules" in printed
    assert len(DAYS) == DEMO_DAYS
    assert SandboxConfig().client_secret not in printed

    lake = LocalLake(home / "lake")
    with open_warehouse(f"duckdb://{home / 'warehouse.duckdb'}") as warehouse:
        for module in MODULES:
            assert lake.list_partitions("crm", module) == DAYS
            table = TableRef.for_module("crm", module)
            summary = f"SELECT {SUMMARY_COLUMNS} FROM {table.sql}"  # noqa: S608 quoted identifier
            rows, deleted, distinct, first, last = warehouse.query(summary)[0]
            assert rows == distinct > 0
            assert (first, last) == (DAYS[0], DAYS[-1])
            # The summary line: table, rows, deleted, records read, API calls, credits, checks.
            line = re.search(
                rf"{re.escape(str(table))}\s*│\s*([\d,]+)\s*│\s*([\d,]+)\s*│\s*([\d,]+)", printed
            )
            assert line, printed
            shown_rows, shown_deleted, records_read = (int(value.replace(",", "")) for value in line.groups())
            assert (shown_rows, shown_deleted) == (rows, deleted)
            assert records_read + deleted == rows, "each record read once, each deletion a tombstone"
    assert printed.count("passed") >= len(MODULES)
    assert "rows, deleted: the whole table now" in printed
    assert "read, API calls, credits: this run" in printed

    environment = demo_env(home)
    assert environment["ZOHO_API_URL"].startswith("http://127.0.0.1:")
    assert environment["DAGSTER_HOME"] == str(home / "dagster")
    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        runs = instance.get_runs()
        assert len(runs) == DEMO_DAYS, "one run a day for every module"
        assert all(run.status == dg.DagsterRunStatus.SUCCESS for run in runs)


def test_the_default_port_taken_the_demo_takes_a_free_one(fresh_checkout: Path) -> None:
    """The README's background sandbox may still hold the default port: the demo still succeeds."""
    home = fresh_checkout
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            holder.bind(("127.0.0.1", DEFAULT_PORT))
            holder.listen()
        except OSError:
            pass  # something else already listens there, which is the case under test
        exit_code, printed = demo(port=DEFAULT_PORT, records=200)
    assert exit_code == 0, printed
    # It says the sandbox the next steps start is on the new port, not the one still on the default.
    assert f"demo.env and the next steps below point at it, not at {DEFAULT_PORT}." in printed
    port = urlsplit(demo_env(home)["ZOHO_API_URL"]).port
    assert port not in (None, DEFAULT_PORT)
    # The next steps, as the README shows them: venv paths, the demo's sandbox again (the port it
    # took, its records, its history's end), and `dg dev` (told where the project is: the test's
    # working directory is not the checkout).
    bin_dir = Path(sys.executable).parent.absolute()
    assert "set -a; . home/demo.env; set +a" in printed
    anchor = f"{NOW.date()}T00:00:00+00:00"
    assert f"{bin_dir}/zoho-pipelines sandbox --port {port} --records 200 --anchor {anchor} &" in printed
    assert f"{bin_dir}/dg dev --target-path " in printed


def test_running_the_demo_twice_gives_the_same_tables(
    fresh_checkout: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = fresh_checkout
    monkeypatch.setenv("ZOHO_MODULES", "crm:deals")
    first_code, first_printed = demo(records=200)
    first = table_contents(home, "deals")
    second_code, second_printed = demo(records=200)
    assert (first_code, second_code) == (0, 0), first_printed + second_printed
    assert first, "the demo filled the table"
    assert table_contents(home, "deals") == first


def test_demo_env_loads_the_demos_modules_and_days_as_the_whole_partition_range(
    fresh_checkout: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`set -a; . demo.env` before `dg dev`: the UI shows the demo's modules, its 7 days all filled."""
    home = fresh_checkout
    monkeypatch.setenv("ZOHO_MODULES", "crm:deals,books:invoices")
    exit_code, printed = demo(records=200)
    assert exit_code == 0, printed
    environment = demo_env(home)
    clear_product_settings(monkeypatch)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)

    sys.modules.pop(CODE_LOCATION, None)
    definitions = importlib.import_module(CODE_LOCATION).defs  # what `dg dev` loads
    keys = {
        key.to_user_string()
        for key in definitions.resolve_asset_graph().get_all_asset_keys()
        if key.path[0] in ("lake", "warehouse") and key.path[1] in ZOHO_APPS
    }
    assert keys == {
        "lake/crm/deals",
        "warehouse/crm/deals",
        "lake/books/invoices",
        "warehouse/books/invoices",
    }
    partitions = definitions.resolve_assets_def(dg.AssetKey(["lake", "crm", "deals"])).partitions_def
    assert partitions is not None
    assert partitions.get_partition_keys(current_time=NOW) == [day.isoformat() for day in DAYS]
    with dg.DagsterInstance.from_config(environment["DAGSTER_HOME"]) as instance:
        materialized = instance.get_materialized_partitions(dg.AssetKey(["lake", "books", "invoices"]))
    assert materialized == {day.isoformat() for day in DAYS}


def test_an_unknown_crm_module_stops_the_demo_before_any_run(
    fresh_checkout: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checked once against the org's module list (the sandbox has no Vendors), not met by 7 runs."""
    home = fresh_checkout
    monkeypatch.setenv("ZOHO_MODULES", "crm:deals,crm:vendors")
    with pytest.raises(CatalogError, match=r"ZOHO_MODULES: this Zoho org has no CRM module crm:vendors \("):
        demo(records=200)
    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        assert instance.get_runs() == []


@pytest.mark.parametrize(
    ("check", "severity", "counted_as_failure", "outcome"),
    [
        (UNFITTED_CHECK, dg.AssetCheckSeverity.WARN, 0, f"passed, WARN {UNFITTED_CHECK}"),
        (ID_CHECK, dg.AssetCheckSeverity.ERROR, 1, f"FAILED: {ID_CHECK}"),
    ],
)
def test_a_warn_check_is_reported_but_not_a_failure(
    check: str, severity: dg.AssetCheckSeverity, counted_as_failure: int, outcome: str
) -> None:
    """values_fit_their_columns warns (the values are kept in _unfitted) and the run succeeds."""
    lake_key = dg.AssetKey(["lake", "crm", "deals"])

    @dg.asset(key=lake_key, check_specs=[dg.AssetCheckSpec(check, asset=lake_key)])
    def lake() -> dg.MaterializeResult:
        return dg.MaterializeResult(
            metadata={"records": 5, "api_calls": 2, "api_credits": 3},
            check_results=[dg.AssetCheckResult(check_name=check, passed=False, severity=severity)],
        )

    @dg.asset(key=dg.AssetKey(["warehouse", "crm", "deals"]), deps=[lake_key])
    def warehouse() -> None:
        return None

    result = dg.materialize([lake, warehouse], raise_on_error=False)
    tally = ModuleTally()
    assert tally_day(result, lake_key, tally) == counted_as_failure
    assert (tally.records, tally.api_calls, tally.api_credits) == (5, 2, 3)
    assert tally.outcome == outcome


def test_demo_env_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    """It may carry a warehouse URL with a password; an earlier, looser file is tightened too."""
    env_file = tmp_path / "demo.env"
    env_file.write_text("OLD=1\n", encoding="utf-8")
    env_file.chmod(0o644)
    write_env_file(
        env_file, {"WAREHOUSE_URL": "postgresql://user:pw@localhost/db", "ZOHO_MODULES": "crm:deals"}
    )
    assert env_file.stat().st_mode & 0o777 == 0o600
    assert env_file.read_text(encoding="utf-8").splitlines() == [
        "WAREHOUSE_URL=postgresql://user:pw@localhost/db",
        "ZOHO_MODULES=crm:deals",
    ]
