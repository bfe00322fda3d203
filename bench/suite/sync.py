"""Sync: one busy UTC day of CRM Deals from a subprocess sandbox into the lake and the warehouse.

The parent (`sync_strategies`) starts one sandbox in its own process, with every record of the
module modified on one UTC day, and runs each fetch strategy in a child process of its own
(`sync_into_lake`), so each gets a clean peak RSS. A strategy the batch pipeline offers runs as
production runs it: `sync_partition` (Zoho -> Parquet) then `load_partition` (-> DuckDB). One
the pipeline refuses (today COQL and Bulk Read, which return lookups without their names) is
measured as a client read only, with the pipeline's reason. Every run is checked against the
sandbox's ground truth, and the sandbox's own counters confirm the calls and credits.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from suite.child import peak_rss_mb, process_peak_rss_mb, run_in_child
from suite.clustered import start_day_sandbox
from zoho_pipelines.catalog import FetchStrategy, ModuleSpec, default_catalog
from zoho_pipelines.lake import PartitionRef, open_lake
from zoho_pipelines.pipeline import (
    ModuleSource,
    UnsupportedStrategyError,
    day_window,
    load_partition,
    sync_partition,
)
from zoho_pipelines.sandbox.server import RunningSandbox, SandboxConfig
from zoho_pipelines.settings import load_settings
from zoho_pipelines.warehouse import open_warehouse
from zoho_pipelines.zoho import ZohoClient
from zoho_pipelines.zoho.crm_bulk import BulkPolling
from zoho_pipelines.zoho.windows import zoho_iso

# A midnight anchor and one day of history: every record falls on the UTC day before it.
ANCHOR = datetime(2026, 11, 27, tzinfo=UTC)
DAY = (ANCHOR - timedelta(days=1)).date()
MODULE = "deals"
STRATEGIES = ("pages", "windows", "coql", "bulk", "auto")


def day_sandbox_config(records: int, latency_ms: float, concurrency: int) -> SandboxConfig:
    return SandboxConfig(
        anchor=ANCHOR,
        history_days=1,
        records_per_module=records,
        latency_ms=latency_ms,
        concurrency_limit=concurrency,
        credit_budget=1_000_000_000,
    )


def write_truth(sandbox: RunningSandbox, api_name: str, day: date, path: Path) -> int:
    """The ids Zoho holds for the day, from the sandbox's ground truth, into a file children read."""
    start, end = day_window(day)
    body = httpx.get(
        f"{sandbox.url}/__sandbox/truth/{api_name}",
        params={"start": zoho_iso(start), "end": zoho_iso(end)},
        timeout=600,
    ).json()
    path.write_text(json.dumps([str(key) for key in body["modified"]]))
    return len(body["modified"])


def bench_spec(strategy: str) -> ModuleSpec:
    """Deals with the strategy under test, without the deleted-records listing.

    Zoho's /deleted takes only `page`, which stops at 2,000 entries, and a synthetic day where
    every record was created holds more deletions than that; deletions are measured (and
    tested) elsewhere, so the figure here is the records read alone.
    """
    spec = default_catalog().get("crm", MODULE)
    return dataclasses.replace(spec, fetch=FetchStrategy(strategy), deletions=False)


def sandbox_counters(sandbox: RunningSandbox) -> tuple[int, int]:
    stats = sandbox.stats()
    return int(stats["total_calls"]), int(stats["credits_used"])


def sync_strategies(
    *,
    records: int,
    latency_ms: float,
    concurrency: int,
    strategies: tuple[str, ...],
    memory_limit: str,
    shape: str = "uniform",
) -> dict[str, Any]:
    """Every strategy against one sandbox; calls and credits also counted on the sandbox's side.

    `shape` is the day's: `uniform`, or `clustered` (mass updates, 1.5% at 00:00:00 UTC; see
    suite/clustered.py), where a read that samples the day's first records goes wrong.
    """
    config = day_sandbox_config(records, latency_ms, concurrency)
    results = []
    with (
        start_day_sandbox(config, shape) as sandbox,
        tempfile.TemporaryDirectory(prefix="zoho-bench-sync-") as scratch,
    ):
        truth_path = Path(scratch) / "truth.json"
        expected = write_truth(sandbox, bench_spec("auto").api_name, DAY, truth_path)
        for strategy in strategies:
            calls_before, credits_before = sandbox_counters(sandbox)
            result = run_in_child(
                "suite.sync:sync_into_lake",
                {
                    "env": {**sandbox.env(), "ZOHO_MAX_CONCURRENCY": str(concurrency)},
                    "strategy": strategy,
                    "workdir": str(Path(scratch) / strategy),
                    "truth": str(truth_path),
                    "memory_limit": memory_limit,
                },
            )
            calls_after, credits_after = sandbox_counters(sandbox)
            result["sandbox_calls"] = calls_after - calls_before
            result["sandbox_credits"] = credits_after - credits_before
            results.append(result)
        sandbox_peak = process_peak_rss_mb(sandbox.pid)  # type: ignore[attr-defined]
    return {
        "module": f"crm/{MODULE}",
        "shape": shape,
        "day": DAY.isoformat(),
        "records_in_day": expected,
        "latency_ms": latency_ms,
        "concurrency": concurrency,
        "warehouse": f"duckdb (memory_limit={memory_limit})",
        "sandbox_peak_rss_mb": sandbox_peak,
        "strategies": results,
    }


# ---- in the child -------------------------------------------------------------------------------


def sync_into_lake(params: dict[str, Any]) -> dict[str, Any]:
    """One strategy; peaks are taken before the exactness check, which holds every id twice."""
    strategy = params["strategy"]
    truth = Path(params["truth"])
    workdir = Path(params["workdir"])
    workdir.mkdir(parents=True)
    settings = load_settings(**params["env"])
    polling = BulkPolling(initial_s=0.2, max_s=1.0)
    spec = bench_spec(strategy)
    with ZohoClient.from_settings(settings, bulk_polling=polling) as client:
        refusal = pipeline_refusal(client, spec)
        if refusal is not None:
            return _client_read(client, spec, truth, refusal)
        return _pipeline_run(client, spec, workdir, truth, params["memory_limit"])


def pipeline_refusal(client: ZohoClient, spec: ModuleSpec) -> str | None:
    """Why the batch pipeline will not read `spec` this way, or None when it will (no call made)."""
    try:
        reader = ModuleSource(client, spec).records([], *day_window(DAY))
    except UnsupportedStrategyError as refused:
        return str(refused)
    close = getattr(reader, "close", None)
    if close is not None:
        close()
    return None


def _pipeline_run(
    client: ZohoClient, spec: ModuleSpec, workdir: Path, truth: Path, memory_limit: str
) -> dict[str, Any]:
    lake = open_lake(str(workdir / "lake"))
    started, cpu_started = time.perf_counter(), time.process_time()
    synced = sync_partition(client, lake, spec, DAY)
    synced_at, sync_cpu = time.perf_counter(), time.process_time() - cpu_started
    peak_after_sync = peak_rss_mb()
    warehouse_url = f"duckdb://{workdir / 'warehouse.duckdb'}?memory_limit={memory_limit}"
    with open_warehouse(warehouse_url) as warehouse:
        merged = load_partition(warehouse, lake, spec, DAY)
    loaded_at, peak = time.perf_counter(), peak_rss_mb()
    stats = client.stats.snapshot()
    return {
        "strategy": spec.fetch.value,
        "mode": "lake + warehouse",
        "records": synced.records_received,
        "sync_s": round(synced_at - started, 2),
        "load_s": round(loaded_at - synced_at, 2),
        "records_per_s": round(synced.records_received / (synced_at - started)),
        "records_per_s_with_load": round(synced.records_received / (loaded_at - started)),
        "client_cpu_us_per_record": round(1e6 * sync_cpu / max(1, synced.records_received), 1),
        "calls": synced.api_calls,
        "credits": synced.api_credits,
        "retries": stats["retries"],
        "max_in_flight": client.crm.transport.limiter.peak_in_flight,
        "peak_rss_after_sync_mb": peak_after_sync,
        "peak_rss_mb": peak,
        "warehouse_rows": merged.applied_rows,
        "exact": partition_is_exact(lake, spec, truth),
    }


def partition_is_exact(lake: Any, spec: ModuleSpec, truth: Path) -> bool:
    """The day's partition holds each of the sandbox's ids once, and nothing else."""
    written = lake.read_partition(PartitionRef(spec.app, spec.module, DAY), columns=["id"]).column("id")
    ids = written.to_pylist()
    expected = set(json.loads(truth.read_text()))
    return len(ids) == len(set(ids)) == len(expected) and set(ids) == expected


def _client_read(client: ZohoClient, spec: ModuleSpec, truth: Path, refusal: str) -> dict[str, Any]:
    fields = client.crm.field_names(spec.api_name)
    start, end = day_window(DAY)
    reader: Iterator[list[dict[str, Any]]] = (
        client.crm.iter_modified_parallel(spec.api_name, fields, start, end, via="coql", name_lookups=True)
        if spec.fetch is FetchStrategy.COQL
        else client.crm.iter_bulk(spec.api_name, fields, start, end)
    )
    before = client.stats.snapshot()
    seen: list[str] = []
    started, cpu_started = time.perf_counter(), time.process_time()
    for batch in reader:
        seen.extend(str(row.get("id") or row.get("Id")) for row in batch)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    after, peak = client.stats.snapshot(), peak_rss_mb()
    expected = set(json.loads(truth.read_text()))
    return {
        "strategy": spec.fetch.value,
        "mode": "client read only",
        "why_not_in_pipeline": refusal,
        "records": len(seen),
        "sync_s": round(seconds, 2),
        "load_s": None,
        "records_per_s": round(len(seen) / seconds),
        "records_per_s_with_load": None,
        "client_cpu_us_per_record": round(1e6 * cpu / max(1, len(seen)), 1),
        "calls": after["calls"] - before["calls"],
        "credits": after["credits"] - before["credits"],
        "retries": after["retries"] - before["retries"],
        "max_in_flight": client.crm.transport.limiter.peak_in_flight,
        "peak_rss_after_sync_mb": peak,
        "peak_rss_mb": peak,
        "warehouse_rows": None,
        "exact": len(seen) == len(set(seen)) == len(expected) and set(seen) == expected,
    }
