"""Where a partition lives: `zoho/<app>/<module>/date=YYYY-MM-DD/<module>.parquet`.

The key layout is a contract (design.md): Hive-style `date=` directories let DuckDB, Athena and
Redshift Spectrum prune by day without a catalog.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

ROOT = "zoho"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class PartitionRef:
    """One daily partition of one module."""

    app: str
    module: str
    day: date

    def __post_init__(self) -> None:
        for part in (self.app, self.module):
            if not _NAME.match(part):
                raise ValueError(f"lake names are snake case, got {part!r}")

    @property
    def module_prefix(self) -> str:
        return f"{ROOT}/{self.app}/{self.module}/"

    @property
    def directory(self) -> str:
        return f"{self.module_prefix}date={self.day.isoformat()}"

    @property
    def key(self) -> str:
        return f"{self.directory}/{self.module}.parquet"


def day_from_directory(name: str) -> date | None:
    """`date=2024-03-05` -> date(2024, 3, 5); anything else -> None."""
    if not name.startswith("date="):
        return None
    try:
        return date.fromisoformat(name.removeprefix("date="))
    except ValueError:
        return None
