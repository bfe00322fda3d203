"""Child processes for the token-sharing tests: each one a separate Python process with its own client.

They are started with multiprocessing's `spawn` context (a fresh interpreter, nothing inherited
but the environment) and meet at a barrier, so that all of them ask for a token at once: the
worst case for minting, which is what Dagster's run tasks and sensors do when a token expires.
"""

from __future__ import annotations

import multiprocessing
import os
import traceback
from collections.abc import Callable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

MODULES = ("Leads", "Contacts", "Accounts", "Deals")


def read_something(index: int, start: datetime, end: datetime) -> dict[str, Any]:
    """What worker `index` reads: a different module and a different kind of call per worker."""
    from zoho_pipelines.settings import load_settings
    from zoho_pipelines.zoho.client import ZohoClient

    module = MODULES[index % len(MODULES)]
    with ZohoClient.from_settings(load_settings()) as client:
        kind = (index // len(MODULES)) % 3
        if kind == 0:
            count = len(client.crm.field_names(module))
        elif kind == 1:
            batch = next(iter(client.crm.iter_modified(module, ["Modified_Time"], start, end)))
            count = len(batch)
        else:
            count = len(client.crm.modules())
        return {"module": module, "kind": kind, "count": count, **client.stats.snapshot()}


def apply_env(env: Mapping[str, str | None]) -> None:
    """Set the child's environment; None unsets a variable the parent had."""
    for name, value in env.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def spawn_all(target: Callable[..., None], arguments: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """Run `target(*arguments[i], barrier, results)` in a spawned process each; their reports."""
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(len(arguments)), context.Queue()
    processes = [context.Process(target=target, args=(*args, barrier, results)) for args in arguments]
    for process in processes:
        process.start()
    reports = [results.get(timeout=180) for _ in processes]
    for process in processes:
        process.join(timeout=60)
        if process.exitcode != 0:
            raise AssertionError(f"a worker exited with {process.exitcode}")
    return reports


def run_worker(
    index: int,
    env: Mapping[str, str | None],
    start: datetime,
    end: datetime,
    barrier: Any,
    results: Any,
) -> None:
    """Process entry point: set the environment, wait for everyone, read, report (or report the error)."""
    apply_env(env)
    barrier.wait(timeout=120)
    try:
        results.put({"index": index, "ok": True, **read_something(index, start, end)})
    except BaseException:
        results.put({"index": index, "ok": False, "error": traceback.format_exc()})


def sync_a_day(
    index: int, env: Mapping[str, str | None], lake_dir: str, day: date, barrier: Any, results: Any
) -> None:
    """Process entry point: what a Dagster run task does, syncing one module's day into the lake."""
    apply_env(env)
    barrier.wait(timeout=120)
    try:
        from zoho_pipelines.catalog import selected_modules
        from zoho_pipelines.lake import LocalLake
        from zoho_pipelines.pipeline.sync import sync_partition
        from zoho_pipelines.settings import load_settings
        from zoho_pipelines.zoho.client import ZohoClient

        spec = selected_modules({})[index % len(MODULES)]
        with ZohoClient.from_settings(load_settings()) as client:
            synced = sync_partition(client, LocalLake(Path(lake_dir)), spec, day)
            results.put(
                {
                    "index": index,
                    "ok": True,
                    "module": spec.selector,
                    "day": day.isoformat(),
                    "records": synced.records_received,
                    "rows": synced.written.rows,
                    **client.stats.snapshot(),
                }
            )
    except BaseException:
        results.put({"index": index, "ok": False, "error": traceback.format_exc()})


def run_onboarding_handler(
    env: Mapping[str, str | None], event: Mapping[str, Any], barrier: Any, results: Any
) -> None:
    """A Lambda container's first invocation: the handler builds its client from the environment."""
    apply_env(env)
    barrier.wait(timeout=120)
    try:
        from zoho_pipelines.onboarding import handlers

        qualified = handlers.qualify_deal(dict(event))
        results.put({"ok": True, "deal": qualified["deal"]["id"]})
    except BaseException:
        results.put({"ok": False, "error": traceback.format_exc()})
