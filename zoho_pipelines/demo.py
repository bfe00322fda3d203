"""`zoho-pipelines demo`: the main job end to end on the embedded defaults, with nothing to set up.

It starts the sandbox (a local Zoho) in its own process, points the product at it, materializes
the last 7 complete UTC days of every default module into the local lake and DuckDB through the
real Dagster assets (runs recorded in a persistent Dagster instance, so `dagster dev` shows them
afterwards), and prints what landed where.
"""

from __future__ import annotations

import os
import time
import warnings
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from zoho_pipelines.sandbox.server import SandboxConfig, start_sandbox
from zoho_pipelines.settings import load_settings
from zoho_pipelines.warehouse import SqlWarehouse, TableRef, open_warehouse

DEMO_DAYS = 7
# Dagster's console logger speaks at DEBUG; the progress bar and the summary say what matters.
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@dataclass
class ModuleTally:
    records: int = 0
    api_calls: int = 0
    api_credits: int = 0
    failed_runs: int = 0
    checks_failed: list[str] = field(default_factory=list)

    @property
    def outcome(self) -> str:
        problems = [f"{self.failed_runs} runs failed"] if self.failed_runs else []
        problems += sorted(set(self.checks_failed))
        return "passed" if not problems else "FAILED: " + ", ".join(problems)


def demo_days(today: date, days: int = DEMO_DAYS) -> list[date]:
    """The last `days` complete UTC days, oldest first (today is still being written)."""
    return [today - timedelta(days=offset) for offset in range(days, 0, -1)]


def _write_env_file(path: Path, env: dict[str, str]) -> None:
    """The sandbox settings, so `dagster dev` (and its runs) reach the same sandbox later."""
    path.write_text("".join(f"{name}={value}\n" for name, value in sorted(env.items())), encoding="utf-8")


def run_demo(*, records: int, port: int, latency_ms: float, console: Console | None = None) -> int:
    """Run the demo; returns a process exit code (0 when every run and check passed)."""
    console = console or Console(width=max(Console().width, 100))
    settings = load_settings()
    home = settings.home.resolve()
    dagster_home = home / "dagster"
    dagster_home.mkdir(parents=True, exist_ok=True)
    instance_config = dagster_home / "dagster.yaml"
    if not instance_config.exists():  # a local demo has no business phoning home
        instance_config.write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    started = time.perf_counter()
    console.print(f"[bold]zoho_pipelines demo[/]: sandbox with {records:,} records per CRM module")
    config = SandboxConfig(port=port, records_per_module=records, latency_ms=latency_ms)
    with start_sandbox(config, subprocess=True) as sandbox:
        env = {
            **sandbox.env(),
            "DAGSTER_HOME": str(dagster_home),
            "LAKE_URL": settings.resolved_lake_url,
            "WAREHOUSE_URL": settings.resolved_warehouse_url,
        }
        os.environ.update(env)
        _write_env_file(home / "demo.env", env)
        return _materialize(console, sandbox.url, started, settings.resolved_warehouse_url, home)


def _materialize(console: Console, sandbox_url: str, started: float, warehouse_url: str, home: Path) -> int:
    # Imported here: the code location reads the environment the demo just set. Dagster's notes
    # about its own beta internals would only clutter the demo's output.
    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    from zoho_pipelines.definitions import defs

    days = demo_days(datetime.now(UTC).date())
    graph = defs.resolve_asset_graph()
    lake_keys = sorted(
        (key for key in graph.get_all_asset_keys() if key.path[0] == "lake"), key=lambda key: key.path
    )
    job = defs.resolve_implicit_global_asset_job_def()
    tallies: dict[str, ModuleTally] = {}
    failures = 0
    console.print(
        f"Sandbox at {sandbox_url}; syncing {days[0]} .. {days[-1]} (UTC) of {len(lake_keys)} modules"
    )
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with dg.DagsterInstance.get() as instance, Progress(*columns, console=console) as progress:
        task = progress.add_task("partitions", total=len(days) * len(lake_keys))
        for day in days:
            for lake_key in lake_keys:
                app, module = lake_key.path[1], lake_key.path[2]
                progress.update(task, description=f"{day} {app}/{module}")
                selection = [lake_key, dg.AssetKey(["warehouse", app, module])]
                result = job.execute_in_process(
                    instance=instance,
                    partition_key=day.isoformat(),
                    asset_selection=selection,
                    run_config=QUIET_RUN_CONFIG,
                    raise_on_error=False,
                )
                tally = tallies.setdefault(f"{app}/{module}", ModuleTally())
                failures += _tally(result, lake_key, tally)
                progress.advance(task)
    with closing(open_warehouse(warehouse_url)) as warehouse:
        table = _summary(warehouse, tallies)
    console.print(table)
    console.print(f"Finished in {time.perf_counter() - started:.1f} s; runs are in {home / 'dagster'}.")
    console.print(
        "\nSee the same data in the Dagster UI (lineage, partitions, checks, runs):\n"
        "  [bold]zoho-pipelines sandbox --port 8765 &[/]   # optional: lets the UI launch new runs\n"
        f"  [bold]set -a; . {home / 'demo.env'}; set +a; dagster dev -w workspace.yaml[/]\n"
        "  then open http://127.0.0.1:3000"
    )
    return 1 if failures else 0


def _tally(result: dg.ExecuteInProcessResult, lake_key: dg.AssetKey, tally: ModuleTally) -> int:
    """Add one run's materialization metadata and check outcomes to its module's tally."""
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        if materialization.asset_key != lake_key:
            continue
        metadata = materialization.metadata
        tally.records += metadata["records"].value
        tally.api_calls += metadata["api_calls"].value
        tally.api_credits += metadata["api_credits"].value
    failed_checks = [
        evaluation.check_name for evaluation in result.get_asset_check_evaluations() if not evaluation.passed
    ]
    tally.checks_failed += failed_checks
    if not result.success:
        tally.failed_runs += 1
    return 0 if result.success and not failed_checks else 1


def _summary(warehouse: SqlWarehouse, tallies: dict[str, ModuleTally]) -> Table:
    table = Table(title="Synced into the lake and the warehouse")
    for heading in ("table", "rows", "deleted", "read", "API calls", "credits", "checks"):
        table.add_column(heading, justify="left" if heading in ("table", "checks") else "right")
    for name, tally in tallies.items():
        app, module = name.split("/")
        ref = TableRef.for_module(app, module)
        rows = tombstones = "-"  # every run of the module failed: it has no table to count
        if warehouse.table_columns(ref):
            rows, tombstones = (
                f"{count:,}"
                for count in warehouse.query(
                    f"select count(*), count(*) filter (where _deleted) from {ref.sql}"  # noqa: S608 quoted identifiers
                )[0]
            )
        table.add_row(
            str(ref),
            rows,
            tombstones,
            f"{tally.records:,}",
            f"{tally.api_calls:,}",
            f"{tally.api_credits:,}",
            tally.outcome,
        )
    return table
