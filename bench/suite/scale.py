"""Scale: a 1,000,000-record UTC day of Deals, Zoho -> lake, then lake -> DuckDB.

The sync and the load each run in a child process of their own, so each reports its own peak
RSS (the sandbox, in its own process too, is not counted). The strategy is the one the
pipeline picks by itself (`auto`), as a daily run would use. The partition is left in
`workdir` for the warehouse scenario, which merges the same million rows.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from suite.child import peak_rss_mb, process_peak_rss_mb, run_in_child
from suite.sync import DAY, bench_spec, day_sandbox_config, partition_is_exact, write_truth
from zoho_pipelines.lake import open_lake
from zoho_pipelines.pipeline import load_partition, sync_partition
from zoho_pipelines.sandbox.server import start_sandbox
from zoho_pipelines.settings import load_settings
from zoho_pipelines.warehouse import open_warehouse
from zoho_pipelines.zoho import ZohoClient

STRATEGY = "auto"


def scale_day(
    *, records: int, latency_ms: float, concurrency: int, workdir: Path, memory_limit: str
) -> dict[str, Any]:
    config = day_sandbox_config(records, latency_ms, concurrency)
    workdir.mkdir(parents=True, exist_ok=True)
    with start_sandbox(config, subprocess=True) as sandbox:
        truth = workdir / "truth.json"
        expected = write_truth(sandbox, bench_spec(STRATEGY).api_name, DAY, truth)
        env = {**sandbox.env(), "ZOHO_MAX_CONCURRENCY": str(concurrency)}
        synced = run_in_child(
            "suite.scale:sync_day", {"env": env, "lake": str(workdir / "lake"), "truth": str(truth)}
        )
        sandbox_peak = process_peak_rss_mb(sandbox.pid)  # type: ignore[attr-defined]
    warehouse = str(workdir / "day.duckdb")
    loaded = run_in_child(
        "suite.scale:load_day",
        {"lake": str(workdir / "lake"), "warehouse": warehouse, "memory_limit": memory_limit},
    )
    return {
        "records_in_day": expected,
        "strategy": STRATEGY,
        "latency_ms": latency_ms,
        "concurrency": concurrency,
        "sync": synced,
        "load": loaded,
        "total_s": round(synced["seconds"] + loaded["seconds"], 2),
        "peak_rss_mb": max(synced["peak_rss_mb"], loaded["peak_rss_mb"]),
        "sandbox_peak_rss_mb": sandbox_peak,
        "lake": str(workdir / "lake"),
    }


def sync_day(params: dict[str, Any]) -> dict[str, Any]:
    spec = bench_spec(STRATEGY)
    lake = open_lake(params["lake"])
    with ZohoClient.from_settings(load_settings(**params["env"])) as client:
        started = time.perf_counter()
        synced = sync_partition(client, lake, spec, DAY)
        seconds, peak = time.perf_counter() - started, peak_rss_mb()
    return {
        "records": synced.records_received,
        "seconds": round(seconds, 2),
        "records_per_s": round(synced.records_received / seconds),
        "calls": synced.api_calls,
        "credits": synced.api_credits,
        "partition_mb": round(synced.written.bytes / 2**20, 1),
        "row_groups": synced.written.row_groups,
        "peak_rss_mb": peak,  # before the exactness check, which holds every id twice
        "exact": partition_is_exact(lake, spec, Path(params["truth"])),
    }


def load_day(params: dict[str, Any]) -> dict[str, Any]:
    spec = bench_spec(STRATEGY)
    lake = open_lake(params["lake"])
    url = f"duckdb://{params['warehouse']}?memory_limit={params['memory_limit']}"
    with open_warehouse(url) as warehouse:
        started = time.perf_counter()
        merged = load_partition(warehouse, lake, spec, DAY)
        seconds = time.perf_counter() - started
    return {
        "rows": merged.applied_rows,
        "seconds": round(seconds, 2),
        "rows_per_s": round(merged.applied_rows / seconds),
        "memory_limit": params["memory_limit"],
        "peak_rss_mb": peak_rss_mb(),
    }
