"""A clustered day: the sandbox with Modified_Times shaped as real orgs shape them, for the benchmarks.

Real days are not uniform: mass updates, imports and workflows stamp thousands of records with
one second, many of them exactly 00:00:00 UTC. Issue 10 defines the shape measured here: at least
1% of the day's records at 00:00:00 UTC, at least 5% sharing their second with another record
(mass updates of a few hundred records each), the rest spread over the day.

When the sandbox has its own shape knob (`SandboxConfig.time_shape`, being added), the benchmarks
use it; until then `start_day_sandbox` runs the real sandbox in a process of its own with its
population step wrapped to reshape Modified_Time (run as a script: `python bench/suite/clustered.py
<sandbox flags>`). Only the benchmark does this; no product code changes.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess as sp
import sys
from pathlib import Path

import numpy as np

from zoho_pipelines.sandbox.config import SandboxConfig
from zoho_pipelines.sandbox.server import RunningSandbox, config_arguments, start_sandbox

SHAPES = ("uniform", "clustered")
MIDNIGHT_SHARE = 0.012
MASS_UPDATE_SHARE = 0.05
MASS_UPDATE_SIZE = 250


def has_time_shape() -> bool:
    """Whether the sandbox itself can shape a day (the other engineer's `time_shape`)."""
    return "time_shape" in {item.name for item in dataclasses.fields(SandboxConfig)}


def clustered_seconds(modified_s: np.ndarray, day_start_s: int, day_end_s: int, seed: int) -> np.ndarray:
    """`modified_s` reshaped: a share at the day's first second, mass updates on shared seconds."""
    rng = np.random.default_rng([seed, 10])
    count = len(modified_s)
    shaped = rng.integers(day_start_s + 1, day_end_s, size=count, dtype=np.int64)
    order = rng.permutation(count)
    midnight = order[: int(count * MIDNIGHT_SHARE)]
    shaped[midnight] = day_start_s
    massed = order[len(midnight) : len(midnight) + int(count * MASS_UPDATE_SHARE)]
    moments = rng.integers(day_start_s + 1, day_end_s, size=max(1, len(massed) // MASS_UPDATE_SIZE))
    shaped[massed] = moments[np.arange(len(massed)) % len(moments)]
    return shaped


def _serve_clustered(argv: list[str]) -> None:
    """Run the sandbox with every CRM module's day reshaped (the script entry point)."""
    from zoho_pipelines.sandbox import crm_store
    from zoho_pipelines.sandbox.__main__ import parse_config
    from zoho_pipelines.sandbox.server import serve

    original = crm_store.CrmStore._populate

    def populate(store: crm_store.CrmStore, spec: crm_store.ModuleSpec) -> crm_store.ModuleColumns:
        columns = original(store, spec)
        day_start_s = store.anchor_s - store.config.history_days * 86_400
        shaped = clustered_seconds(columns.modified_ms // 1000, day_start_s, store.anchor_s, spec.number)
        columns.modified_ms[:] = shaped * 1000
        np.minimum(columns.created_ms, columns.modified_ms, out=columns.created_ms)
        deleted = columns.deleted_ms > 0
        columns.deleted_ms[deleted] = np.maximum(columns.deleted_ms, columns.modified_ms)[deleted]
        return columns

    crm_store.CrmStore._populate = populate  # type: ignore[method-assign]
    serve(parse_config(argv))


def start_day_sandbox(config: SandboxConfig, shape: str) -> RunningSandbox:
    """The sandbox in a process of its own, its day shaped `uniform` or `clustered`."""
    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {SHAPES}")
    if has_time_shape():
        shaped = dataclasses.replace(config, time_shape="uniform" if shape == "uniform" else "realistic")  # type: ignore[call-arg]
        return start_sandbox(shaped, subprocess=True)
    if shape == "uniform":
        return start_sandbox(config, subprocess=True)
    from zoho_pipelines.sandbox.server import default_clock

    command = [sys.executable, str(Path(__file__).resolve()), *config_arguments(config)]
    process = sp.Popen(command, stdout=sp.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert process.stdout is not None
    first_line = process.stdout.readline().strip()
    if not first_line.startswith("http"):
        process.kill()
        process.wait()
        raise RuntimeError(f"the clustered sandbox did not start (exit code {process.poll()})")

    def stop() -> None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except sp.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()

    running = RunningSandbox(first_line, config, None, stop, default_clock(config))
    running.pid = process.pid  # type: ignore[attr-defined]
    return running


if __name__ == "__main__":
    _serve_clustered(sys.argv[1:])
