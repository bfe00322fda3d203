"""DuckDB admits one process per database file: overlapping runs take turns through the lock file,
the wait is bounded and names the holder, and a holder killed mid-merge lets the next one in."""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from zoho_pipelines.settings import load_settings
from zoho_pipelines.warehouse import WarehouseError, open_warehouse
from zoho_pipelines.warehouse.file_lock import FileLock, LockTimeout
from zoho_pipelines_tests.warehouse.overlap_support import (
    WAIT_S,
    hold_while_merging,
    only_version,
    versions_held,
    write_version,
)
from zoho_pipelines_tests.warehouse.support import Partitions


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"duckdb://{tmp_path / 'warehouse.duckdb'}"


@pytest.fixture
def holder(url: str) -> Iterator[Any]:
    """Another process in the middle of a merge into `url`, until it is killed."""
    context = multiprocessing.get_context("spawn")
    inside, never = context.Event(), context.Event()
    process = context.Process(target=hold_while_merging, args=(url, inside, never), daemon=True)
    process.start()
    try:
        assert inside.wait(WAIT_S), "the holder never started its merge"
        yield process
    finally:
        if process.is_alive():
            os.kill(process.pid, signal.SIGKILL)
        process.join(WAIT_S)


class _Waiting(logging.Handler):
    """Notices the log line a warehouse writes when it has to wait for the lock."""

    def __init__(self) -> None:
        super().__init__()
        self.seen = threading.Event()
        self.message = ""

    def emit(self, record: logging.LogRecord) -> None:
        if "waiting for its turn" in record.getMessage():
            self.message = record.getMessage()
            self.seen.set()


def test_a_busy_database_names_its_holder_when_the_wait_runs_out(url: str, holder: Any) -> None:
    settings = load_settings(WAREHOUSE_LOCK_TIMEOUT_S="0.2")
    with open_warehouse(url, settings=settings) as waiter, pytest.raises(WarehouseError) as failure:
        waiter.query("SELECT 1")

    message = str(failure.value)
    assert "is busy: waited 0.2 s for" in message
    assert f"pid {holder.pid} on {socket.gethostname()}, merging into zoho_crm.leads since 20" in message
    assert "WAREHOUSE_LOCK_TIMEOUT_S" in message


def test_a_merge_waits_for_a_holder_that_is_killed_and_then_proceeds(
    url: str, holder: Any, partitions: Partitions
) -> None:
    ref = write_version(partitions, 1)
    waiting = _Waiting()
    logger = logging.getLogger("zoho_pipelines.warehouse.duckdb")
    logger.addHandler(waiting)
    logger.setLevel(logging.INFO)
    settings = load_settings(WAREHOUSE_LOCK_TIMEOUT_S=str(WAIT_S))
    merged: list[Any] = []
    try:
        with open_warehouse(url, settings=settings) as waiter:
            thread = threading.Thread(
                target=lambda: merged.append(waiter.merge_partition(partitions.lake, ref))
            )
            thread.start()
            assert waiting.seen.wait(WAIT_S), "the merge did not wait for the holder"
            assert f"pid {holder.pid}" in waiting.message
            assert thread.is_alive()

            os.kill(holder.pid, signal.SIGKILL)  # no clean-up runs: the kernel drops its locks
            thread.join(WAIT_S)
            assert not thread.is_alive()
            assert merged[0].inserted_rows == 5_000
            assert versions_held(waiter) == only_version(1)
    finally:
        logger.removeHandler(waiting)
        logger.setLevel(logging.NOTSET)


def test_a_wait_that_timed_out_does_not_keep_the_lock_once_the_holder_lets_go(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb.lock"
    holder = FileLock(path, timeout_s=0).acquire("merging into zoho_crm.leads")
    with pytest.raises(LockTimeout) as timed_out:
        FileLock(path, timeout_s=0.05).acquire("querying")  # its helper thread keeps waiting
    assert timed_out.value.holder is not None
    assert (timed_out.value.holder.pid, timed_out.value.holder.doing) == (
        os.getpid(),
        "merging into zoho_crm.leads",
    )

    holder.release()  # the abandoned helper takes the lock and lets go of it at once
    FileLock(path, timeout_s=WAIT_S).acquire("merging again").release()
    assert path.read_text() == ""  # nobody holds it, so nobody is described
