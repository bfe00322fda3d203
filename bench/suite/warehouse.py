"""Warehouse: merging one partition of 1,000,000 rows into DuckDB and PostgreSQL, then again.

The partition is the one the scale scenario wrote (real Deals rows, every column). Each backend
runs in a child process of its own: a first merge into an empty table (all inserts), then the
same partition again, the idempotent path a rerun or backfill takes (the table must not change).
PostgreSQL is a real server started for the run (`zoho_pipelines_tests.postgres_server`).
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import psycopg

from suite.child import peak_rss_mb, run_in_child
from suite.sync import DAY, bench_spec
from zoho_pipelines.lake import open_lake
from zoho_pipelines.pipeline import load_partition
from zoho_pipelines.warehouse import TableRef, open_warehouse
from zoho_pipelines_tests.postgres_server import running_postgres

CHECKSUM_COLUMNS = ("id", "_modified_time", "_deleted", "deal_name", "amount", "stage")


def warehouse_merges(*, lake: Path, workdir: Path, memory_limit: str) -> dict[str, Any]:
    duckdb_url = f"duckdb://{workdir / 'merge.duckdb'}?memory_limit={memory_limit}"
    results = {"duckdb": run_in_child("suite.warehouse:merge_twice", {"lake": str(lake), "url": duckdb_url})}
    results["duckdb"]["memory_limit"] = memory_limit
    with running_postgres(settings=("shared_buffers=256MB", "max_wal_size=4GB")) as server:
        database = f"bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(server.url(), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{database}"')
        results["postgresql"] = run_in_child(
            "suite.warehouse:merge_twice", {"lake": str(lake), "url": server.url(database)}
        )
    return results


def merge_twice(params: dict[str, Any]) -> dict[str, Any]:
    spec = bench_spec("auto")
    lake = open_lake(params["lake"])
    table = TableRef.for_module(spec.app, spec.module)
    timings: dict[str, Any] = {}
    with open_warehouse(params["url"]) as warehouse:
        for attempt in ("merge", "remerge"):
            started = time.perf_counter()
            merged = load_partition(warehouse, lake, spec, DAY)
            seconds = time.perf_counter() - started
            timings[attempt] = {
                "seconds": round(seconds, 2),
                "rows_per_s": round(merged.staged_rows / seconds),
                "staged": merged.staged_rows,
                "applied": merged.applied_rows,
                "inserted": merged.inserted_rows,
                "table_fingerprint": _fingerprint(warehouse, table),
            }
            timings[f"peak_rss_after_{attempt}_mb"] = peak_rss_mb()
    timings["unchanged_by_remerge"] = (
        timings["merge"]["table_fingerprint"] == timings["remerge"]["table_fingerprint"]
    )
    return timings


def _fingerprint(warehouse: Any, table: TableRef) -> list[str]:
    """Row count, distinct ids and an order-independent sum of row hashes: equal tables, equal prints."""
    row = ", ".join(f'"{name}"' for name in CHECKSUM_COLUMNS)
    if warehouse.dialect.value == "duckdb":
        digest = f"sum(hash(concat_ws('|', {row})))"
    else:
        digest = f"sum(('x' || substr(md5(concat_ws('|', {row})), 1, 15))::bit(60)::bigint)"
    query = f"SELECT count(*), count(DISTINCT id), {digest} FROM {table.sql}"  # noqa: S608 - fixed names
    return [str(value) for value in warehouse.query(query)[0]]
