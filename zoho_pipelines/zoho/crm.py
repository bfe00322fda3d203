"""`CrmClient`: the CRM v8 API as the rest of the product sees it.

One object per org, composed of single-purpose readers and writers (records, COQL, Bulk Read,
updates, notifications) that share one transport, so they share its token, limiter and counters.
Every read streams batches; none returns a whole module.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from functools import partial
from typing import Any, Literal

from zoho_pipelines.zoho.crm_bulk import BulkPolling, BulkReader
from zoho_pipelines.zoho.crm_coql import CoqlReader
from zoho_pipelines.zoho.crm_notifications import NotificationChannels
from zoho_pipelines.zoho.crm_records import API, CrmRecordReader, Record
from zoho_pipelines.zoho.crm_updates import RecordUpdater, UpdateResult
from zoho_pipelines.zoho.parallel import read_windows_concurrently
from zoho_pipelines.zoho.transport import ZohoTransport, json_body

WINDOWS_PER_WORKER = 4


class CrmClient:
    """Zoho CRM v8 for one org."""

    def __init__(self, transport: ZohoTransport, *, bulk_polling: BulkPolling | None = None) -> None:
        self.transport = transport
        self.records = CrmRecordReader(transport)
        self.coql = CoqlReader(transport, self.records)
        self.bulk = BulkReader(transport, polling=bulk_polling)
        self.notifications = NotificationChannels(transport)
        self._updater = RecordUpdater(transport)

    def modules(self) -> list[dict[str, Any]]:
        """Module metadata (api_name, api_supported, ...) of the org."""
        response = self.transport.request("GET", f"{API}/settings/modules")
        return list(json_body(response).get("modules") or [])

    def fields(self, module: str) -> list[dict[str, Any]]:
        """Field metadata of `module` (api_name, data_type, json_type, lookup, ...)."""
        response = self.transport.request("GET", f"{API}/settings/fields", params={"module": module})
        return list(json_body(response).get("fields") or [])

    def field_names(self, module: str) -> list[str]:
        """Every field api_name of `module`, to read a module whole."""
        return [str(field["api_name"]) for field in self.fields(module)]

    def iter_modified(
        self, module: str, fields: Sequence[str], start: datetime, end: datetime
    ) -> Iterator[list[Record]]:
        """Records modified in [start, end), page by page, in Modified_Time order."""
        return self.records.iter_modified(module, fields, start, end)

    def iter_modified_parallel(
        self,
        module: str,
        fields: Sequence[str],
        start: datetime,
        end: datetime,
        *,
        windows: int | None = None,
        via: Literal["pages", "coql"] = "pages",
    ) -> Iterator[list[Record]]:
        """Records modified in [start, end), read as concurrent sub-windows (batches in arrival order).

        Paging is latency-bound, so sub-windows read side by side multiply throughput; the worker
        count never exceeds the org's concurrency limit, which also caps the calls in flight.
        Records are rarely spread evenly in time, so by default there are several sub-windows per
        worker: a worker done with a sparse one takes the next instead of idling.
        """
        read = self.records.iter_modified if via == "pages" else self.coql.iter_window
        concurrency = self.transport.concurrency
        return read_windows_concurrently(
            partial(read, module, fields),
            start,
            end,
            windows=windows or WINDOWS_PER_WORKER * concurrency,
            max_workers=concurrency,
        )

    def iter_modified_coql(
        self, module: str, fields: Sequence[str], start: datetime, end: datetime
    ) -> Iterator[list[Record]]:
        """Records modified in [start, end) through COQL (2,000 a call)."""
        return self.coql.iter_window(module, fields, start, end)

    def iter_bulk(
        self, module: str, fields: Sequence[str], start: datetime, end: datetime, *, batch_size: int = 5_000
    ) -> Iterator[list[dict[str, str]]]:
        """Records modified in [start, end) through Bulk Read jobs (CSV strings)."""
        return self.bulk.iter_window(module, fields, start, end, batch_size=batch_size)

    def iter_deleted(self, module: str, start: datetime, end: datetime) -> Iterator[list[Record]]:
        """Deleted-record entries with deleted_time in [start, end)."""
        return self.records.iter_deleted(module, start, end)

    def iter_by_ids(
        self, module: str, ids: Iterable[str | int], fields: Sequence[str]
    ) -> Iterator[list[Record]]:
        """Records by id, 100 a call."""
        return self.records.iter_by_ids(module, ids, fields)

    def update_records(
        self, module: str, records: Iterable[dict[str, Any]], *, trigger: Sequence[str] = ()
    ) -> UpdateResult:
        """Update records (each with `id`), 100 a call; per-record outcomes, partial failures included."""
        return self._updater.update(module, records, trigger=trigger)
