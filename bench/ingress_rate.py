"""How many webhook deliveries the ingress takes per second, in process and over loopback HTTP.

    .venv/bin/python bench/ingress_rate.py [--requests 2000] [--clients 4] [--calls 5000]

1. In process: `IngressHandler` calls/s, once with a publisher that drops events (the cost of
   reading, authenticating and normalising alone) and once with the real local router (plus
   routing and durable SQLite queue writes, synchronous=FULL).
2. Over HTTP: `zoho-pipelines ingress` started as its own process (local queues in a scratch
   directory), driven by `--clients` threads, each with one keep-alive connection, for a
   bounded number of requests in total. Reports requests/s and latency percentiles, and checks
   that every accepted event reached the refresh queue.

Prints one JSON document; with --output, also writes it there (bench/results/ is git-ignored).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import statistics
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

from suite.ingress import start_ingress

from zoho_pipelines.events.ingress import IngressConfig, make_handler
from zoho_pipelines.events.local_queue import LocalQueue
from zoho_pipelines.events.local_router import LocalRouter
from zoho_pipelines.events.model import ZohoEvent

SECRET = "bench-secret-0123456789"  # noqa: S105 (a throwaway value for the benchmark)
HEADERS = {"X-Zoho-Secret": SECRET, "Content-Type": "application/json"}


class DroppingPublisher:
    """Accepts and forgets: isolates the handler's own cost from any destination."""

    def publish(self, events: Sequence[ZohoEvent]) -> None:
        return None


def webhook_body(n: int) -> str:
    return json.dumps(
        {
            "module": "Deals",
            "operation": "update",
            "id": str(5_725_767_000_000_000 + n),
            "stage": "Qualification",
        }
    )


def api_event(body: str) -> dict:
    return {
        "version": "2.0",
        "headers": {name.lower(): value for name, value in HEADERS.items()},
        "requestContext": {"requestId": "bench", "http": {"method": "POST"}},
        "body": body,
        "isBase64Encoded": False,
    }


def in_process_rate(calls: int, publisher: object) -> float:
    handler = make_handler(IngressConfig(webhook_secrets=(SECRET,)), publisher=publisher)
    events = [api_event(webhook_body(n)) for n in range(calls)]
    started = time.perf_counter()
    for event in events:
        if handler(event)["statusCode"] != 200:
            raise RuntimeError("the handler refused a valid request")
    return calls / (time.perf_counter() - started)


def http_rate(url: str, requests: int, clients: int) -> dict[str, float]:
    parts = urlsplit(url)
    latencies: list[float] = []
    failures: list[int] = []
    lock = threading.Lock()

    def client(first: int, count: int) -> None:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        mine = []
        for n in range(first, first + count):
            started = time.perf_counter()
            connection.request("POST", "/zoho/events", body=webhook_body(n), headers=HEADERS)
            response = connection.getresponse()
            response.read()
            mine.append(time.perf_counter() - started)
            if response.status != 200:
                failures.append(response.status)
        connection.close()
        with lock:
            latencies.extend(mine)

    share = requests // clients
    threads = [threading.Thread(target=client, args=(index * share, share)) for index in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} requests failed: {sorted(set(failures))}")
    latencies.sort()
    return {
        "requests": share * clients,
        "clients": clients,
        "requests_per_s": round(share * clients / elapsed, 1),
        "latency_ms_p50": round(statistics.median(latencies) * 1000, 2),
        "latency_ms_p99": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=2000, help="HTTP requests in total")
    parser.add_argument("--clients", type=int, default=4, help="concurrent keep-alive connections")
    parser.add_argument("--calls", type=int, default=5000, help="in-process handler calls per measurement")
    parser.add_argument("--output", type=Path, help="also write the JSON result here")
    arguments = parser.parse_args()

    # A scratch directory on the same disk as the project, not a RAM-backed /tmp, so fsyncs are real.
    with tempfile.TemporaryDirectory(prefix="ingress-bench-", dir=Path.cwd()) as scratch:
        scratch_dir = Path(scratch)
        router = LocalRouter(scratch_dir / "in-process")
        result = {
            "handler_calls_per_s_dropping_publisher": round(
                in_process_rate(arguments.calls, DroppingPublisher()), 1
            ),
            "handler_calls_per_s_local_router": round(in_process_rate(arguments.calls // 5, router), 1),
        }
        router.close()

        process, url = start_ingress(scratch_dir, SECRET, pin_core=False)
        try:
            result["http"] = http_rate(url, arguments.requests, arguments.clients)
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=30)
        with LocalQueue(scratch_dir / "queue" / "refresh.sqlite3") as queue:
            delivered = queue.depth()
        if delivered != result["http"]["requests"]:
            raise RuntimeError(
                f"{delivered} events in the refresh queue, expected {result['http']['requests']}"
            )
        result["http"]["events_in_refresh_queue"] = delivered
        result["cpu_count"] = os.cpu_count()

    text = json.dumps(result, indent=2)
    print(text)
    if arguments.output:
        arguments.output.parent.mkdir(parents=True, exist_ok=True)
        arguments.output.write_text(text + "\n")


if __name__ == "__main__":
    main()
