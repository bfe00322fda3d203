"""What a figure was measured on: the date, the CPU model, its cores and the memory."""

from __future__ import annotations

import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil


def cpu_model() -> str:
    """The CPU's marketing name (Linux /proc/cpuinfo), else what the platform module knows."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def describe_machine() -> dict[str, Any]:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu_model": cpu_model(),
        "cores": usable,
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "load_average_1m_at_start": round(os.getloadavg()[0], 2),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }


def now_utc() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def machine_line(machine: dict[str, Any]) -> str:
    return f"{machine['cpu_model']}, {machine['cores']} cores, {machine['ram_gb']:g} GB RAM"
