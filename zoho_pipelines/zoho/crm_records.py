"""Reading CRM records: modified-time windows, parallel windows, ids, and deleted records.

A window is read in Modified_Time order with `page` for the first 2,000 records and
`info.next_page_token` after, because `page` alone stops at 2,000 (the classic connector bug).
One query reaches at most 100,000 records and page tokens expire, so when either happens the
read restarts from the cursor's position (see `WindowCursor`) instead of failing or starting over.
If-Modified-Since is sent one second early, which makes the read correct whether Zoho treats it
as inclusive or exclusive; the cursor drops the overlap. Nothing holds more than one page (plus
the ids at the cursor's timestamp), so a module of any size streams in bounded memory.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from zoho_pipelines.zoho.batching import batched
from zoho_pipelines.zoho.crm_fields import field_groups, merge_by_id
from zoho_pipelines.zoho.errors import ZohoAPIError, ZohoInvalidDataError
from zoho_pipelines.zoho.transport import ZohoTransport, json_body
from zoho_pipelines.zoho.windows import (
    ONE_SECOND,
    WindowCursor,
    floor_second,
    parse_zoho_datetime,
    require_aware,
    zoho_iso,
)

logger = logging.getLogger("zoho_pipelines.zoho.crm")

API = "/crm/v8"
PER_PAGE = 200
PAGE_PARAM_LIMIT = 2_000
RECORDS_PER_QUERY_LIMIT = 100_000
IDS_PER_CALL = 100
RESTART_CODES = frozenset(
    {"EXPIRED_VALUE", "LIMIT_REACHED", "DISCRETE_PAGINATION_LIMIT_EXCEEDED", "PAGINATION_LIMIT_EXCEEDED"}
)

Record = dict[str, Any]


class _RestartQuery(Exception):
    """The current query can go no further (token expired, per-query ceiling); resume from the cursor."""


class CrmRecordReader:
    """Streams records of CRM modules through a `ZohoTransport`."""

    def __init__(self, transport: ZohoTransport) -> None:
        self._transport = transport

    def iter_modified(
        self, module: str, fields: Sequence[str], start: datetime, end: datetime
    ) -> Iterator[list[Record]]:
        """Batches (one per page) of the records with Modified_Time in [start, end), each once."""
        cursor = WindowCursor(start, end)
        groups = field_groups(fields)
        while True:
            emitted_before = cursor.emitted
            try:
                for page in self._query_pages(module, groups[0], cursor.position):
                    fresh, reached_end = cursor.admit(page)
                    if fresh:
                        yield self.complete(module, fresh, groups[1:])
                    if reached_end:
                        return
                return
            except _RestartQuery as reason:
                if cursor.emitted == emitted_before:
                    raise ZohoAPIError(
                        f"no progress reading {module} past {cursor.position.isoformat()}: {reason}",
                        method="GET",
                        path=f"{API}/{module}",
                    ) from None
                logger.info(
                    "restarting %s read at %s after %d records (%s)",
                    module,
                    cursor.position.isoformat(),
                    cursor.emitted,
                    reason,
                )

    def iter_by_ids(
        self, module: str, ids: Iterable[str | int], fields: Sequence[str]
    ) -> Iterator[list[Record]]:
        """The records with these ids, 100 per call (plus one call per extra field group)."""
        groups = field_groups(fields, lead=())
        for chunk in batched((str(record_id) for record_id in ids), IDS_PER_CALL):
            records = self._by_ids(module, chunk, groups[0])
            if records:
                yield self.complete(module, records, groups[1:])

    def iter_deleted(
        self, module: str, start: datetime, end: datetime, *, deleted_type: str = "all"
    ) -> Iterator[list[Record]]:
        """Deleted-record entries ({id, deleted_time, type, ...}) with deleted_time in [start, end)."""
        start, end = require_aware(start, "start"), require_aware(end, "end")
        params: dict[str, Any] = {"type": deleted_type, "per_page": PER_PAGE}
        headers = {"If-Modified-Since": zoho_iso(floor_second(start) - ONE_SECOND)}
        try:
            # /deleted documents only `page` (no page_token): keep paging past 2,000 entries, and
            # let a server that does cap it answer DISCRETE_PAGINATION_LIMIT_EXCEEDED (raised below).
            for page in self._pages(f"{API}/{module}/deleted", params, headers, page_tokens=False):
                matching = [
                    entry for entry in page if start <= parse_zoho_datetime(entry["deleted_time"]) < end
                ]
                if matching:
                    yield matching
        except _RestartQuery as reason:
            # The deleted listing has no Modified_Time order to resume from; say so rather than
            # return a silently truncated list.
            raise ZohoAPIError(
                f"deleted {module} records since {start.isoformat()} exceed one listing: {reason}",
                method="GET",
                path=f"{API}/{module}/deleted",
            ) from None

    def _query_pages(self, module: str, fields: list[str], position: datetime) -> Iterator[list[Record]]:
        params: dict[str, Any] = {
            "fields": ",".join(fields),
            "per_page": PER_PAGE,
            "sort_by": "Modified_Time",
            "sort_order": "asc",
        }
        headers = {"If-Modified-Since": zoho_iso(floor_second(position) - ONE_SECOND)}
        delivered = 0
        for page in self._pages(f"{API}/{module}", params, headers):
            yield page
            delivered += len(page)
            if delivered >= RECORDS_PER_QUERY_LIMIT:
                raise _RestartQuery(f"{RECORDS_PER_QUERY_LIMIT} records per query")

    def _pages(
        self, path: str, params: dict[str, Any], headers: dict[str, str], *, page_tokens: bool = True
    ) -> Iterator[list[Record]]:
        """Pages of one listing: `page` while it is allowed, then the page token Zoho hands out
        (listings without page tokens page on with `page`)."""
        page, page_token = 1, None
        while True:
            query = {**params, "page_token": page_token} if page_token else {**params, "page": page}
            try:
                response = self._transport.request("GET", path, params=query, headers=headers)
            except ZohoInvalidDataError as error:
                if error.code in RESTART_CODES:
                    raise _RestartQuery(error.code or "") from None
                raise
            if response.status_code == 204:
                return
            body = json_body(response)
            info = body.get("info") or {}
            if body.get("data"):
                yield body["data"]
            if not info.get("more_records"):
                return
            if page_token is None and (
                not page_tokens or (page + 1) * params["per_page"] <= PAGE_PARAM_LIMIT
            ):
                page += 1
                continue
            page_token = info.get("next_page_token")
            if not page_token:
                raise _RestartQuery("no next_page_token past the page limit")

    def _by_ids(self, module: str, ids: list[str], fields: list[str]) -> list[Record]:
        response = self._transport.request(
            "GET", f"{API}/{module}", params={"ids": ",".join(ids), "fields": ",".join(fields)}
        )
        return json_body(response).get("data") or []

    def complete(self, module: str, records: list[Record], extra_groups: list[list[str]]) -> list[Record]:
        """Add the fields of the other field groups to `records` (<= 200), fetched by id."""
        if not extra_groups:
            return records
        ids = [str(record["id"]) for record in records]
        for group in extra_groups:
            extra = [
                record
                for chunk in batched(ids, IDS_PER_CALL)
                for record in self._by_ids(module, chunk, group)
            ]
            records = merge_by_id(records, extra)
        return records
