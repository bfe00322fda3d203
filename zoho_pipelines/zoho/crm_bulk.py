"""Bulk Read: export a modified-time window as CSV jobs and stream the rows.

Bulk Read is the economical path for large windows (one job covers 200,000 records for a fixed
price) at the cost of latency: the job is queued, polled until COMPLETED, then its ZIP is
downloaded. The ZIP is streamed to a temporary file and the CSV inside it is read row by row,
so memory stays flat whatever the export size. Values come back as CSV strings; typing them is
the schema layer's job.
"""

from __future__ import annotations

import csv
import io
import logging
import tempfile
import time
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from zoho_pipelines.zoho.batching import batched
from zoho_pipelines.zoho.crm_fields import CURSOR_FIELD
from zoho_pipelines.zoho.errors import ZohoAPIError
from zoho_pipelines.zoho.transport import ZohoTransport, json_body
from zoho_pipelines.zoho.windows import ceil_second, parse_zoho_datetime, require_aware, zoho_iso

logger = logging.getLogger("zoho_pipelines.zoho.crm_bulk")

BULK_READ = "/crm/bulk/v8/read"
# Zoho's API-limits table prices job creation well above a plain call; polls and downloads are 1.
BULK_READ_JOB_CREDITS = 50
DOWNLOAD_CHUNK_BYTES = 1 << 20
_CSV_FIELD_LIMIT = 1 << 24  # long textareas exceed csv's 128 KiB default


@dataclass(frozen=True)
class BulkPolling:
    """How patiently to wait for a job: waits double from `initial_s` up to `max_s`."""

    initial_s: float = 1.0
    max_s: float = 30.0
    timeout_s: float = 3_600.0


class BulkReader:
    """Runs Bulk Read jobs for a window and streams their rows in batches."""

    def __init__(
        self,
        transport: ZohoTransport,
        *,
        polling: BulkPolling | None = None,
        temp_dir: str | None = None,
    ) -> None:
        self._transport = transport
        self._polling = polling or BulkPolling()
        self._temp_dir = temp_dir

    def iter_window(
        self,
        module: str,
        fields: Sequence[str],
        start: datetime,
        end: datetime,
        *,
        batch_size: int = 5_000,
    ) -> Iterator[list[dict[str, str]]]:
        """Rows (dicts of CSV strings) with Modified_Time in [start, end), one job page at a time."""
        start, end = require_aware(start, "start"), require_aware(end, "end")
        columns = list(dict.fromkeys([CURSOR_FIELD, *fields]))
        page, page_token = 1, None
        while True:
            job_id = self._create_job(module, columns, start, end, page, page_token)
            result = self._wait_until_completed(job_id)
            rows = (
                row
                for row in self._download_rows(job_id, result)
                if start <= parse_zoho_datetime(row[CURSOR_FIELD]) < end
            )
            yield from batched(rows, batch_size)
            if not result.get("more_records"):
                return
            page, page_token = page + 1, result.get("next_page_token")

    def _create_job(
        self,
        module: str,
        fields: list[str],
        start: datetime,
        end: datetime,
        page: int,
        page_token: str | None,
    ) -> str:
        query: dict[str, Any] = {
            "module": {"api_name": module},
            "fields": fields,
            "criteria": {
                "group_operator": "and",
                "group": [
                    {
                        "field": {"api_name": CURSOR_FIELD},
                        "comparator": "greater_equal",
                        "value": zoho_iso(start),
                    },
                    {
                        "field": {"api_name": CURSOR_FIELD},
                        "comparator": "less_than",
                        "value": zoho_iso(ceil_second(end)),
                    },
                ],
            },
        }
        if page_token:
            query["page_token"] = page_token
        else:
            query["page"] = page
        response = self._transport.request(
            "POST", BULK_READ, json={"query": query}, credits=BULK_READ_JOB_CREDITS, idempotent=True
        )
        job_id = str(json_body(response)["data"][0]["details"]["id"])
        logger.info("bulk read job %s created for %s (page %d)", job_id, module, page)
        return job_id

    def _wait_until_completed(self, job_id: str) -> dict[str, Any]:
        """The job's `result` once COMPLETED; FAILURE or running past the timeout raise."""
        deadline = time.monotonic() + self._polling.timeout_s
        delay = self._polling.initial_s
        while True:
            job = json_body(self._transport.request("GET", f"{BULK_READ}/{job_id}"))["data"][0]
            state = job.get("state")
            if state == "COMPLETED":
                return job.get("result") or {}
            if state == "FAILURE":
                raise ZohoAPIError(
                    f"bulk read job {job_id} failed",
                    code="FAILURE",
                    method="GET",
                    path=f"{BULK_READ}/{job_id}",
                )
            if time.monotonic() + delay > deadline:
                raise ZohoAPIError(
                    f"bulk read job {job_id} still {state} after {self._polling.timeout_s:.0f} s",
                    code="TIMEOUT",
                    method="GET",
                    path=f"{BULK_READ}/{job_id}",
                )
            time.sleep(delay)  # polling a remote job: nothing local to wait on
            delay = min(delay * 2, self._polling.max_s)

    def _download_rows(self, job_id: str, result: dict[str, Any]) -> Iterator[dict[str, str]]:
        url = result.get("download_url") or f"{BULK_READ}/{job_id}/result"
        with tempfile.TemporaryFile(dir=self._temp_dir) as archive:
            with self._transport.stream("GET", url) as response:
                for chunk in response.iter_bytes(DOWNLOAD_CHUNK_BYTES):
                    archive.write(chunk)
            archive.seek(0)
            yield from _csv_rows(archive)


def _csv_rows(archive: IO[bytes]) -> Iterator[dict[str, str]]:
    """Rows of the CSV member(s) of a Bulk Read ZIP, read lazily."""
    csv.field_size_limit(max(csv.field_size_limit(), _CSV_FIELD_LIMIT))
    with zipfile.ZipFile(archive) as bundle:
        for member in bundle.namelist():
            if not member.lower().endswith(".csv"):
                continue
            with bundle.open(member) as raw:
                yield from csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8-sig", newline=""))
