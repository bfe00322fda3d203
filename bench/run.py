"""zoho_pipelines benchmarks: one command for every figure the README quotes.

    .venv/bin/python bench/run.py            # the issue's sizes (about 10-15 minutes on 2 cores)
    .venv/bin/python bench/run.py --quick    # a small smoke run (about 1 minute)
    .venv/bin/python bench/run.py --only sync --only events

Scenarios (each figure comes from a child process of its own, so its peak RSS is its own):

- sync       100,000 Deals modified on one UTC day, from a subprocess sandbox at 100 ms per call
             and concurrency 10, into the lake and DuckDB, for each fetch strategy the client
             has (pages/page_token, parallel windows, COQL, Bulk Read, and `auto`, the pipeline's
             own pick); records/s, API calls and credits (counted by the sandbox, by Zoho's
             published prices), peak RSS, exactness against the sandbox's ground truth.
- clustered  the same day shaped as real days are (mass updates sharing a second, 1.5% of the
             records at 00:00:00 UTC; suite/clustered.py), read with `auto`: records/s, calls,
             credits per 200 records, most calls in flight.
- scale      a 1,000,000-record day through the pipeline (`auto`): time and peak RSS of the
             sync and of the load.
- warehouse  merging that day's 1,000,000 rows into DuckDB and into a real PostgreSQL server,
             then merging the same rows again (the table must not change).
- events     10,000 webhook POSTs through the ingress (pinned to one core), the durable queue,
             the refresh sensor and its runs: requests/s, events/s, end-to-end latency p50/p95,
             runs created, events lost.

Prints the tables and writes bench/results/<timestamp>.json (git-ignored), a chart next to it
(bench/results/<timestamp>.png) and, with --chart, the chart to another path too (the README's
docs/bench.png). Child logs go to bench/results/<timestamp>-logs/.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
# bench/ is a folder of scripts, not an installed package; the events scenario also plays the
# sensor daemon with the tests' helper, so both roots must be importable.
sys.path[:0] = [str(BENCH_DIR), str(REPO_ROOT)]

from rich.console import Console  # noqa: E402
from suite.child import LOG_DIR_VARIABLE  # noqa: E402
from suite.events import events_pipeline  # noqa: E402
from suite.machine import describe_machine, now_utc  # noqa: E402
from suite.report import draw_chart, print_report, with_targets, write_json  # noqa: E402
from suite.scale import scale_day  # noqa: E402
from suite.sync import STRATEGIES, sync_strategies  # noqa: E402
from suite.warehouse import warehouse_merges  # noqa: E402

SCENARIOS = ("sync", "clustered", "scale", "warehouse", "events")
# About 3% of the sandbox's records are deleted, so these put 100,000 and 1,000,000 live records
# in the measured day.
FULL = {"sync_records": 103_100, "day_records": 1_031_100, "events": 10_000}
QUICK = {"sync_records": 10_000, "day_records": 50_000, "events": 500}


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run of every scenario")
    parser.add_argument("--only", action="append", choices=SCENARIOS, help="repeatable; default: all")
    parser.add_argument(
        "--strategy", action="append", choices=STRATEGIES, help="sync strategies (repeatable); default: all"
    )
    parser.add_argument("--sync-records", type=int, help="sandbox records in the sync scenario's day")
    parser.add_argument("--day-records", type=int, help="sandbox records in the scale scenario's day")
    parser.add_argument("--events", type=int, help="webhooks in the events scenario")
    parser.add_argument("--latency-ms", type=float, default=100.0, help="sandbox latency per API call")
    parser.add_argument("--concurrency", type=int, default=10, help="sandbox limit and client concurrency")
    parser.add_argument("--clients", type=int, default=4, help="concurrent webhook senders")
    parser.add_argument("--memory-limit", default="256MB", help="DuckDB memory_limit for every load/merge")
    parser.add_argument("--results", type=Path, default=BENCH_DIR / "results", help="where JSON and PNG go")
    parser.add_argument("--chart", type=Path, help="also write the chart here (e.g. docs/bench.png)")
    parser.add_argument(
        "--report", type=Path, metavar="JSON", help="measure nothing: print (and chart) an earlier run's JSON"
    )
    return parser.parse_args(argv)


def run_scenarios(arguments: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    sizes = QUICK if arguments.quick else FULL
    chosen = arguments.only or list(SCENARIOS)
    console = Console(stderr=True)
    results: dict[str, Any] = {}
    if "sync" in chosen:
        console.log("sync: one strategy after the other")
        results["sync"] = sync_strategies(
            records=arguments.sync_records or sizes["sync_records"],
            latency_ms=arguments.latency_ms,
            concurrency=arguments.concurrency,
            strategies=tuple(arguments.strategy or STRATEGIES),
            memory_limit=arguments.memory_limit,
        )
    if "clustered" in chosen:
        console.log("clustered: auto on a day of mass updates")
        results["clustered"] = sync_strategies(
            records=arguments.sync_records or sizes["sync_records"],
            latency_ms=arguments.latency_ms,
            concurrency=arguments.concurrency,
            strategies=("auto",),
            memory_limit=arguments.memory_limit,
            shape="clustered",
        )
    if "scale" in chosen or "warehouse" in chosen:
        console.log("scale: the big day (its partition also feeds the warehouse scenario)")
        results["scale"] = scale_day(
            records=arguments.day_records or sizes["day_records"],
            latency_ms=arguments.latency_ms,
            concurrency=arguments.concurrency,
            workdir=scratch / "scale",
            memory_limit=arguments.memory_limit,
        )
    if "warehouse" in chosen:
        console.log("warehouse: DuckDB, then PostgreSQL")
        results["warehouse"] = warehouse_merges(
            lake=Path(results["scale"]["lake"]), workdir=scratch, memory_limit=arguments.memory_limit
        )
    if "scale" not in chosen:
        results.pop("scale", None)
    if "events" in chosen:
        console.log("events: webhooks through ingress, queue, sensor and runs")
        results["events"] = events_pipeline(
            events=arguments.events or sizes["events"],
            clients=arguments.clients,
            latency_ms=arguments.latency_ms,
            workdir=scratch,
        )
    return results


def judged(report: dict[str, Any]) -> dict[str, Any]:
    """The report with its targets; a --quick run's rates and credits are left unjudged.

    Rates (records/s, requests/s) at smoke sizes are dominated by start-up, and credits per 200
    records by each window's fixed calls (about 10,000 records cost 11 calls, 21 credits: 0.43 per
    200 on the clustered day, against 0.33 at the issue's size), so judging either would print a
    "NO" that says nothing about the code. Their figures are still shown, marked as not judged;
    memory and events lost are judged at any size.
    """
    report = with_targets(report)
    if report.get("mode") == "quick":
        for target in report["targets"]:
            if _depends_on_size(target["wanted"]):
                target["met"] = None
    return report


def _depends_on_size(wanted: str) -> bool:
    return "/s" in wanted or "per 200 records" in wanted


def main(argv: list[str] | None = None) -> None:
    arguments = parse_arguments(argv)
    if arguments.report:
        report = judged(json.loads(arguments.report.read_text()))
        if arguments.chart:
            draw_chart(report, arguments.chart)
        print_report(report, Console(width=160))
        return
    given = sys.argv[1:] if argv is None else argv
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    logs = arguments.results / f"{stamp}-logs"
    logs.mkdir(parents=True, exist_ok=True)
    os.environ[LOG_DIR_VARIABLE] = str(logs)
    report: dict[str, Any] = {
        "date": now_utc(),
        "machine": describe_machine(),
        "command": shlex.join([".venv/bin/python", "bench/run.py", *given]),
        "mode": "quick" if arguments.quick else "full",
    }
    # Scratch on the project's disk, not a RAM-backed /tmp: lake and warehouse files are real files.
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=".bench-", dir=REPO_ROOT) as scratch:
        report["results"] = run_scenarios(arguments, Path(scratch))
    report["seconds"] = round(time.monotonic() - started)  # the duration --help and the README quote
    report = judged(report)
    json_path = arguments.results / f"{stamp}.json"
    write_json(report, json_path)
    chart_paths = [arguments.results / f"{stamp}.png", *([arguments.chart] if arguments.chart else [])]
    for path in chart_paths:
        draw_chart(report, path)
    console = Console(width=160)
    print_report(report, console)
    console.print(f"wrote {json_path} and {', '.join(str(path) for path in chart_paths)}")
    console.print(f"finished in {report['seconds'] / 60:.1f} minutes")
    if arguments.quick:
        console.print("rates and credits are judged at the issue's sizes only: run without --quick for them")


if __name__ == "__main__":
    main()
