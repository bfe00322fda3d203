"""Runs that overlap: writers merging the same 5,000 leads at the same instant, as threads and as
separate processes, on DuckDB and PostgreSQL, and Redshift's statements on PostgreSQL. Each round
one writer brings an older version and the other a newer one (swapped every round); the table must
hold the newest version after every round, whoever commits last."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import psycopg
import pytest

from zoho_pipelines.lake import LocalLake, PartitionRef
from zoho_pipelines.warehouse import open_warehouse
from zoho_pipelines_tests.warehouse.overlap_support import (
    IDS,
    LEADS,
    WAIT_S,
    merge_when_all_ready,
    only_version,
    run_together,
    versions_held,
    write_version,
)
from zoho_pipelines_tests.warehouse.redshift_on_postgres import run_redshift_merge
from zoho_pipelines_tests.warehouse.support import SCALAR_FIELDS, Partitions

ROUNDS = 6
PROCESS_ROUNDS = 4  # processes cost more to coordinate; four rounds still cover both orders twice


@dataclass
class Processes:
    """Warm worker processes (spawned once per module) and a manager for barriers between them."""

    pool: ProcessPoolExecutor
    manager: Any


@pytest.fixture(scope="module")
def processes() -> Iterator[Processes]:
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, ProcessPoolExecutor(max_workers=4, mp_context=context) as pool:
        yield Processes(pool, manager)


@pytest.fixture(params=["duckdb", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "duckdb":
        return f"duckdb://{tmp_path / 'warehouse.duckdb'}"
    return request.getfixturevalue("postgres_url")


def _pair(partitions: Partitions, round_number: int) -> tuple[PartitionRef, PartitionRef]:
    """This round's (first writer's, second writer's) partitions: older first in odd rounds."""
    older = write_version(partitions, 2 * round_number - 1)
    newer = write_version(partitions, 2 * round_number)
    return (older, newer) if round_number % 2 else (newer, older)


def test_two_threads_merging_the_same_ids_end_with_the_newest_version_every_round(
    url: str, partitions: Partitions
) -> None:
    writers = [open_warehouse(url), open_warehouse(url)]
    try:
        writers[0].ensure_table(partitions.schema.to_arrow())  # creation races: test_ddl_races.py
        for round_number in range(1, ROUNDS + 1):
            first, second = _pair(partitions, round_number)
            results = run_together(
                partial(writers[0].merge_partition, partitions.lake, first),
                partial(writers[1].merge_partition, partitions.lake, second),
            )
            assert versions_held(writers[0]) == only_version(2 * round_number), f"round {round_number}"
            if round_number == 1:
                assert sum(result.inserted_rows for result in results) == len(IDS)
    finally:
        for writer in writers:
            writer.close()


def test_two_processes_merging_the_same_ids_end_with_the_newest_version_every_round(
    url: str, partitions: Partitions, processes: Processes
) -> None:
    root = str(partitions.lake.root)
    with open_warehouse(url) as warehouse:
        warehouse.ensure_table(partitions.schema.to_arrow())  # creation races: test_ddl_races.py
    for round_number in range(1, PROCESS_ROUNDS + 1):
        start = processes.manager.Barrier(2)
        futures = [
            processes.pool.submit(merge_when_all_ready, url, root, ref.day.isoformat(), start)
            for ref in _pair(partitions, round_number)
        ]
        results = [future.result(timeout=WAIT_S) for future in futures]
        assert len({pid for pid, _, _ in results}) == 2  # two processes really took part
        with open_warehouse(url) as reader:
            assert versions_held(reader) == only_version(2 * round_number), f"round {round_number}"


def test_four_processes_merging_different_partitions_of_one_table_all_succeed(
    url: str, partitions: Partitions, processes: Processes
) -> None:
    """Each partition has its own 1,000 leads and shares 500 more with every other one."""
    shared = IDS[4_000:4_500]
    refs = [
        write_version(partitions, version, [*IDS[(version - 1) * 1_000 : version * 1_000], *shared])
        for version in range(1, 5)
    ]
    start = processes.manager.Barrier(len(refs))  # the table is created in the race, too
    root = str(partitions.lake.root)
    futures = [
        processes.pool.submit(merge_when_all_ready, url, root, ref.day.isoformat(), start) for ref in refs
    ]
    results = [future.result(timeout=WAIT_S) for future in futures]

    assert len({pid for pid, _, _ in results}) == 4
    assert sum(inserted for _, _, inserted in results) == 4_500
    with open_warehouse(url) as reader:
        assert versions_held(reader) == [
            *(only_version(version, 1_000)[0] for version in (1, 2, 3)),
            only_version(4, 1_500)[0],
        ]


def test_redshift_statements_from_two_sessions_end_with_the_newest_version_every_round(
    postgres_url: str, tmp_path: Path
) -> None:
    """Redshift's MERGE cannot check versions; LOCK first and the resolve under it must do."""
    partitions = Partitions(LocalLake(tmp_path / "lake"), SCALAR_FIELDS)
    with open_warehouse(postgres_url) as warehouse:
        warehouse.ensure_table(partitions.schema.to_arrow())
        columns = warehouse.table_columns(LEADS)
        with psycopg.connect(postgres_url) as one, psycopg.connect(postgres_url) as other:
            for round_number in range(1, ROUNDS + 1):
                first, second = _pair(partitions, round_number)
                run_together(
                    partial(run_redshift_merge, one, LEADS, partitions.lake, first, columns),
                    partial(run_redshift_merge, other, LEADS, partitions.lake, second, columns),
                )
                assert versions_held(warehouse) == only_version(2 * round_number), f"round {round_number}"
