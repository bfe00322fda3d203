"""Turning a benchmark run into the three things people read: a table, a JSON file and a chart.

Targets are judged here, from the figures alone, so the table, the JSON and the chart always
agree on what was met.
"""

from __future__ import annotations

import json
from dataclasses import asdict, astuple, dataclass
from pathlib import Path
from typing import Any

import matplotlib as mpl

mpl.use("Agg")  # files only: no display on CI machines or servers

import matplotlib.pyplot as plt
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from suite.machine import machine_line

SYNC_TARGET_RPS = 20_000
CREDITS_TARGET_PER_200 = 0.5
CLUSTERED_TARGET_RPS = 15_000
CLUSTERED_CREDITS_TARGET_PER_200 = 0.35
RSS_TARGET_MB = 500
INGRESS_TARGET_RPS = 500


@dataclass(frozen=True)
class Target:
    name: str
    wanted: str
    measured: str
    met: bool


def credits_per_200(result: dict[str, Any]) -> float | None:
    return round(200 * result["credits"] / result["records"], 3) if result.get("records") else None


def _auto(report: dict[str, Any], scenario: str = "sync") -> dict[str, Any] | None:
    sync = report["results"].get(scenario) or {}
    return next((row for row in sync.get("strategies", []) if row["strategy"] == "auto"), None)


def judge(report: dict[str, Any]) -> list[Target]:
    """Each issue target against the figures (only those scenarios that ran).

    A --quick run uses smaller sizes than the issue's, so its verdicts are only indicative.
    """
    targets = _judge(report)
    if report.get("mode") != "quick":
        return targets
    return [Target(f"[quick sizes] {target.name}", *astuple(target)[1:]) for target in targets]


def _judge(report: dict[str, Any]) -> list[Target]:
    results, targets = report["results"], []
    auto = _auto(report)
    if auto is not None:
        targets.append(
            Target(
                "sync into the lake (auto, 100 ms, concurrency 10)",
                f">= {SYNC_TARGET_RPS:,} records/s",
                f"{auto['records_per_s']:,} records/s",
                auto["records_per_s"] >= SYNC_TARGET_RPS,
            )
        )
        per_200 = credits_per_200(auto)
        targets.append(
            Target(
                "credits on a full sync (auto)",
                f"<= {CREDITS_TARGET_PER_200} per 200 records",
                f"{per_200} per 200 records",
                per_200 is not None and per_200 <= CREDITS_TARGET_PER_200,
            )
        )
    clustered = _auto(report, "clustered")
    if clustered is not None:
        per_200 = credits_per_200(clustered)
        targets += [
            Target(
                "clustered day into the lake (auto, 100 ms, concurrency 10)",
                f">= {CLUSTERED_TARGET_RPS:,} records/s",
                f"{clustered['records_per_s']:,} records/s",
                clustered["records_per_s"] >= CLUSTERED_TARGET_RPS,
            ),
            Target(
                "credits on the clustered day (auto)",
                f"<= {CLUSTERED_CREDITS_TARGET_PER_200} per 200 records",
                f"{per_200} per 200 records",
                per_200 is not None and per_200 <= CLUSTERED_CREDITS_TARGET_PER_200,
            ),
        ]
    if "scale" in results:
        peak = results["scale"]["peak_rss_mb"]
        targets.append(
            Target(
                f"peak RSS, {results['scale']['records_in_day']:,}-record day (sync, load)",
                f"< {RSS_TARGET_MB} MB",
                "{:.0f} / {:.0f} MB".format(
                    results["scale"]["sync"]["peak_rss_mb"], results["scale"]["load"]["peak_rss_mb"]
                ),
                peak < RSS_TARGET_MB,
            )
        )
    if "events" in results:
        events = results["events"]
        targets.append(
            Target(
                "ingress on one core",
                f"> {INGRESS_TARGET_RPS} requests/s",
                f"{events['requests_per_s']:,} requests/s",
                (events["requests_per_s"] or 0) > INGRESS_TARGET_RPS,
            )
        )
        targets.append(Target("events lost", "0", str(events["events_lost"]), events["events_lost"] == 0))
    return targets


# ---- the table ----------------------------------------------------------------------------------


def _number(value: Any, digits: int = 0) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, int | float):
        return f"{value:,.{digits}f}"
    return str(value)


def print_report(report: dict[str, Any], console: Console) -> None:
    machine = report["machine"]
    load = machine["load_average_1m_at_start"]
    console.print(f"[bold]{report['date']}[/] on {machine_line(machine)} (load average {load})")
    console.print(f"command: {report['command']}")
    results = report["results"]
    for scenario in ("sync", "clustered"):
        if scenario in results:
            _sync_table(results[scenario], console)
    if "scale" in results:
        _scale_table(results["scale"], console)
    if "warehouse" in results:
        _warehouse_table(results["warehouse"], console)
    if "events" in results:
        _events_table(results["events"], console)
    table = Table(title="Targets")
    for column in ("target", "wanted", "measured", "met"):
        table.add_column(column)
    for target in report["targets"]:
        # escape: a --quick name starts "[quick sizes]", which rich would take for a style and drop
        table.add_row(escape(target["name"]), target["wanted"], target["measured"], _verdict(target["met"]))
    console.print(table)


def _verdict(met: bool | None) -> str:
    """None: a --quick run's figure that its small size cannot judge (bench/run.py's judged)."""
    return "not judged at this size" if met is None else _number(met)


def _sync_table(sync: dict[str, Any], console: Console) -> None:
    title = (
        f"Sync, {sync.get('shape', 'uniform')} day: "
        f"{sync['records_in_day']:,} {sync['module']} on {sync['day']}, "
        f"{sync['latency_ms']:g} ms latency, concurrency {sync['concurrency']}, "
        f"into the lake + {sync['warehouse']}"
    )
    table = Table(title=title)
    columns = (
        "strategy", "mode", "records/s (lake)", "with load", "API calls", "credits", "credits/200",
        "max in flight", "client CPU us/rec", "peak RSS MB sync / +load", "exact",
    )  # fmt: skip
    for column in columns:
        table.add_column(column, justify="left" if column in ("strategy", "mode") else "right")
    for row in sync["strategies"]:
        table.add_row(
            row["strategy"],
            row["mode"],
            _number(row["records_per_s"]),
            _number(row["records_per_s_with_load"]),
            _number(row["sandbox_calls"]),
            _number(row["sandbox_credits"]),
            _number(credits_per_200({**row, "credits": row["sandbox_credits"]}), 2),
            _number(row.get("max_in_flight")),
            _number(row["client_cpu_us_per_record"], 1),
            f"{_number(row['peak_rss_after_sync_mb'])} / {_number(row['peak_rss_mb'])}",
            _number(row["exact"]),
        )
    console.print(table)


def _scale_table(scale: dict[str, Any], console: Console) -> None:
    table = Table(title=f"Scale: a {scale['records_in_day']:,}-record day ({scale['strategy']})")
    for column in ("step", "seconds", "rate", "API calls", "credits", "peak RSS MB", "note"):
        table.add_column(column, justify="left" if column in ("step", "note") else "right")
    sync, load = scale["sync"], scale["load"]
    table.add_row(
        "Zoho -> lake", _number(sync["seconds"], 1), f"{sync['records_per_s']:,}/s", _number(sync["calls"]),
        _number(sync["credits"]), _number(sync["peak_rss_mb"]),
        f"{sync['partition_mb']} MB Parquet, exact: {_number(sync['exact'])}",
    )  # fmt: skip
    table.add_row(
        "lake -> DuckDB", _number(load["seconds"], 1), f"{load['rows_per_s']:,}/s", "-", "-",
        _number(load["peak_rss_mb"]), f"memory_limit={load['memory_limit']}",
    )  # fmt: skip
    table.add_row("day", _number(scale["total_s"], 1), "", "", "", _number(scale["peak_rss_mb"]), "")
    console.print(table)


def _warehouse_table(warehouse: dict[str, Any], console: Console) -> None:
    table = Table(title="Warehouse: merging one partition of the day, then the same rows again")
    for column in ("backend", "merge s", "rows/s", "re-merge s", "rows/s ", "table unchanged", "peak RSS MB"):
        table.add_column(column, justify="left" if column == "backend" else "right")
    for backend, run in warehouse.items():
        table.add_row(
            backend + (f" (memory_limit={run['memory_limit']})" if "memory_limit" in run else ""),
            _number(run["merge"]["seconds"], 1),
            _number(run["merge"]["rows_per_s"]),
            _number(run["remerge"]["seconds"], 1),
            _number(run["remerge"]["rows_per_s"]),
            _number(run["unchanged_by_remerge"]),
            _number(run["peak_rss_mb"]),
        )
    console.print(table)


def _events_table(events: dict[str, Any], console: Console) -> None:
    flow = "ingress -> queue -> sensor -> refresh runs"
    table = Table(title=f"Events: {events['events']:,} webhooks -> {flow}")
    columns = (
        "requests/s (1 core)", "events/s", "latency p50 s", "latency p95 s", "runs", "failed runs", "lost",
        "DLQ",
    )  # fmt: skip
    for column in columns:
        table.add_column(column, justify="right")
    table.add_row(
        _number(events["requests_per_s"], 1), _number(events["events_per_s"], 1),
        _number(events["latency_s_p50"], 2), _number(events["latency_s_p95"], 2),
        _number(events["runs_created"]), _number(events["failed_runs"]),
        _number(events["events_lost"]), _number(events["dead_letters"]),
    )  # fmt: skip
    console.print(table)


# ---- the files ----------------------------------------------------------------------------------


def write_json(report: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")


def with_targets(report: dict[str, Any]) -> dict[str, Any]:
    return {**report, "targets": [asdict(target) for target in judge(report)]}


def draw_chart(report: dict[str, Any], path: Path) -> None:
    """Four panels (sync rate, credits, memory, events), each with its target drawn in."""
    results = report["results"]
    figure, axes = plt.subplots(2, 2, figsize=(13, 8.5))
    figure.suptitle(
        f"zoho_pipelines benchmarks, {report['date'][:10]}: {machine_line(report['machine'])}", fontsize=12
    )
    sync_rows = (results.get("sync") or {}).get("strategies", [])
    _bars(
        axes[0][0],
        [row["strategy"] for row in sync_rows],
        [row["records_per_s"] for row in sync_rows],
        hatched=[row["mode"] != "lake + warehouse" for row in sync_rows],
        title="Sync into the lake, records/s (hatched: client read only)",
        target=SYNC_TARGET_RPS,
    )
    _bars(
        axes[0][1],
        [row["strategy"] for row in sync_rows],
        [credits_per_200({**row, "credits": row["sandbox_credits"]}) or 0 for row in sync_rows],
        hatched=[row["mode"] != "lake + warehouse" for row in sync_rows],
        title="API credits per 200 records (lower is better)",
        target=CREDITS_TARGET_PER_200,
        digits=2,
    )
    memory = [(f"sync {row['strategy']}", row["peak_rss_after_sync_mb"]) for row in sync_rows]
    if "scale" in results:
        day = f"{results['scale']['records_in_day'] / 1e6:.2g}M day"
        memory += [(f"{day}: sync", results["scale"]["sync"]["peak_rss_mb"])]
        memory += [(f"{day}: load", results["scale"]["load"]["peak_rss_mb"])]
    for backend, run in (results.get("warehouse") or {}).items():
        memory.append((f"merge {backend}", run["peak_rss_mb"]))
    _bars(
        axes[1][0],
        [name for name, _ in memory],
        [value for _, value in memory],
        title="Peak RSS of the process, MB (sync rows: Zoho -> lake)",
        target=RSS_TARGET_MB,
    )
    events = results.get("events")
    if events:
        _bars(
            axes[1][1],
            ["ingress req/s", "events/s"],
            [events["requests_per_s"] or 0, events["events_per_s"] or 0],
            title=(
                f"Events: {events['events']:,} webhooks, latency p50 {events['latency_s_p50']:.1f} s, "
                f"p95 {events['latency_s_p95']:.1f} s, lost {events['events_lost']}"
            ),
            target=INGRESS_TARGET_RPS,
        )
    else:
        axes[1][1].axis("off")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _bars(
    axis: Any,
    labels: list[str],
    values: list[float],
    *,
    title: str,
    target: float,
    hatched: list[bool] | None = None,
    digits: int = 0,
) -> None:
    bars = axis.bar(labels, values, color="#4C78A8")
    for bar, hatch in zip(bars, hatched or [False] * len(values), strict=True):
        if hatch:
            bar.set_hatch("//")
            bar.set_facecolor("#9ECAE9")
    axis.axhline(target, color="#E45756", linestyle="--", linewidth=1.2, label=f"target {target:,g}")
    axis.bar_label(bars, labels=[f"{value:,.{digits}f}" for value in values], fontsize=8)
    axis.set_title(title, fontsize=10)
    axis.tick_params(axis="x", labelrotation=20, labelsize=8)
    axis.legend(fontsize=8, loc="best")
    axis.margins(y=0.12)  # room for the value labels above the tallest bar
