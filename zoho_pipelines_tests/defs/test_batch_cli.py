"""The command lines as a user runs them, each in its own process.

Issue 3's acceptance command: `dagster asset materialize -m zoho_pipelines.definitions --select
'lake/crm/deals,warehouse/crm/deals' --partition <day>` with ZOHO_ACCOUNTS_URL/ZOHO_API_URL pointing at
the sandbox must fill `zoho_crm.deals` in the warehouse WAREHOUSE_URL names with exactly that day's
records. Issue 13's: a bad setting or module prints one line naming the variable or module and the
fix (the traceback only under --verbose), `dg check defs` loads the project, and both sandbox
command lines take the same flags.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from zoho_pipelines.sandbox.server import RunningSandbox
from zoho_pipelines.warehouse import open_warehouse
from zoho_pipelines_tests.pipeline.support import SandboxTruth, day_rows, spec_of, table_rows

DAY = date(2026, 11, 24)
DEALS = spec_of("crm", "deals")
CLI_TIMEOUT_S = 180
BIN = Path(sys.executable).parent
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def test_dagster_asset_materialize_fills_the_deals_table_with_exactly_that_day(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    warehouse_url = f"duckdb://{tmp_path / 'warehouse.duckdb'}"
    dagster_home = tmp_path / "dagster"
    dagster_home.mkdir()
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("ZOHO_", "LAKE_", "WAREHOUSE_", "DAGSTER_"))
    }
    environment.update(
        sandbox.env(),
        LAKE_URL=(tmp_path / "lake").as_uri(),
        WAREHOUSE_URL=warehouse_url,
        DAGSTER_HOME=str(dagster_home),
        ZOHO_PIPELINES_HOME=str(tmp_path / "home"),
    )
    dagster = Path(sys.executable).with_name("dagster")
    completed = subprocess.run(
        [
            str(dagster),
            "asset",
            "materialize",
            "-m",
            "zoho_pipelines.definitions",
            "--select",
            "lake/crm/deals,warehouse/crm/deals",
            "--partition",
            DAY.isoformat(),
        ],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    assert "RUN_SUCCESS" in completed.stderr
    assert sandbox.config.client_secret not in completed.stdout + completed.stderr

    truth = SandboxTruth(sandbox).day(DEALS, DAY)
    with open_warehouse(warehouse_url) as warehouse:
        assert set(day_rows(warehouse, DEALS, DAY, deleted=False)) == set(truth.records)
        assert set(day_rows(warehouse, DEALS, DAY, deleted=True)) == truth.deleted
        assert len(table_rows(warehouse, DEALS)) == len(truth.records) + len(truth.deleted)
    assert (tmp_path / "lake" / "zoho" / "crm" / "deals" / f"date={DAY}" / "deals.parquet").is_file()


def clean_environment(tmp_path: Path, **variables: str) -> dict[str, str]:
    """The caller's environment without product settings, a private home, and `variables`."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("ZOHO_", "LAKE_", "WAREHOUSE_", "DAGSTER_")) or name == "ZOHO_TOKEN_CACHE_DIR"
    }
    return {**environment, "ZOHO_PIPELINES_HOME": str(tmp_path / "home"), **variables}


@pytest.fixture
def cli(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """`cli(*arguments, **variables)`: `zoho-pipelines` in a fresh directory with those variables."""

    def run(*arguments: str, **variables: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "zoho-pipelines"), *arguments],
            cwd=tmp_path,
            env=clean_environment(tmp_path, **variables),
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT_S,
            check=False,
        )

    return run


def one_line(completed: subprocess.CompletedProcess[str]) -> str:
    """The single line an actionable error prints (and nothing else)."""
    assert completed.returncode == 2, completed.stdout + completed.stderr
    assert completed.stdout == ""
    lines = completed.stderr.splitlines()
    assert len(lines) == 1, completed.stderr
    return lines[0]


def test_a_bad_setting_prints_one_line_naming_the_variable_and_the_fix(cli: Callable[..., Any]) -> None:
    line = one_line(cli("demo", ZOHO_DC="xx"))
    assert line.startswith("zoho-pipelines: invalid configuration: ZOHO_DC: ")
    assert "'eu'" in line, "the values it takes"
    assert line.endswith("(fix ZOHO_DC in the environment or .env)")


def test_verbose_shows_the_traceback_behind_the_line(cli: Callable[..., Any]) -> None:
    completed = cli("--verbose", "check", ZOHO_DC="xx")
    assert completed.returncode != 0
    assert "Traceback" in completed.stderr
    assert "ConfigurationError" in completed.stderr


@pytest.mark.parametrize(
    ("command", "flag", "help_text"),
    [
        ((), "--verbose", "Show the traceback behind an error message."),
        (("documents",), "--sandbox / --no-sandbox", "Start a sandbox;"),
    ],
)
def test_help_shows_a_flag_without_a_value(
    cli: Callable[..., Any], command: tuple[str, ...], flag: str, help_text: str
) -> None:
    """`zoho-pipelines --verbose check` works, so the help must not read `--verbose <bool>`."""
    completed = cli(*command, "--help")
    assert completed.returncode == 0, completed.stderr
    lines = [line.strip() for line in completed.stdout.splitlines()]
    for option, text in ((flag, help_text), ("--help", "Show this message and exit.")):
        option_lines = [line for line in lines if line.startswith(option)]
        assert len(option_lines) == 1, completed.stdout
        assert option_lines[0].removeprefix(option).lstrip().startswith(text), completed.stdout


def test_an_unknown_books_module_is_one_line_before_any_sandbox_starts(cli: Callable[..., Any]) -> None:
    line = one_line(cli("demo", ZOHO_MODULES="crm:deals,books:nosuch"))
    assert "ZOHO_MODULES: unknown books module 'nosuch'" in line
    assert "invoices" in line, "the modules it could be"
    assert "fix ZOHO_MODULES" in line


def test_an_unknown_crm_module_is_caught_against_the_orgs_module_list(
    cli: Callable[..., Any], sandbox: RunningSandbox
) -> None:
    """CRM admits custom modules by api name, so the org decides: one call, one line."""
    line = one_line(cli("check", ZOHO_MODULES="crm:deals,crm:nosuch", **sandbox.env()))
    assert line.startswith("zoho-pipelines: ZOHO_MODULES: this Zoho org has no CRM module crm:nosuch (")
    assert "fix ZOHO_MODULES" in line
    assert "Deals" in line, "the org's modules, to pick from"
    checked = cli("check", ZOHO_MODULES="crm:deals,crm:Leads", **sandbox.env())
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.strip() == "configuration ok; modules: crm:deals, crm:leads"


def test_the_demo_with_an_unknown_crm_module_prints_one_line_and_runs_nothing(
    cli: Callable[..., Any], tmp_path: Path
) -> None:
    """The issue's case: once ~1,000 lines and 7 failed runs; now the org's module list, one line."""
    line = one_line(cli("demo", "--records", "200", "--port", "0", ZOHO_MODULES="crm:nosuch"))
    assert line.startswith("zoho-pipelines: ZOHO_MODULES: this Zoho org has no CRM module crm:nosuch (fix ")
    assert not (tmp_path / "home" / "dagster" / "history").exists(), "no run was recorded"


def test_an_explicit_port_in_use_is_one_line_saying_what_to_do(cli: Callable[..., Any]) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        line = one_line(cli("demo", "--port", str(port)))
    assert (
        line
        == f"zoho-pipelines: port {port} is in use: stop what listens there, or pass --port 0 for a free one"
    )


def test_both_sandbox_command_lines_take_the_same_flags(tmp_path: Path) -> None:
    def flags(*command: str) -> set[str]:
        completed = subprocess.run(
            [*command, "--help"], capture_output=True, text=True, timeout=CLI_TIMEOUT_S, check=True
        )
        return {word.strip("[],") for word in completed.stdout.split() if word.startswith(("--", "[--"))}

    typer_flags = flags(str(BIN / "zoho-pipelines"), "sandbox")
    assert typer_flags == flags(sys.executable, "-m", "zoho_pipelines.sandbox")
    assert {"--records", "--records-per-module", "--port", "--anchor", "--token-mint-limit"} <= typer_flags


def test_dg_check_defs_loads_the_project(tmp_path: Path) -> None:
    """Dagster's own CLI finds the code location through pyproject.toml's [tool.dg]."""
    completed = subprocess.run(
        [str(BIN / "dg"), "check", "defs"],
        cwd=PROJECT_ROOT,
        env=clean_environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    assert "All definitions loaded successfully." in completed.stdout + completed.stderr


def test_a_refused_refresh_token_is_one_line_naming_the_credentials(
    cli: Callable[..., Any], sandbox: RunningSandbox
) -> None:
    wrong_token = "1000.not-the-sandbox-refresh-token"
    line = one_line(cli("check", **{**sandbox.env(), "ZOHO_REFRESH_TOKEN": wrong_token}))
    assert line.startswith("zoho-pipelines: ")
    assert "check ZOHO_CLIENT_ID, ZOHO_CLIENT_SECRET and ZOHO_REFRESH_TOKEN" in line
    assert wrong_token not in line
    assert sandbox.config.client_secret not in line


def test_an_unreachable_zoho_is_one_line_naming_the_url_settings(cli: Callable[..., Any]) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"  # bound, never listening: refused
        completed = cli(
            "check",
            ZOHO_ACCOUNTS_URL=url,
            ZOHO_API_URL=url,
            ZOHO_CLIENT_ID="client",
            ZOHO_CLIENT_SECRET="secret",
            ZOHO_REFRESH_TOKEN="refresh",
        )
    assert completed.returncode == 2, completed.stderr
    assert "Traceback" not in completed.stderr
    # The client's retry warnings come first; the error itself is the last line, one line.
    *retries, line = completed.stderr.splitlines()
    assert all(retry.startswith("retrying POST /oauth/v2/token") for retry in retries)
    assert line.startswith("zoho-pipelines: POST /oauth/v2/token")
    assert line.endswith(
        "(check ZOHO_DC (or ZOHO_ACCOUNTS_URL and ZOHO_API_URL) and that this machine reaches Zoho)"
    )
