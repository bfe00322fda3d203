"""Events through the sensor per second, and the latency from a change in Zoho to the warehouse.

    PYTHONPATH=. .venv/bin/python bench/events_latency.py [--events 20000] [--iterations 40] [--output FILE]

(PYTHONPATH: the sensor is ticked by the same in-process daemon stand-in the tests use.)

1. Sensor throughput: `--events` one-record notifications (4 CRM modules x 3 operations) wait
   in the durable local refresh queue; the refresh sensor is ticked as the daemon ticks it
   (runs recorded in a real Dagster instance, as the daemon records them before a launcher
   starts them) until the queue is empty. Reports events/s over the time spent in sensor
   evaluations (receive, parse, de-duplicate, batch, acknowledge) and the runs it took.
2. Change-to-row latency: the sandbox (in process) with a watch channel on Leads POSTs its
   notifications to the local ingress; for each of `--iterations` rounds one lead is edited
   and the clock runs until the warehouse row (DuckDB) carries the lead's new Modified_Time,
   with the sensor ticking back to back and runs executed in process. Reports median and p95.
   Production adds what this loop leaves out on purpose: the sensor's minimum interval (10 s)
   and the run launcher's start-up (a new ECS task per run).

Prints one JSON document; with --output, also writes it there.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg

from zoho_pipelines.defs.events import EventQueuesResource, events_definitions
from zoho_pipelines.defs.resources import default_resources
from zoho_pipelines.events.ingress import IngressConfig, make_handler
from zoho_pipelines.events.local_router import LocalRouter
from zoho_pipelines.events.local_server import IngressServer
from zoho_pipelines.events.routing import Target
from zoho_pipelines.sandbox.server import SandboxConfig, start_sandbox
from zoho_pipelines.settings import load_settings
from zoho_pipelines.warehouse import TableRef, open_warehouse
from zoho_pipelines.zoho.client import ZohoClient
from zoho_pipelines.zoho.crm_notifications import WatchChannel
from zoho_pipelines_tests.events.processing.dagster_support import SensorDaemon, many_events

TOKEN = "bench-channel-token-0001"  # noqa: S105 (a throwaway value for the benchmark)
SENSOR = "refresh_events_sensor"
LEADS_TABLE = TableRef.for_module("crm", "leads")


@contextmanager
def environment(home: Path, **extra: str) -> Iterator[None]:
    """The product's variables pointed at `home`, restored afterwards."""
    values = {
        "ZOHO_PIPELINES_HOME": str(home),
        "WAREHOUSE_URL": f"duckdb:///{home / 'warehouse.duckdb'}",
        "LAKE_URL": (home / "lake").as_uri(),
        **extra,
    }
    saved = {name: os.environ.get(name) for name in (*values, "EVENTS_QUEUE_URL", "ZOHO_MODULES")}
    os.environ.pop("EVENTS_QUEUE_URL", None)
    os.environ.pop("ZOHO_MODULES", None)
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def definitions(home: Path) -> dg.Definitions:
    return events_definitions(
        {**default_resources(), "event_queues": EventQueuesResource(local_dir=str(home / "queue"))}
    )


def sensor_throughput(events: int) -> dict[str, Any]:
    per_group = max(1, events // 12)
    with (
        tempfile.TemporaryDirectory() as scratch,
        environment(Path(scratch)),
        dg.instance_for_test() as instance,
    ):
        home = Path(scratch)
        router = LocalRouter(home / "queue")
        queued = many_events(
            ("Leads", "Contacts", "Accounts", "Deals"), ("insert", "update", "delete"), per_group
        )
        router.publish(queued)
        queue = router.queue(Target.REFRESH)
        # Runs are recorded, not executed: reported successful at once, so their events are acknowledged.
        daemon = SensorDaemon(
            instance, definitions(home), SENSOR, execute=False, finish_as=dg.DagsterRunStatus.SUCCESS
        )
        evaluating = recording = 0.0
        ticks = 0
        while queue.depth():
            started = time.perf_counter()
            result = daemon.evaluate()
            evaluated = time.perf_counter()
            daemon.record(result)
            daemon.commit(result)
            evaluating += evaluated - started
            recording += time.perf_counter() - evaluated
            ticks += 1
        runs = len(daemon.runs())
        router.close()
    return {
        "events": len(queued),
        "ticks": ticks,
        "runs": runs,
        "sensor_seconds": round(evaluating, 3),
        "events_per_second": round(len(queued) / evaluating),
        "run_recording_seconds": round(recording, 3),
    }


def change_to_row_latency(iterations: int) -> dict[str, Any]:
    sandbox = start_sandbox(SandboxConfig(records_per_module=500))
    state = sandbox.state
    assert state is not None
    latencies: list[float] = []
    with (
        tempfile.TemporaryDirectory() as scratch,
        environment(Path(scratch), **sandbox.env()),
        dg.instance_for_test() as instance,
    ):
        home = Path(scratch)
        router = LocalRouter(home / "queue")
        handler = make_handler(IngressConfig(channel_tokens=(TOKEN,)), publisher=router)
        with IngressServer(handler) as ingress, ZohoClient.from_settings(load_settings()) as client:
            channel = WatchChannel(
                channel_id=1_000_000_068_001,
                events=("Leads.edit",),
                notify_url=f"{ingress.url}/zoho/events",
                token=TOKEN,
                channel_expiry=datetime.now(UTC) + timedelta(hours=1),
            )
            client.crm.notifications.enable([channel])
            daemon = SensorDaemon(instance, definitions(home), SENSOR)
            for _ in range(iterations):
                started = time.perf_counter()
                (lead_id,) = state.crm.mutate("Leads", edits=1)["edited"]
                wanted = datetime.fromisoformat(
                    state.crm.record("Leads", lead_id)["Modified_Time"]
                ).astimezone(UTC)
                deadline = time.monotonic() + 30
                while _stored_time(home, lead_id) != wanted:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"lead {lead_id} did not reach the warehouse in 30 s")
                    daemon.tick()
                latencies.append(time.perf_counter() - started)
            failed = [result.run_id for result in daemon.results if not result.success]
        router.close()
    sandbox.stop()
    ordered = sorted(latencies)
    return {
        "iterations": iterations,
        "runs": len(daemon.results),
        "failed_runs": len(failed),
        "median_seconds": round(statistics.median(ordered), 3),
        "p95_seconds": round(ordered[max(0, round(0.95 * len(ordered)) - 1)], 3),
        "max_seconds": round(ordered[-1], 3),
    }


def _stored_time(home: Path, lead_id: str) -> datetime | None:
    warehouse = open_warehouse(f"duckdb:///{home / 'warehouse.duckdb'}")
    try:
        if not warehouse.table_columns(LEADS_TABLE):
            return None
        rows = warehouse.query('SELECT _modified_time FROM "zoho_crm"."leads" WHERE id = ?', [lead_id])
    finally:
        warehouse.close()
    return rows[0][0] if rows else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--iterations", type=int, default=40)
    parser.add_argument("--output", type=Path)
    arguments = parser.parse_args()
    report = {
        "sensor_throughput": sensor_throughput(arguments.events),
        "change_to_row_latency": change_to_row_latency(arguments.iterations),
    }
    text = json.dumps(report, indent=2)
    print(text)
    if arguments.output:
        arguments.output.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
