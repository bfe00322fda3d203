"""Bulk Read of 250,000 records streams in bounded memory (the sandbox runs in its own process)."""

import sys
import threading
from datetime import timedelta

import httpx
import psutil
import pytest

from zoho_pipelines.sandbox.server import SandboxConfig, start_sandbox
from zoho_pipelines.settings import load_settings
from zoho_pipelines.zoho import ZohoClient
from zoho_pipelines.zoho.crm_bulk import BulkPolling
from zoho_pipelines.zoho.windows import zoho_iso
from zoho_pipelines_tests.conftest import SANDBOX_ANCHOR

RECORDS = 250_000


class PeakRss:
    """Samples this process's resident memory on a thread while the block runs."""

    def __init__(self) -> None:
        self._process = psutil.Process()
        self._done = threading.Event()
        self.baseline = self._process.memory_info().rss
        self.peak = self.baseline
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._done.wait(0.005):
            self.peak = max(self.peak, self._process.memory_info().rss)

    @property
    def growth(self) -> int:
        return self.peak - self.baseline

    def __enter__(self) -> "PeakRss":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._done.set()
        self._thread.join()


def _checksum(ids: list[int]) -> tuple[int, int]:
    return len(ids), sum(ids) % (1 << 64)


def _row_bytes(row: dict[str, str]) -> int:
    return sys.getsizeof(row) + sum(sys.getsizeof(value) for value in row.values())


@pytest.mark.slow
def test_bulk_read_of_250k_records_streams_in_bounded_memory():
    config = SandboxConfig(anchor=SANDBOX_ANCHOR, records_per_module=RECORDS)
    start, end = SANDBOX_ANCHOR - timedelta(days=config.history_days + 1), SANDBOX_ANCHOR + timedelta(days=1)
    with start_sandbox(config, subprocess=True) as sandbox:
        settings = load_settings(**sandbox.env())
        polling = BulkPolling(initial_s=0.05, max_s=0.5, timeout_s=120)
        with ZohoClient.from_settings(settings, bulk_polling=polling) as client:
            fields = client.crm.field_names("Deals")
            rows, id_sum, jobs, held_per_row = 0, 0, 0, 0.0
            with PeakRss() as memory:
                for batch in client.crm.iter_bulk("Deals", fields, start, end, batch_size=5_000):
                    if not held_per_row:
                        held_per_row = sum(_row_bytes(row) for row in batch) / len(batch)
                    rows += len(batch)
                    id_sum = (id_sum + sum(int(row["Id"]) for row in batch)) % (1 << 64)
            jobs = client.stats.snapshot()["responses_by_status"].get(201, 0)
        truth = httpx.get(
            f"{sandbox.url}/__sandbox/truth/Deals", params={"start": zoho_iso(start), "end": zoho_iso(end)}
        ).json()["modified"]
    assert (rows, id_sum) == _checksum([int(record_id) for record_id in truth])
    assert rows > 200_000
    assert jobs == 2  # 200,000 records a job page, then the next page
    holding_everything = held_per_row * rows
    assert holding_everything > 300_000_000
    assert memory.growth < holding_everything / 10, (memory.growth, holding_everything)
