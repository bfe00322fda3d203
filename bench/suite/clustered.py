"""The day's shape in the benchmarks: `uniform`, or `clustered` as real orgs' days are.

Real days are not uniform: mass updates, imports and workflows stamp thousands of records with
one second, many of them exactly 00:00:00 UTC. Issue 10 defines the clustered day measured here:
at least 1% of the day's records at 00:00:00 UTC and at least 5% sharing their second with another
record. The sandbox's `realistic` time shape (`SandboxConfig.time_shape`, see
zoho_pipelines/sandbox/crm_history.py) is that day: on the 100,000-Deal bench day it puts 1.5% of
the records at 00:00:00 UTC and up to about 3,000 on one second (checked when it landed); `uniform`
is the even spread earlier figures were measured on.
"""

from __future__ import annotations

import dataclasses

from zoho_pipelines.sandbox.config import SandboxConfig
from zoho_pipelines.sandbox.server import RunningSandbox, start_sandbox

SHAPES = {"uniform": "uniform", "clustered": "realistic"}
"""The benchmarks' name for a day shape -> the sandbox's."""


def start_day_sandbox(config: SandboxConfig, shape: str) -> RunningSandbox:
    """The sandbox in a process of its own, its history shaped `uniform` or `clustered`."""
    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {sorted(SHAPES)}")
    return start_sandbox(dataclasses.replace(config, time_shape=SHAPES[shape]), subprocess=True)
