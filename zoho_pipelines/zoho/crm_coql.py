"""COQL: one query, and a modified-time window read through COQL pages.

COQL returns up to 2,000 rows a call (ten times a records page) and orders by Modified_Time then
id, which makes it the cheapest way to page a large window; its price is per call by LIMIT, and
its offset stops at 100,000, after which the window is re-based at the cursor's position. The
queries emitted keep to one plain shape (see `window_query`) so they stay valid COQL everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from zoho_pipelines.zoho.crm_fields import field_groups, merge_by_id
from zoho_pipelines.zoho.crm_lookups import LookupNamer, LookupPlan
from zoho_pipelines.zoho.crm_records import API, CrmRecordReader, Record
from zoho_pipelines.zoho.errors import ZohoAPIError
from zoho_pipelines.zoho.transport import ZohoTransport, json_body
from zoho_pipelines.zoho.windows import WindowCursor, ceil_second, zoho_iso

COQL_MAX_ROWS_PER_CALL = 2_000
COQL_MAX_OFFSET_ROWS = 100_000
NO_NAMES = LookupPlan(related={}, users=(), unnamed=())
API_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
# A select column may also reach through a lookup to its target's field: Account_Name.Account_Name.
COLUMN = re.compile(r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)?")


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
    for name, pattern in ((module, API_NAME), *((field, COLUMN) for field in fields)):
        if not pattern.fullmatch(name):
            raise ValueError(f"not a Zoho api_name: {name!r}")
    # Every interpolated name was checked against API_NAME or COLUMN: nothing can break out of the query.
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
        namer: LookupNamer | None = None,
    ) -> Iterator[list[Record]]:
        """Batches of the records with Modified_Time in [start, end), each once, in that order.

        `max_offset_rows` is how far LIMIT's offset may reach before the window is re-based.
        With a `namer`, rows come back as the records API shapes them: lookups with names, and
        fields past the first 50 read by a second COQL query over the same page (3 credits per
        2,000 rows instead of one by-id call per 100). Without, lookups are ids only, as COQL
        answers them, and the other fields are completed by id.
        """
        cursor = WindowCursor(start, end)
        selects, by_id = self._selects(module, field_groups(fields), namer)
        while True:
            base, offset, emitted_before = cursor.position, 0, cursor.emitted
            while offset + page_size <= max_offset_rows:
                page = _Page(module, base, end, offset, page_size)
                rows, info = self.query(page.query(selects[0].select), limit=page_size)
                fresh, reached_end = cursor.admit(rows)
                if fresh:
                    yield self._finish(page, fresh, selects, by_id, namer)
                if reached_end or not info.get("more_records"):
                    return
                offset += len(rows)
            if cursor.emitted == emitted_before:
                raise ZohoAPIError(
                    f"over {max_offset_rows} {module} records share Modified_Time {base.isoformat()}",
                    method="POST",
                    path=f"{API}/coql",
                )

    @staticmethod
    def _selects(
        module: str, groups: list[list[str]], namer: LookupNamer | None
    ) -> tuple[list[_Select], list[list[str]]]:
        """The COQL select of each field group, and the fields left to by-id completion."""
        if namer is None:
            return [_Select(groups[0], groups[0], NO_NAMES)], groups[1:]
        selects, by_id = [], []
        for group in groups:
            plan = namer.plan(module, group)
            selects.append(_Select(group, plan.select(group), plan))
            if plan.unnamed:
                by_id.append(list(plan.unnamed))
        return selects, by_id

    def _finish(
        self,
        page: _Page,
        fresh: list[Record],
        selects: list[_Select],
        by_id: list[list[str]],
        namer: LookupNamer | None,
    ) -> list[Record]:
        """`fresh` rows of the first group's page with every requested field, shaped and named."""
        if namer is not None:
            fresh = namer.name(page.module, selects[0].plan, fresh)
            for group in selects[1:]:
                extra, _ = self.query(page.query(group.select), limit=page.size)
                extra = namer.name(page.module, group.plan, extra)
                fresh = merge_by_id(fresh, extra)
                # A record edited between the two queries left the window (or moved within it),
                # so it may be missing from the second page: read its other fields by id instead.
                found = {str(row["id"]) for row in extra}
                missing = [row for row in fresh if str(row["id"]) not in found]
                if missing:
                    completed = self._records.complete(page.module, missing, [group.fields])
                    fresh = merge_by_id(fresh, completed)
        return self._records.complete(page.module, fresh, by_id)


@dataclass(frozen=True)
class _Select:
    """One COQL select (at most 50 columns) for a group of fields, and how it names lookups."""

    fields: list[str]
    select: list[str]
    plan: LookupPlan


@dataclass(frozen=True)
class _Page:
    """Where one page of a window read sits, so every field group reads the same rows."""

    module: str
    base: datetime
    end: datetime
    offset: int
    size: int

    def query(self, select: Sequence[str]) -> str:
        return window_query(self.module, select, self.base, self.end, self.offset, self.size)
