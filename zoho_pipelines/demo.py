"""`zoho-pipelines demo`: the main job end to end on the embedded defaults, with nothing to set up.

It starts the sandbox (a local Zoho) in its own process, points the product at it, materializes
the last 7 complete UTC days of every selected module into the local lake and DuckDB through the
real Dagster assets (runs recorded in a persistent Dagster instance, so the Dagster UI shows them
afterwards), and prints what landed where and the commands that open the UI on it.

Re-runs give the same tables: the sandbox's history ends at the start of the current UTC day
(its anchor), so the same day always generates the same records, and merges are idempotent.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_start
from pathlib import Path
from urllib.parse import urlsplit

import dagster as dg
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from zoho_pipelines.catalog import selected_modules
from zoho_pipelines.clock import SYSTEM_CLOCK, Clock
from zoho_pipelines.demo_port import start_demo_sandbox
from zoho_pipelines.preflight import checked_modules
from zoho_pipelines.sandbox.server import SandboxConfig
from zoho_pipelines.settings import load_settings
from zoho_pipelines.warehouse import SqlWarehouse, TableRef, open_warehouse

DEMO_DAYS = 7
DEMO_ENV_FILE = "demo.env"
# `dg dev` finds the code location through this checkout's pyproject.toml ([tool.dg]).
PROJECT_ROOT = Path(__file__).resolve().parents[1]
# Dagster's console logger speaks at DEBUG; the progress bar and the summary say what matters.
SUMMARY_LEGEND = (
    "rows, deleted: the whole table now (deleted: tombstones, rows kept with _deleted true)\n"
    "read, API calls, credits: this run (records read from Zoho, and what reading them cost)"
)
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@dataclass
class ModuleTally:
    records: int = 0
    api_calls: int = 0
    api_credits: int = 0
    failed_days: int = 0
    checks_failed: list[str] = field(default_factory=list)
    checks_warned: list[str] = field(default_factory=list)

    @property
    def outcome(self) -> str:
        problems = [f"{self.failed_days} days failed"] if self.failed_days else []
        problems += sorted(set(self.checks_failed))
        if problems:
            return "FAILED: " + ", ".join(problems)
        # A WARN check (values kept in _unfitted) leaves the run successful: worth seeing, not a failure.
        return "passed" + "".join(f", WARN {name}" for name in sorted(set(self.checks_warned)))


def demo_days(today: date, days: int = DEMO_DAYS) -> list[date]:
    """The last `days` complete UTC days, oldest first (today is still being written)."""
    return [today - timedelta(days=offset) for offset in range(days, 0, -1)]


def sandbox_anchor(today: date) -> datetime:
    """The end of the sandbox's generated history: the start of `today` (UTC), the same all day."""
    return datetime.combine(today, day_start(0), tzinfo=UTC)


def write_env_file(path: Path, env: dict[str, str]) -> None:
    """KEY=value lines for `set -a; . demo.env`, replaced whole (a reader never sees half a file)."""
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    # Owner-only: it may name a warehouse URL with a password in it.
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write("".join(f"{name}={value}\n" for name, value in sorted(env.items())))
    os.chmod(partial, 0o600)  # an earlier leftover of this pid may have had looser bits
    partial.replace(path)


def next_steps(env_file: Path, *, port: int, records: int, anchor: datetime, latency_ms: float) -> list[str]:
    """The commands that open the Dagster UI on the demo's data, exactly as the README shows them."""
    bin_dir = _shown_path(Path(sys.executable).parent)
    latency = f" --latency-ms {latency_ms:g}" if latency_ms else ""
    sandbox = (
        f"{bin_dir}/zoho-pipelines sandbox --port {port} --records {records} "
        f"--anchor {anchor.isoformat()}{latency} &"
    )
    project = PROJECT_ROOT if (PROJECT_ROOT / "pyproject.toml").is_file() else Path.cwd()
    target = "" if project.resolve() == Path.cwd().resolve() else f" --target-path {project}"
    return [
        f"set -a; . {_shown_path(env_file)}; set +a",
        f"{sandbox}   # optional: the demo's sandbox again, so the UI can launch runs",
        f"{bin_dir}/dg dev{target}   # then open http://127.0.0.1:3000 (Ctrl-C stops it)",
    ]


def _shown_path(path: Path) -> str:
    """A path as a user in the working directory types it: relative below it, else absolute."""
    absolute = path.absolute()
    try:
        return str(absolute.relative_to(Path.cwd()))
    except ValueError:
        return str(absolute)


def run_demo(
    *,
    records: int,
    port: int,
    latency_ms: float,
    console: Console | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> int:
    """Run the demo; returns a process exit code (0 when every run passed and no check failed).

    Settings and module errors (ConfigurationError, CatalogError) and a taken port (PortInUseError)
    are raised before any run starts, for the CLI to print as one line.
    """
    console = console or Console(width=max(Console().width, 100))
    settings = load_settings()
    selected_modules()  # a misspelt Books or Projects module fails here, before the sandbox starts
    home = settings.home.resolve()
    dagster_home = home / "dagster"
    dagster_home.mkdir(parents=True, exist_ok=True)
    instance_config = dagster_home / "dagster.yaml"
    if not instance_config.exists():  # a local demo has no business phoning home
        instance_config.write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    started = time.perf_counter()
    today = clock.now().astimezone(UTC).date()
    days = demo_days(today)
    anchor = sandbox_anchor(today)
    config = SandboxConfig(port=port, records_per_module=records, latency_ms=latency_ms, anchor=anchor)
    with start_demo_sandbox(config, console.print) as sandbox:
        os.environ.update({**sandbox.env(), "DAGSTER_HOME": str(dagster_home)})
        specs = checked_modules(load_settings())
        console.print(f"[bold]zoho_pipelines demo[/]: sandbox with {records:,} records per CRM module")
        env = {
            **sandbox.env(),
            "DAGSTER_HOME": str(dagster_home),
            "ZOHO_PIPELINES_HOME": str(home),
            "LAKE_URL": settings.resolved_lake_url,
            "WAREHOUSE_URL": settings.resolved_warehouse_url,
            "ZOHO_MODULES": ",".join(spec.selector for spec in specs),
            "ZOHO_PARTITIONS_START": days[0].isoformat(),  # the UI then shows the demo's days as filled
        }
        os.environ.update(env)
        env_file = settings.home / DEMO_ENV_FILE
        write_env_file(env_file, env)
        failures = _materialize(console, sandbox.url, days, settings.resolved_warehouse_url)
        sandbox_port_used = urlsplit(sandbox.url).port or port
    console.print(f"Finished in {time.perf_counter() - started:.1f} s; runs are in {dagster_home}.")
    steps = next_steps(
        env_file, port=sandbox_port_used, records=records, anchor=anchor, latency_ms=latency_ms
    )
    console.print("\nSee the same data in the Dagster UI (lineage, partitions, checks, runs):")
    for step in steps:
        console.print(f"  {escape(step)}", highlight=False, soft_wrap=True)
    return 1 if failures else 0


def _materialize(console: Console, sandbox_url: str, days: list[date], warehouse_url: str) -> int:
    """Materialize every selected module's lake and warehouse assets for `days`; returns the failures."""
    # Imported here: the code location reads the environment the demo just set. Dagster's notes
    # about its own beta internals would only clutter the demo's output.
    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    from zoho_pipelines.definitions import defs

    graph = defs.resolve_asset_graph()
    lake_keys = sorted(
        (key for key in graph.get_all_asset_keys() if key.path[0] == "lake"), key=lambda key: key.path
    )
    job = defs.resolve_implicit_global_asset_job_def()
    tallies = {key: ModuleTally() for key in lake_keys}
    selection = [*lake_keys, *(_warehouse_key(key) for key in lake_keys)]
    failures = 0
    console.print(
        f"Sandbox at {sandbox_url}; syncing {days[0]} .. {days[-1]} (UTC) of {len(lake_keys)} modules"
    )
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with dg.DagsterInstance.get() as instance, Progress(*columns, console=console) as progress:
        task = progress.add_task("days", total=len(days))
        for day in days:
            progress.update(task, description=f"{day}, {len(lake_keys)} modules")
            # One run per day for every module (a run per module and day spends more time in Dagster's
            # run bookkeeping than in the sync); a module's failing step does not stop the others.
            result = job.execute_in_process(
                instance=instance,
                partition_key=day.isoformat(),
                asset_selection=selection,
                run_config=QUIET_RUN_CONFIG,
                raise_on_error=False,
            )
            failures += sum(tally_day(result, key, tallies[key]) for key in lake_keys)
            progress.advance(task)
    with closing(open_warehouse(warehouse_url)) as warehouse:
        console.print(_summary(warehouse, tallies))
    console.print(SUMMARY_LEGEND, highlight=False)
    return failures


def _warehouse_key(lake_key: dg.AssetKey) -> dg.AssetKey:
    return dg.AssetKey(["warehouse", *lake_key.path[1:]])


def tally_day(result: dg.ExecuteInProcessResult, lake_key: dg.AssetKey, tally: ModuleTally) -> int:
    """Add one module's share of a day's run to its tally; 1 if the module failed that day."""
    materialized = set()
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        materialized.add(materialization.asset_key)
        if materialization.asset_key == lake_key:
            metadata = materialization.metadata
            tally.records += metadata["records"].value
            tally.api_calls += metadata["api_calls"].value
            tally.api_credits += metadata["api_credits"].value
    failed_checks = [
        evaluation
        for evaluation in result.get_asset_check_evaluations()
        if evaluation.asset_key == lake_key and not evaluation.passed
    ]
    errors = [check.check_name for check in failed_checks if check.severity == dg.AssetCheckSeverity.ERROR]
    tally.checks_failed += errors
    tally.checks_warned += [check.check_name for check in failed_checks if check.check_name not in errors]
    synced = {lake_key, _warehouse_key(lake_key)} <= materialized
    if not synced:
        tally.failed_days += 1
    return 0 if synced and not errors else 1


def _summary(warehouse: SqlWarehouse, tallies: dict[dg.AssetKey, ModuleTally]) -> Table:
    table = Table(title="Synced into the lake and the warehouse")
    for heading in ("table", "rows", "deleted", "read", "API calls", "credits", "checks"):
        table.add_column(heading, justify="left" if heading in ("table", "checks") else "right")
    for lake_key, tally in tallies.items():
        app, module = lake_key.path[1], lake_key.path[2]
        ref = TableRef.for_module(app, module)
        rows = tombstones = "-"  # the module failed every day: it has no table to count
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
