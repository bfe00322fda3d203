"""How fast the CRM client reads a modified-time window, by strategy, against a subprocess sandbox.

Usage:
    .venv/bin/python bench/fetch_rate.py --records 100000 --latency-ms 100 --concurrency 10
    .venv/bin/python bench/fetch_rate.py --strategy coql --strategy parallel
    .venv/bin/python bench/fetch_rate.py --strategy auto --shape clustered

The sandbox runs in its own process (so its CPU and memory are not the client's) with the given
per-call latency and concurrency limit; the client is configured with the same concurrency. Every
strategy reads the same whole-history window and is checked against the sandbox's ground truth.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

import httpx
from rich.console import Console
from rich.table import Table
from suite.clustered import SHAPES, start_day_sandbox

from zoho_pipelines.sandbox.server import SandboxConfig
from zoho_pipelines.settings import load_settings
from zoho_pipelines.zoho import ZohoClient
from zoho_pipelines.zoho.crm_bulk import BulkPolling
from zoho_pipelines.zoho.windows import zoho_iso

ANCHOR = datetime(2026, 11, 27, 12, tzinfo=UTC)
MODULE = "Deals"
STRATEGIES = ("pages", "parallel", "coql", "parallel-coql", "bulk", "auto")


@dataclass(frozen=True)
class Measurement:
    strategy: str
    records: int
    seconds: float
    calls: int
    credits: int
    retries: int
    client_cpu_s: float
    exact: bool

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0


def _reader(client: ZohoClient, strategy: str) -> Callable[..., Iterator[list[dict]]]:
    crm = client.crm
    return {
        "pages": crm.iter_modified,
        "parallel": crm.iter_modified_parallel,
        "coql": crm.iter_modified_coql,
        "parallel-coql": partial(crm.iter_modified_parallel, via="coql"),
        "bulk": crm.iter_bulk,
        "auto": crm.iter_modified_auto,
    }[strategy]


def measure(strategy: str, env: dict[str, str], fields_limit: int | None, truth: set[str]) -> Measurement:
    settings = load_settings(**env)
    start, end = ANCHOR - timedelta(days=60), ANCHOR + timedelta(days=1)
    polling = BulkPolling(initial_s=0.2, max_s=1.0)
    with ZohoClient.from_settings(settings, bulk_polling=polling) as client:
        fields = client.crm.field_names(MODULE)[:fields_limit]
        before = client.stats.snapshot()
        seen: set[str] = set()
        started, cpu_started = time.perf_counter(), time.process_time()
        count = 0
        for batch in _reader(client, strategy)(MODULE, fields, start, end):
            count += len(batch)
            seen.update(str(row.get("id") or row.get("Id")) for row in batch)
        seconds = time.perf_counter() - started
        client_cpu_s = time.process_time() - cpu_started
        after = client.stats.snapshot()
    return Measurement(
        strategy=strategy,
        records=count,
        seconds=seconds,
        calls=after["calls"] - before["calls"],
        credits=after["credits"] - before["credits"],
        retries=after["retries"] - before["retries"],
        client_cpu_s=client_cpu_s,
        exact=count == len(seen) and seen == truth,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=100_000, help="Deals in the sandbox")
    parser.add_argument("--latency-ms", type=float, default=100.0, help="added latency per API call")
    parser.add_argument("--concurrency", type=int, default=10, help="sandbox limit and client concurrency")
    parser.add_argument(
        "--strategy", action="append", choices=STRATEGIES, help="repeatable; default: all but bulk"
    )
    parser.add_argument("--fields", type=int, default=None, help="read only the first N fields")
    parser.add_argument("--shape", choices=sorted(SHAPES), default="uniform", help="the history's time shape")
    args = parser.parse_args()
    strategies = args.strategy or ["pages", "parallel", "coql", "parallel-coql"]

    config = SandboxConfig(
        anchor=ANCHOR,
        records_per_module=args.records,
        latency_ms=args.latency_ms,
        concurrency_limit=args.concurrency,
        credit_budget=10_000_000,
    )
    with start_day_sandbox(config, args.shape) as sandbox:
        start, end = ANCHOR - timedelta(days=60), ANCHOR + timedelta(days=1)
        truth = httpx.get(
            f"{sandbox.url}/__sandbox/truth/{MODULE}",
            params={"start": zoho_iso(start), "end": zoho_iso(end)},
            timeout=120,
        ).json()["modified"]
        env = {**sandbox.env(), "ZOHO_MAX_CONCURRENCY": str(args.concurrency)}
        results = [measure(name, env, args.fields, {str(i) for i in truth}) for name in strategies]

    title = (
        f"{MODULE}, {args.shape} history: {args.records:,} records, {args.latency_ms:g} ms latency, "
        f"concurrency {args.concurrency}"
    )
    table = Table(title=title)
    columns = (
        "strategy",
        "records",
        "seconds",
        "records/s",
        "calls",
        "credits",
        "retries",
        "client CPU s",
        "exact",
    )
    for column in columns:
        table.add_column(column, justify="left" if column == "strategy" else "right")
    for result in results:
        table.add_row(
            result.strategy,
            f"{result.records:,}",
            f"{result.seconds:.1f}",
            f"{result.rate:,.0f}",
            str(result.calls),
            str(result.credits),
            str(result.retries),
            f"{result.client_cpu_s:.1f}",
            "yes" if result.exact else "NO",
        )
    Console(width=140).print(table)


if __name__ == "__main__":
    main()
