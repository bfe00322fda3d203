"""Measure the sandbox: page render time, records/s served over HTTP, and RSS at scale.

    .venv/bin/python bench/sandbox_throughput.py --records 1000000 --pages 300 --clients 2 [--time-shape X]

Render time is measured in-process on the store (200 records, 50 fields for Leads); throughput
and memory on a sandbox running in its own process (subprocess mode), walking page tokens at
zero latency with plain httpx clients, one module per client.
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import httpx
import psutil

from zoho_pipelines.clock import OffsetClock
from zoho_pipelines.sandbox.crm_catalog import MODULES
from zoho_pipelines.sandbox.crm_store import CrmStore
from zoho_pipelines.sandbox.server import RunningSandbox, SandboxConfig, start_sandbox

ANCHOR = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def render_times(records: int, time_shape: str, repeats: int = 50) -> dict[str, float]:
    """Median ms to render one page of 200 records (first 50 fields) per module."""
    config = SandboxConfig(anchor=ANCHOR, records_per_module=records, time_shape=time_shape)
    started = time.perf_counter()
    store = CrmStore(config, OffsetClock.starting_at(ANCHOR))
    print(
        f"populate {len(MODULES)} modules x {records:,} ({time_shape}): {time.perf_counter() - started:.2f} s"
    )
    medians = {}
    for name, spec in MODULES.items():
        fields = [field.api_name for field in spec.fields][:50]
        page = store.page(
            name, sort_by="Modified_Time", descending=False, since_ms=None, limit=200, offset=records // 2
        )
        samples = []
        for _ in range(repeats):
            started = time.perf_counter()
            store.render(name, page.indices, fields)
            samples.append((time.perf_counter() - started) * 1000)
        medians[name] = statistics.median(samples)
    return medians


def walk(sandbox: RunningSandbox, module: str, pages: int) -> int:
    token = httpx.post(
        f"{sandbox.url}/oauth/v2/token",
        params={
            "grant_type": "refresh_token",
            "client_id": sandbox.config.client_id,
            "client_secret": sandbox.config.client_secret,
            "refresh_token": sandbox.config.refresh_token,
        },
    ).json()["access_token"]
    fields = ",".join(field.api_name for field in MODULES[module].fields[:20])
    params: dict[str, str | int] = {
        "fields": fields,
        "per_page": 200,
        "sort_by": "Modified_Time",
        "sort_order": "asc",
    }
    served = 0
    with httpx.Client(base_url=sandbox.url, headers={"Authorization": f"Zoho-oauthtoken {token}"}) as client:
        for _ in range(pages):
            body = client.get(f"/crm/v8/{module}", params=params).json()
            served += body["info"]["count"]
            if not body["info"]["more_records"]:
                break
            params["page_token"] = body["info"]["next_page_token"]
    return served


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--pages", type=int, default=300, help="pages per client")
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--time-shape", choices=("realistic", "uniform"), default="realistic")
    args = parser.parse_args()

    for module, ms in render_times(args.records, args.time_shape).items():
        print(f"render 200 {module} x min(50, all) fields: {ms:.2f} ms (median)")

    config = SandboxConfig(
        anchor=ANCHOR,
        records_per_module=args.records,
        credit_budget=10_000_000,
        concurrency_limit=100,
        time_shape=args.time_shape,
    )
    started = time.perf_counter()
    with start_sandbox(config, subprocess=True) as sandbox:
        print(f"subprocess sandbox ready in {time.perf_counter() - started:.1f} s")
        process = psutil.Process(sandbox.pid)  # type: ignore[attr-defined]
        print(f"RSS after start: {process.memory_info().rss / 2**20:.0f} MiB")
        modules = list(MODULES)[: args.clients]
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.clients) as pool:
            served = sum(pool.map(lambda module: walk(sandbox, module, args.pages), modules))
        elapsed = time.perf_counter() - started
        print(
            f"served {served} records (20 fields) in {elapsed:.1f} s with {args.clients} client(s): "
            f"{served / elapsed:,.0f} records/s"
        )
        print(f"RSS after serving: {process.memory_info().rss / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
