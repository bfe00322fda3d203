"""Events: webhook POSTs through the ingress, the durable queue, the refresh sensor and its runs.

Four processes, as deployed pieces would be:

- the ingress (`zoho-pipelines ingress`, local durable queues), pinned to one core;
- the sandbox (subprocess), which the refresh runs read the changed records from;
- a poster (`post_webhooks`) sending one workflow webhook per record over keep-alive
  connections, recording when each was sent;
- this scenario's child (`drain_events`), which plays the sensor daemon: it ticks the real
  `refresh_events_sensor` back to back, records each run in a real Dagster instance and executes
  it in process (`event_refresh_job`: fetch the records by id, merge them into DuckDB), noting
  when each run finished and which records it carried.

End-to-end latency of an event is from its POST leaving the poster to the end of the run that
merged its record. Lost events are records that were accepted (HTTP 200) but never merged; the
queue and its dead-letter queue must end empty. Production adds what this loop leaves out on
purpose: the sensor's minimum interval (10 s) and a run launcher's start-up.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dagster as dg
import httpx

from suite.child import process_peak_rss_mb, run_in_child
from suite.ingress import INGRESS_CORE, start_ingress
from zoho_pipelines.defs.events import EventQueuesResource, events_definitions
from zoho_pipelines.defs.resources import default_resources
from zoho_pipelines.events.local_queue import LocalQueue
from zoho_pipelines.events.routing import Target
from zoho_pipelines.sandbox.server import SandboxConfig, start_sandbox
from zoho_pipelines.warehouse import TableRef, open_warehouse
from zoho_pipelines_tests.events.processing.dagster_support import SensorDaemon

SECRET = "bench-webhook-secret-0123456789"  # noqa: S105 (a throwaway value for the benchmark)
SENSOR = "refresh_events_sensor"
MODULES = ("Leads", "Contacts", "Accounts", "Deals")
DRAIN_DEADLINE_S = 1_800.0


def events_pipeline(*, events: int, clients: int, latency_ms: float, workdir: Path) -> dict[str, Any]:
    """The scenario: the parent's entry point (it runs the drain in a child of its own)."""
    per_module = -(-events // len(MODULES))
    config = SandboxConfig(records_per_module=max(2 * per_module, 2_000), latency_ms=latency_ms)
    with (
        start_sandbox(config, subprocess=True) as sandbox,
        # On a real disk, not a RAM-backed /tmp: the queue's fsyncs are part of the figure.
        tempfile.TemporaryDirectory(prefix="events-", dir=workdir) as scratch,
    ):
        home = Path(scratch)
        targets = _record_ids(sandbox.url, per_module)[:events]
        (home / "targets.json").write_text(json.dumps(targets))
        _keep_off_ingress_core(sandbox.pid)  # type: ignore[attr-defined]
        ingress, url = start_ingress(home, SECRET)
        try:
            result = run_in_child(
                "suite.events:drain_events",
                {"home": str(home), "ingress_url": url, "clients": clients, "sandbox_env": sandbox.env()},
            )
            result["ingress_peak_rss_mb"] = process_peak_rss_mb(ingress.pid)
        finally:
            ingress.send_signal(signal.SIGINT)
            ingress.wait(timeout=60)
        result["sandbox_latency_ms"] = latency_ms
    return result


def _record_ids(sandbox_url: str, per_module: int) -> list[tuple[str, str]]:
    """(module, id) of live records, spread over the four CRM modules."""
    chosen: list[tuple[str, str]] = []
    for module in MODULES:
        truth = httpx.get(
            f"{sandbox_url}/__sandbox/truth/{module}",
            params={"start": "2000-01-01T00:00:00+00:00", "end": "2100-01-01T00:00:00+00:00"},
            timeout=120,
        ).json()
        chosen.extend((module, str(record_id)) for record_id in truth["modified"][:per_module])
    # Interleave the modules, as a real stream of changes would.
    return [chosen[index] for index in sorted(range(len(chosen)), key=lambda i: (i % per_module, i))]


def _keep_off_ingress_core(pid: int) -> None:
    """Everything but the ingress on the other core(s), so the ingress has one to itself."""
    if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(pid)) > 1:
        os.sched_setaffinity(pid, os.sched_getaffinity(pid) - {INGRESS_CORE})


# ---- the poster (its own process) ---------------------------------------------------------------


def post_webhooks(params: dict[str, Any]) -> dict[str, Any]:
    """POST one workflow webhook per (module, id); returns rates and each record's send time."""
    targets: list[list[str]] = json.loads(Path(params["targets"]).read_text())
    parts = urlsplit(params["ingress_url"])
    clients = params["clients"]
    headers = {"X-Zoho-Secret": SECRET, "Content-Type": "application/json"}
    sent_at: dict[str, float] = {}
    statuses: dict[int, int] = {}
    latencies: list[float] = []
    lock = threading.Lock()

    def client(share: list[list[str]]) -> None:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        mine_sent, mine_latency, mine_status = {}, [], {}
        for module, record_id in share:
            body = json.dumps({"module": module, "operation": "update", "id": record_id})
            mine_sent[record_id] = time.time()
            started = time.perf_counter()
            connection.request("POST", "/zoho/events", body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            mine_latency.append(time.perf_counter() - started)
            mine_status[response.status] = mine_status.get(response.status, 0) + 1
            if response.status != 200:
                mine_sent.pop(record_id)
        connection.close()
        with lock:
            sent_at.update(mine_sent)
            latencies.extend(mine_latency)
            for status, count in mine_status.items():
                statuses[status] = statuses.get(status, 0) + count

    threads = [threading.Thread(target=client, args=(targets[index::clients],)) for index in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    Path(params["sent"]).write_text(json.dumps(sent_at))
    latencies.sort()
    return {
        "requests": len(targets),
        "accepted": statuses.get(200, 0),
        "statuses": {str(status): count for status, count in statuses.items()},
        "requests_per_s": round(len(targets) / elapsed, 1),
        "http_latency_ms_p50": round(statistics.median(latencies) * 1000, 2),
        "http_latency_ms_p95": round(latencies[max(0, round(0.95 * len(latencies)) - 1)] * 1000, 2),
    }


# ---- the sensor daemon and runs (the scenario's child) ------------------------------------------


@contextmanager
def _environment(home: Path, sandbox_env: dict[str, str]) -> Iterator[None]:
    for name in ("EVENTS_QUEUE_URL", "ZOHO_MODULES", "LEAD_QUALIFICATION_QUEUE_URL"):
        os.environ.pop(name, None)
    os.environ.update(
        ZOHO_PIPELINES_HOME=str(home),
        WAREHOUSE_URL=f"duckdb:///{home / 'warehouse.duckdb'}",
        LAKE_URL=(home / "lake").as_uri(),
        **sandbox_env,
    )
    yield


def drain_events(params: dict[str, Any]) -> dict[str, Any]:
    home = Path(params["home"])
    targets = {record_id: module for module, record_id in json.loads((home / "targets.json").read_text())}
    _keep_off_ingress_core(0)  # the poster, started from here, inherits it
    poster = threading.Thread(
        target=lambda: posted.update(
            run_in_child(
                "suite.events:post_webhooks",
                {
                    "targets": str(home / "targets.json"),
                    "sent": str(home / "sent.json"),
                    "ingress_url": params["ingress_url"],
                    "clients": params["clients"],
                },
            )
        )
    )
    posted: dict[str, Any] = {}
    finished_at: dict[str, float] = {}
    with _environment(home, params["sandbox_env"]), dg.instance_for_test() as instance:
        definitions = events_definitions(
            {**default_resources(), "event_queues": EventQueuesResource(local_dir=str(home / "queue"))}
        )
        daemon = SensorDaemon(instance, definitions, SENSOR)
        started = time.time()
        poster.start()
        sensor_s, ticks, failed_runs, duplicate_requests = 0.0, 0, 0, 0
        deadline = time.monotonic() + DRAIN_DEADLINE_S
        queue_path = home / "queue" / f"{Target.REFRESH.value}.sqlite3"
        while time.monotonic() < deadline:
            poster_done = not poster.is_alive()
            evaluated = time.perf_counter()
            result = daemon.evaluate()
            sensor_s += time.perf_counter() - evaluated
            ticks += 1
            for request in result.run_requests or []:
                if not daemon.record(dg.SensorResult(run_requests=[request])):
                    duplicate_requests += 1  # its run key was recorded before: the daemon skips it
                    continue
                done, outcome = time.time(), daemon.results[-1]
                if not outcome.success:
                    failed_runs += 1
                    continue
                for event in request.run_config["ops"]["refresh_changed_records"]["config"]["events"]:
                    for record_id in event["record_ids"]:
                        finished_at.setdefault(record_id, done)
            daemon.commit(result)
            if not result.run_requests:
                if poster_done and _queue_depth(queue_path) == 0:
                    break
                poster.join(0.05)  # nothing to run yet: give the poster a moment, then tick again
        poster.join()
        runs = len(daemon.runs())
        with LocalQueue(queue_path) as queue:
            depth, dead = queue.depth(), queue.dlq_depth()
        merged = _merged_ids(home)
    sent_at: dict[str, float] = json.loads((home / "sent.json").read_text())
    latencies = sorted(finished_at[key] - sent_at[key] for key in sent_at if key in finished_at)
    lost = sorted(set(sent_at) - (set(finished_at) & merged))
    drained = max(finished_at.values(), default=started) - started
    return {
        "events": len(targets),
        "posted": posted,
        "requests_per_s": posted.get("requests_per_s"),
        "events_per_s": round(len(finished_at) / drained, 1) if drained else None,
        "drain_s": round(drained, 2),
        "latency_s_p50": round(statistics.median(latencies), 3) if latencies else None,
        "latency_s_p95": round(latencies[max(0, round(0.95 * len(latencies)) - 1)], 3) if latencies else None,
        "runs_created": runs,
        "failed_runs": failed_runs,
        "duplicate_run_requests": duplicate_requests,
        "sensor_ticks": ticks,
        "sensor_evaluation_s": round(sensor_s, 2),
        "events_lost": len(lost),
        "lost_sample": lost[:5],
        "queue_depth_after": depth,
        "dead_letters": dead,
    }


def _queue_depth(path: Path) -> int:
    if not path.exists():
        return 0
    with LocalQueue(path) as queue:
        return queue.depth()


def _merged_ids(home: Path) -> set[str]:
    """Ids present in the warehouse tables the refresh runs wrote."""
    found: set[str] = set()
    with open_warehouse(f"duckdb:///{home / 'warehouse.duckdb'}") as warehouse:
        for module in MODULES:
            table = TableRef.for_module("crm", module.lower())
            if warehouse.table_columns(table):
                found.update(str(row[0]) for row in warehouse.query(f"SELECT id FROM {table.sql}"))  # noqa: S608
    return found
