"""Overlapping writers for the concurrency tests: numbered versions of the same 5,000 leads, a way
to start several merges at the same instant (threads or processes), and the processes' bodies.

Functions a child process runs live here, importable by name, because the tests start children
with `spawn` (a fork would copy the parent's DuckDB and driver threads mid-flight).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa

from zoho_pipelines.catalog import default_catalog
from zoho_pipelines.lake import LocalLake, PartitionRef
from zoho_pipelines.schema import build_module_schema
from zoho_pipelines.warehouse import SqlWarehouse, TableRef, open_warehouse
from zoho_pipelines_tests.warehouse.support import LEAD_FIELDS, Partitions, lead

T = TypeVar("T")
LEADS = TableRef("zoho_crm", "leads")
IDS = tuple(f"{number:05d}" for number in range(5_000))
FIRST_DAY = date(2024, 1, 1)
WAIT_S = 60.0  # a bound on every wait, so a broken run fails instead of hanging


def modified_at(version: int) -> datetime:
    """Version `n` of every lead was made at noon on day `n` (later version, later time)."""
    return datetime.combine(FIRST_DAY + timedelta(days=version), datetime.min.time(), UTC).replace(hour=12)


def write_version(partitions: Partitions, version: int, ids: Sequence[str] = IDS) -> PartitionRef:
    """Lake partition of day `version`: each lead named `v<version>`, read an hour after the change."""
    moment = modified_at(version)
    records = [lead(record_id, moment.isoformat(), f"v{version}") for record_id in ids]
    return partitions.write(moment.date(), records, synced_at=moment + timedelta(hours=1))


def versions_held(warehouse: SqlWarehouse) -> list[tuple[Any, ...]]:
    """(name, _modified_time, _record_modified_time, _partition, rows) per distinct version."""
    rows = warehouse.query(
        'SELECT "last_name", "_modified_time", "_record_modified_time", "_partition", COUNT(*) '  # noqa: S608
        f"FROM {LEADS.sql} GROUP BY 1, 2, 3, 4 ORDER BY 1"
    )
    return [
        tuple(value.astimezone(UTC) if isinstance(value, datetime) else value for value in row)
        for row in rows
    ]


def only_version(version: int, count: int = len(IDS)) -> list[tuple[Any, ...]]:
    """What `versions_held` returns when all `count` rows hold `version`."""
    moment = modified_at(version)
    return [(f"v{version}", moment, moment, moment.date(), count)]


def run_together(*calls: Callable[[], T]) -> list[T]:
    """Run each call on its own thread, all released at one instant; the first failure is raised."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(position: int, call: Callable[[], T]) -> None:
        try:
            barrier.wait(WAIT_S)
            results[position] = call()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=item) for item in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_S)
    assert not any(thread.is_alive() for thread in threads), "a writer never finished"
    if errors:
        raise errors[0]
    return results


def lead_schema() -> pa.Schema:
    return build_module_schema(default_catalog().get("crm", "leads"), LEAD_FIELDS).to_arrow()


# ---- bodies of child processes ---------------------------------------------------------------


def merge_when_all_ready(url: str, lake_root: str, day: str, start: Any) -> tuple[int, int, int]:
    """Wait for every sibling at `start` (a Manager barrier), then merge one partition.

    Returns (pid, applied rows, inserted rows).
    """
    lake = LocalLake(Path(lake_root))
    ref = PartitionRef("crm", "leads", date.fromisoformat(day))
    start.wait(WAIT_S)
    with open_warehouse(url) as warehouse:
        result = warehouse.merge_partition(lake, ref)
    return os.getpid(), result.applied_rows, result.inserted_rows


def hold_while_merging(url: str, inside: Any, never: Any) -> None:
    """Start a merge whose rows never come: the warehouse stays busy (for DuckDB: the lock file
    held, the database open, a transaction begun) until this process is killed."""

    def stalled() -> Iterator[pa.RecordBatch]:
        inside.set()
        never.wait()
        yield from ()

    with open_warehouse(url) as warehouse:
        warehouse.merge_batches(lead_schema(), stalled())
