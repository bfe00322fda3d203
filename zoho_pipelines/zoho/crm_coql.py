"""COQL: one query, and a modified-time window read through COQL pages.

COQL returns up to 2,000 rows a call (ten times a records page) and orders by Modified_Time then
id, which makes it the cheapest way to page a large window; its price is per call by LIMIT, and
its offset stops at 100,000, after which the window is re-based at the cursor's position. The
queries emitted keep to one plain shape (see `window_query`) so they stay valid COQL everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from zoho_pipelines.zoho.crm_fields import field_groups
from zoho_pipelines.zoho.crm_records import API, CrmRecordReader, Record
from zoho_pipelines.zoho.errors import ZohoAPIError
from zoho_pipelines.zoho.transport import ZohoTransport, json_body
from zoho_pipelines.zoho.windows import WindowCursor, ceil_second, zoho_iso

COQL_MAX_ROWS_PER_CALL = 2_000
COQL_MAX_OFFSET_ROWS = 100_000
API_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


def coql_credits(limit: int) -> int:
    """API credits Zoho charges for one COQL call with this LIMIT."""
    if limit <= 200:
        return 1
    if limit <= 1_000:
        return 2
    return 3


def window_query(
    module: str, fields: Sequence[str], start: datetime, end: datetime, offset: int, limit: int
) -> str:
    """The COQL for one page of [start, end): whole seconds, widened at the end, filtered later."""
    for name in (module, *fields):
        if not API_NAME.fullmatch(name):
            raise ValueError(f"not a Zoho api_name: {name!r}")
    # Every interpolated name was checked against API_NAME, so nothing can break out of the query.
    window = f"(Modified_Time >= '{zoho_iso(start)}' and Modified_Time < '{zoho_iso(ceil_second(end))}')"
    select = f"select {', '.join(fields)} from {module}"  # noqa: S608 - names validated above
    return f"{select} where {window} order by Modified_Time asc, id asc limit {offset}, {limit}"


class CoqlReader:
    """Runs COQL through a transport; wider-than-50-field reads complete their rows by id."""

    def __init__(self, transport: ZohoTransport, records: CrmRecordReader) -> None:
        self._transport = transport
        self._records = records

    def query(self, select_query: str, *, limit: int = COQL_MAX_ROWS_PER_CALL) -> tuple[list[Record], dict]:
        """Rows and `info` of one COQL call; `limit` must match the query's LIMIT (it sets the price)."""
        response = self._transport.request(
            "POST",
            f"{API}/coql",
            json={"select_query": select_query},
            credits=coql_credits(limit),
            idempotent=True,
        )
        body: dict[str, Any] = json_body(response)  # {} for 204: no rows
        return body.get("data") or [], body.get("info") or {}

    def iter_window(
        self,
        module: str,
        fields: Sequence[str],
        start: datetime,
        end: datetime,
        *,
        page_size: int = COQL_MAX_ROWS_PER_CALL,
        max_offset_rows: int = COQL_MAX_OFFSET_ROWS,
    ) -> Iterator[list[Record]]:
        """Batches of the records with Modified_Time in [start, end), each once, in that order.

        `max_offset_rows` is how far LIMIT's offset may reach before the window is re-based.
        """
        cursor = WindowCursor(start, end)
        groups = field_groups(fields)
        while True:
            base, offset, emitted_before = cursor.position, 0, cursor.emitted
            while offset + page_size <= max_offset_rows:
                query = window_query(module, groups[0], base, end, offset, page_size)
                rows, info = self.query(query, limit=page_size)
                fresh, reached_end = cursor.admit(rows)
                if fresh:
                    yield self._records.complete(module, fresh, groups[1:])
                if reached_end or not info.get("more_records"):
                    return
                offset += len(rows)
            if cursor.emitted == emitted_before:
                raise ZohoAPIError(
                    f"over {max_offset_rows} {module} records share Modified_Time {base.isoformat()}",
                    method="POST",
                    path=f"{API}/coql",
                )
