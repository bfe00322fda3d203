"""Records per second from Zoho to the warehouse, and peak memory, for one module's busy UTC day.

Usage:
    .venv/bin/python bench/pipeline_rate.py --records 100000 --latency-ms 100 --concurrency 10
    .venv/bin/python bench/pipeline_rate.py --shape clustered --runs 3 --without-deletions
    .venv/bin/python bench/pipeline_rate.py --records 1000000 --latency-ms 0 --module leads

`--shape` picks the day: `uniform` (Modified_Times spread evenly) or `clustered` (issue 10's
realistic day: at least 1% of the records at 00:00:00 UTC, at least 5% in mass updates sharing a
second; see bench/suite/clustered.py). With `--runs N` the same sandbox serves N fresh syncs and
the last row is their median.

The sandbox runs in its own process (its CPU and memory are not the pipeline's) with every
record of the module created and modified on one UTC day (history of one day ending at a
midnight anchor). The pipeline then runs as production runs it: `sync_partition` (Zoho -> Parquet
partition) and `load_partition` (partition -> DuckDB merge), both timed. The partition is checked
against the sandbox's ground truth. Memory is this process's RSS (the sandbox excluded): before
the run, and the run's own high-water mark after the sync (Zoho -> Parquet) and after the load
(DuckDB, whose own memory_limit can be set with `--warehouse-options memory_limit=1GB`), each
also as its rise over the run's start.

With `--runs N` a later run starts higher than the first (the 100,000-record clustered day:
142, 356, 385 MB) though nothing of the pipeline outlives a run: after a run and gc.collect(),
the Python objects, tracemalloc's traced bytes, Arrow's allocated bytes and glibc's bytes in use
(mallinfo2: 26 MB) are the same run after run (16 runs of a 20,000-record day). What climbs is
freed memory the allocators keep for reuse: glibc's per-thread arenas (up to 8 per core; they
held 80-300 MB free, RSS after a run 261 -> 307 MB over the 16 runs; with MALLOC_ARENA_MAX=2,
45 MB and a flat 247-260 MB) and mimalloc's pages behind Arrow's pool (60-70 MB resident at 0
bytes allocated). The first run also maps DuckDB's and Arrow's libraries (about 45 MB). So each
run starts from a collected heap, and its peak is the kernel's high-water mark reset at its start
(`/proc/self/clear_refs`, then VmHWM) and shown with its rise over the start: ru_maxrss is the
whole process's and keeps the worst earlier run.

CPU per record is the steadier figure on a shared machine: records/s falls when other work takes
the cores, CPU seconds per record hardly moves. `CPU us/rec` is this process's user + system CPU
over the sync (every thread), `sandbox CPU us/rec` the sandbox process's over the same span (it
plays Zoho's servers, which a real org runs elsewhere; on 2 cores the two compete).
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psutil
from rich.console import Console
from rich.table import Table
from suite.child import process_peak_rss_mb
from suite.clustered import SHAPES, start_day_sandbox

from zoho_pipelines.catalog import ModuleSpec, default_catalog
from zoho_pipelines.lake import PartitionRef, open_lake
from zoho_pipelines.pipeline import day_window, load_partition, sync_partition
from zoho_pipelines.sandbox.server import SandboxConfig
from zoho_pipelines.settings import load_settings
from zoho_pipelines.warehouse import open_warehouse
from zoho_pipelines.zoho import ZohoClient
from zoho_pipelines.zoho.windows import zoho_iso

# A midnight anchor and one day of history: every record falls on the UTC day before it.
ANCHOR = datetime(2026, 11, 27, tzinfo=UTC)
DAY = (ANCHOR - timedelta(days=1)).date()
COLUMNS = (
    "run",
    "records",
    "tombstones",
    "calls",
    "credits/200",
    "max in flight",
    "sync s",
    "sync CPU s",
    "CPU us/rec",
    "sandbox CPU us/rec",
    "load s",
    "records/s (lake)",
    "records/s",
    "MB",
    "RSS MB: start / peak +rise",
    "exact",
)


@dataclass(frozen=True)
class Run:
    records: int
    deletions: int
    api_calls: int
    api_credits: int
    max_in_flight: int
    sync_s: float
    sync_cpu_s: float
    sandbox_cpu_s: float
    load_s: float
    partition_bytes: int
    table_rows: int
    exact: bool
    rss_before_mb: float
    peak_rss_sync_mb: float
    peak_rss_mb: float

    @property
    def total_s(self) -> float:
        return self.sync_s + self.load_s

    @property
    def credits_per_200(self) -> float:
        return 200 * self.api_credits / max(1, self.records)

    @property
    def cpu_us_per_record(self) -> float:
        return 1e6 * self.sync_cpu_s / max(1, self.records)

    @property
    def sandbox_cpu_us_per_record(self) -> float:
        return 1e6 * self.sandbox_cpu_s / max(1, self.records)

    @property
    def lake_rate(self) -> float:
        return self.records / self.sync_s


def reset_peak_rss() -> None:
    """Start this process's resident-set high-water mark afresh (Linux: "5" to clear_refs).

    ru_maxrss cannot serve: the kernel folds each exited thread's high-water mark into it for good.
    """
    Path("/proc/self/clear_refs").write_text("5")


def peak_rss_mb() -> float:
    """This process's resident-set high-water mark since `reset_peak_rss` (VmHWM)."""
    peak = process_peak_rss_mb(os.getpid())
    if peak is None:
        raise RuntimeError("no VmHWM in /proc/self/status: the bench measures memory on Linux")
    return peak


def cpu_seconds(process: psutil.Process) -> float:
    """User plus system CPU a process has used so far (every thread)."""
    times = process.cpu_times()
    return times.user + times.system


def truth(url: str, api_name: str) -> tuple[set[str], set[str]]:
    start, end = day_window(DAY)
    body = httpx.get(
        f"{url}/__sandbox/truth/{api_name}",
        params={"start": zoho_iso(start), "end": zoho_iso(end)},
        timeout=600,
    ).json()
    return {str(i) for i in body["modified"]}, {str(i) for i in body["deleted"]}


def run(
    spec: ModuleSpec,
    env: dict[str, str],
    workdir: Path,
    expected: tuple[set[str], set[str]],
    warehouse_options: str,
    sandbox: psutil.Process,
) -> Run:
    lake = open_lake(str(workdir / "lake"))
    gc.collect()  # the previous run's reference cycles (its client's object graph) are not this run's
    rss_before = psutil.Process().memory_info().rss / 2**20
    reset_peak_rss()
    with (
        ZohoClient.from_settings(load_settings(**env)) as client,
        open_warehouse(f"duckdb://{workdir / 'warehouse.duckdb'}{warehouse_options}") as warehouse,
    ):
        limiter = client.crm.transport.limiter
        limiter.peak_in_flight = 0  # the org's limiter outlives a client: count this run alone
        sandbox_started = cpu_seconds(sandbox)
        started, cpu_started = time.perf_counter(), time.process_time()
        synced = sync_partition(client, lake, spec, DAY)
        synced_at, sync_cpu = time.perf_counter(), time.process_time() - cpu_started
        sandbox_cpu = cpu_seconds(sandbox) - sandbox_started
        peak_after_sync = peak_rss_mb()
        load_partition(warehouse, lake, spec, DAY)
        loaded_at = time.perf_counter()
        table_rows = warehouse.query(f'SELECT count(*) FROM "zoho_crm"."{spec.module}"')[0][0]  # noqa: S608
    ids = lake.read_partition(PartitionRef("crm", spec.module, DAY), columns=["id", "_deleted"]).to_pydict()
    live = {key for key, deleted in zip(ids["id"], ids["_deleted"], strict=True) if not deleted}
    tombstones = [key for key, deleted in zip(ids["id"], ids["_deleted"], strict=True) if deleted]
    exact = (
        live == expected[0]
        and set(tombstones) == expected[1]
        and len(ids["id"]) == len(expected[0]) + len(tombstones)
        and table_rows == len(ids["id"])
    )
    return Run(
        records=synced.records_received,
        deletions=synced.deletions_received,
        api_calls=synced.api_calls,
        api_credits=synced.api_credits,
        max_in_flight=limiter.peak_in_flight,
        sync_s=synced_at - started,
        sync_cpu_s=sync_cpu,
        sandbox_cpu_s=sandbox_cpu,
        load_s=loaded_at - synced_at,
        partition_bytes=synced.written.bytes,
        table_rows=table_rows,
        exact=exact,
        rss_before_mb=rss_before,
        peak_rss_sync_mb=peak_after_sync,
        peak_rss_mb=peak_rss_mb(),
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=100_000, help="records of the module, all on one day")
    parser.add_argument("--latency-ms", type=float, default=100.0, help="added latency per API call")
    parser.add_argument("--concurrency", type=int, default=10, help="sandbox limit and client concurrency")
    parser.add_argument("--module", default="deals", help="CRM module (leads, contacts, accounts, deals)")
    parser.add_argument(
        "--without-deletions",
        action="store_true",
        help="skip the /deleted listing (the client reads at most 2,000 deletion entries since the day)",
    )
    parser.add_argument("--warehouse-options", default="", help="DuckDB settings, e.g. memory_limit=1GB")
    parser.add_argument(
        "--shape", choices=SHAPES, default="uniform", help="how the day's records lie in time"
    )
    parser.add_argument(
        "--runs", type=int, default=1, help="syncs against the same sandbox; prints the median"
    )
    args = parser.parse_args()

    spec = default_catalog().get("crm", args.module)
    if args.without_deletions:
        spec = dataclasses.replace(spec, deletions=False)
    config = SandboxConfig(
        anchor=ANCHOR,
        history_days=1,
        records_per_module=args.records,
        latency_ms=args.latency_ms,
        concurrency_limit=args.concurrency,
        credit_budget=100_000_000,
    )
    results: list[Run] = []
    with start_day_sandbox(config, args.shape) as sandbox:
        env = {**sandbox.env(), "ZOHO_MAX_CONCURRENCY": str(args.concurrency)}
        sandbox_process = psutil.Process(sandbox.pid)  # type: ignore[attr-defined]
        live, deleted = truth(sandbox.url, spec.api_name)
        options = f"?{args.warehouse_options}" if args.warehouse_options else ""
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory(prefix="zoho-bench-") as workdir:
                expected = (live, deleted if spec.deletions else set())
                results.append(run(spec, env, Path(workdir), expected, options, sandbox_process))

    title = (
        f"crm/{spec.module} on {DAY}, {args.shape} day: {args.records:,} records, "
        f"{args.latency_ms:g} ms latency, concurrency {args.concurrency}"
    )
    table = Table(title=title)
    for column in COLUMNS:
        table.add_column(column, justify="right")
    for index, result in enumerate(results, start=1):
        table.add_row(str(index), *row(result))
    if len(results) > 1:
        table.add_row("median", *row(median_run(results)), style="bold")
    Console(width=220).print(table)


def median_run(results: list[Run]) -> Run:
    """Each figure's median over the runs (so the row need not be one run's)."""
    values = {
        item.name: statistics.median(getattr(result, item.name) for result in results)
        for item in dataclasses.fields(Run)
        if item.name != "exact"
    }
    return Run(**values, exact=all(result.exact for result in results))  # type: ignore[arg-type]


def row(result: Run) -> list[str]:
    return [
        f"{result.records:,.0f}",
        f"{result.deletions:,.0f}",
        f"{result.api_calls:,.0f}",
        f"{result.credits_per_200:.2f}",
        f"{result.max_in_flight:.0f}",
        f"{result.sync_s:.1f}",
        f"{result.sync_cpu_s:.1f}",
        f"{result.cpu_us_per_record:.1f}",
        f"{result.sandbox_cpu_us_per_record:.1f}",
        f"{result.load_s:.1f}",
        f"{result.lake_rate:,.0f}",
        f"{result.records / result.total_s:,.0f}",
        f"{result.partition_bytes / 2**20:.1f}",
        f"{result.rss_before_mb:.0f} / sync {result.peak_rss_sync_mb:.0f} "
        f"+{result.peak_rss_sync_mb - result.rss_before_mb:.0f} / load {result.peak_rss_mb:.0f} "
        f"+{result.peak_rss_mb - result.rss_before_mb:.0f}",
        "yes" if result.exact else "NO",
    ]


if __name__ == "__main__":
    main()
