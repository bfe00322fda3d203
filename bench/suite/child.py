"""Running one scenario in a child process, so each figure gets its own peak RSS.

The parent calls `run_in_child("suite.sync:sync_into_lake", params)`; the child imports that
function, calls it with `params` and prints its result as the last line of stdout, together with
its own resource-usage high-water mark (ru_maxrss, which the kernel keeps per process) and CPU
time. What the scenario logs goes to stderr: into a file per child under $ZOHO_BENCH_LOG_DIR
when that is set (`bench/run.py` sets it), else through to the parent's stderr.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent.parent
REPO_ROOT = BENCH_DIR.parent
RESULT_MARKER = "BENCH-RESULT "
LOG_DIR_VARIABLE = "ZOHO_BENCH_LOG_DIR"


class ScenarioFailed(RuntimeError):
    """A child scenario exited without a result."""


def child_environment() -> dict[str, str]:
    """The parent's environment with the repository and bench/ importable (tests' helpers, suite)."""
    path = [str(REPO_ROOT), str(BENCH_DIR), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(path), "PYTHONUNBUFFERED": "1"}


def run_in_child(target: str, params: dict[str, Any], *, timeout_s: float = 3_600) -> dict[str, Any]:
    """`target` ("module:function") called with `params` in a fresh interpreter; its result dict."""
    command = [sys.executable, "-m", "suite.child", target, json.dumps(params)]
    log_dir = os.environ.get(LOG_DIR_VARIABLE)
    log_path = Path(log_dir) / f"{target.replace(':', '.')}.{time.time_ns()}.log" if log_dir else None
    with log_path.open("w") if log_path else contextlib.nullcontext() as log:
        completed = subprocess.run(
            command,
            cwd=BENCH_DIR,
            env=child_environment(),
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    for line in reversed(completed.stdout.splitlines()):
        if line.startswith(RESULT_MARKER):
            return json.loads(line.removeprefix(RESULT_MARKER))
    where = f"; its log: {log_path}" if log_path else ""
    raise ScenarioFailed(f"{target} exited with code {completed.returncode} and no result{where}")


def peak_rss_mb() -> float:
    """This process's resident-set high-water mark (Linux reports ru_maxrss in KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def process_peak_rss_mb(pid: int) -> float | None:
    """Another process's high-water mark (VmHWM), e.g. the sandbox's; None where unknown."""
    status = Path(f"/proc/{pid}/status")
    if not status.exists():
        return None
    for line in status.read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return None


def main() -> None:
    target, params = sys.argv[1], json.loads(sys.argv[2])
    module_name, function_name = target.split(":")
    function = getattr(importlib.import_module(module_name), function_name)
    started_cpu, started = time.process_time(), time.perf_counter()
    result = function(params)
    result.setdefault("peak_rss_mb", peak_rss_mb())
    result.setdefault("process_cpu_s", round(time.process_time() - started_cpu, 2))
    result.setdefault("process_wall_s", round(time.perf_counter() - started, 2))
    print(RESULT_MARKER + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
