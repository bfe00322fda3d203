"""Runs that overlap, as production starts them: through Dagster's run queue, each in its own process.

The daily schedule asks for yesterday and the re-sync days as separate runs; a backfill from the
UI asks for one run per partition; the queued run coordinator and the daemon start them side by
side. Here a 7-day backfill of every default module and the schedule's three runs (whose days the
backfill also covers) are submitted together through `dagster job backfill`, and a real
`dagster-daemon` launches them, up to five at once, into one DuckDB file. Every run must succeed,
and every table must equal the sandbox's truth for those days, field for field.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pytest

from zoho_pipelines.catalog import selected_modules
from zoho_pipelines.lake import LocalLake, PartitionRef
from zoho_pipelines.sandbox.server import RunningSandbox
from zoho_pipelines.schema import ModuleSchema
from zoho_pipelines.warehouse import open_warehouse
from zoho_pipelines_tests.pipeline.support import SandboxTruth, day_rows, mismatches

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

JOB = "zoho_crm_daily_sync"
BACKFILL_DAYS = [date(2026, 11, 20) + timedelta(days=offset) for offset in range(7)]
SCHEDULE_DAYS = [date(2026, 11, 26), date(2026, 11, 25), date(2026, 11, 24)]  # the run on 2026-11-27
MAX_CONCURRENT_RUNS = 5
RUNS_TIMEOUT_S = 600
CLI_TIMEOUT_S = 180

DAGSTER_YAML = f"""\
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    max_concurrent_runs: {MAX_CONCURRENT_RUNS}
telemetry:
  enabled: false
"""


def _environment(sandbox: RunningSandbox, tmp_path: Path) -> dict[str, str]:
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("ZOHO_", "LAKE_", "WAREHOUSE_", "DAGSTER_"))
    }
    environment.update(
        sandbox.env(),
        LAKE_URL=(tmp_path / "lake").as_uri(),
        WAREHOUSE_URL=f"duckdb://{tmp_path / 'warehouse.duckdb'}",
        DAGSTER_HOME=str(tmp_path / "dagster"),
        ZOHO_PIPELINES_HOME=str(tmp_path / "home"),
    )
    return environment


def _default_signals() -> None:
    """A shell may start us with SIGINT/SIGTERM ignored; the daemon must be stoppable."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


@pytest.fixture
def daemon(sandbox: RunningSandbox, tmp_path: Path) -> Iterator[dict[str, str]]:
    """A Dagster home with the queued coordinator and its daemon running; yields the environment."""
    environment = _environment(sandbox, tmp_path)
    home = Path(environment["DAGSTER_HOME"])
    home.mkdir()
    (home / "dagster.yaml").write_text(DAGSTER_YAML)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.get_runs(limit=1)  # create the run storage once, before three processes race to
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("dagster-daemon")), "run", "-m", "zoho_pipelines.definitions"],
        cwd=tmp_path,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "daemon.log").open("w"),
        preexec_fn=_default_signals,
        start_new_session=True,
    )
    try:
        yield environment
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _backfill(environment: dict[str, str], cwd: Path, days: list[date]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            str(Path(sys.executable).with_name("dagster")),
            *("job", "backfill", "-m", "zoho_pipelines.definitions", "-j", JOB),
            *("--partitions", ",".join(day.isoformat() for day in days), "--noprompt"),
        ],
        cwd=cwd,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _finished_runs(instance: dg.DagsterInstance, expected: int) -> list[dg.DagsterRun]:
    """Wait until `expected` runs of JOB exist and all reached a final state (the daemon's pace,
    bounded). The daemon also ticks the code location's other schedules (zoho_ai's loader every
    15 minutes), whose runs are not this test's business."""
    deadline = time.monotonic() + RUNS_TIMEOUT_S
    while True:
        runs = instance.get_runs(filters=dg.RunsFilter(job_name=JOB))
        if len(runs) >= expected and all(run.is_finished for run in runs):
            return runs
        if time.monotonic() > deadline:
            states = sorted(f"{run.tags.get('dagster/partition')}: {run.status.value}" for run in runs)
            raise AssertionError(f"runs not finished after {RUNS_TIMEOUT_S} s: {states}")
        time.sleep(0.5)  # polling a database for a state change, not ordering threads


def _failure(instance: dg.DagsterInstance, run: dg.DagsterRun) -> str:
    """The partition and first step error of a failed run, for the assertion message."""
    for record in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
        error = record.dagster_event.step_failure_data.error if record.dagster_event else None
        return f"{run.tags.get('dagster/partition')}: {error.message.strip() if error else 'unknown'}"
    return f"{run.tags.get('dagster/partition')}: {run.status.value}"


def test_the_schedules_runs_and_a_backfill_together_all_succeed_and_equal_the_truth(
    sandbox: RunningSandbox, daemon: dict[str, str], tmp_path: Path
) -> None:
    launches = [_backfill(daemon, tmp_path, BACKFILL_DAYS), _backfill(daemon, tmp_path, SCHEDULE_DAYS)]
    for launch in launches:
        output, _ = launch.communicate(timeout=CLI_TIMEOUT_S)
        assert launch.returncode == 0, output[-3000:]

    with dg.DagsterInstance.from_config(daemon["DAGSTER_HOME"]) as instance:
        runs = _finished_runs(instance, len(BACKFILL_DAYS) + len(SCHEDULE_DAYS))
        failed = [run for run in runs if run.status != dg.DagsterRunStatus.SUCCESS]
        assert not failed, [_failure(instance, run) for run in failed]
        assert len(runs) == len(BACKFILL_DAYS) + len(SCHEDULE_DAYS)

    truth = SandboxTruth(sandbox)
    lake = LocalLake(tmp_path / "lake")
    specs = [spec for spec in selected_modules() if spec.app == "crm"]
    assert len(specs) == 4
    with open_warehouse(daemon["WAREHOUSE_URL"]) as warehouse:
        for spec in specs:
            for day in BACKFILL_DAYS:
                expected = truth.day(spec, day)
                live = day_rows(warehouse, spec, day, deleted=False)
                assert set(live) == set(expected.records), f"{spec.module} {day}"
                assert set(day_rows(warehouse, spec, day, deleted=True)) == expected.deleted
                schema = ModuleSchema.from_arrow(lake.read_schema(PartitionRef(spec.app, spec.module, day)))
                problems = {
                    key: found
                    for key, row in live.items()
                    if (found := mismatches(schema, expected.records[key], row))
                }
                assert not problems, (spec.module, day, dict(list(problems.items())[:2]))
