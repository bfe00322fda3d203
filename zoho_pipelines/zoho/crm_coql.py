"""COQL: one query, and a modified-time window read through COQL pages.

COQL returns up to 2,000 rows a call (ten times a records page) and orders by Modified_Time then
id, which makes it the cheapest way to page a large window; its price is per call by LIMIT, and
its offset stops at 100,000, after which the window is re-based at the cursor's position. The
queries emitted keep to one plain shape (see `window_query`) so they stay valid COQL everywhere.

Zoho's "Query API - Limitations" page for v8
(https://www.zoho.com/crm/developer/docs/api/v8/COQL-Limitations.html) sets the rules the queries
keep to: at most 50 select columns, at most 15 select-clause joins (dotted lookup columns, see
`crm_lookups`), no image-upload fields (read through the records API instead), field names that
are SQL reserved words quoted (`External`; Zoho's COQL FAQ, "Kaizen #171: FAQs on COQL API", takes
single or double quotes), and more than two WHERE criteria bracketed in pairs, ((A and B) and C).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from zoho_pipelines.zoho.batching import batched
from zoho_pipelines.zoho.crm_fields import MAX_FIELDS_PER_CALL, field_groups, merge_by_id
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
UNSUPPORTED_TYPES = frozenset({"imageupload"})
"""Field types COQL refuses ("Image upload field is not supported", v8 limitations)."""
RESERVED_WORDS = frozenset(
    """
    all alter and any as asc between by case cast check column constraint create cross current
    current_date current_time current_timestamp current_user delete desc distinct drop else end
    except exists external false fetch for foreign from full global grant group having in inner
    insert intersect into is join leading left like limit local natural not null of offset on or
    order outer primary references right select session_user some system_user table then to
    trailing true union unique update user using values when where window with
    """.split()  # noqa: SIM905 - a word list reads best as text
)
"""SQL reserved words (SQL:2016's that a SQL parser would not take as names): a field so named
must be quoted in COQL, as Zoho's `External` must."""


# Zoho prices a COQL call by its LIMIT: up to 200 one credit, up to 1,000 two, up to 2,000 three.
LIMIT_TIERS = (200, 1_000, COQL_MAX_ROWS_PER_CALL)


def coql_credits(limit: int) -> int:
    """API credits Zoho charges for one COQL call with this LIMIT."""
    if limit <= 200:
        return 1
    if limit <= 1_000:
        return 2
    return 3


def limit_for(remaining: int, page_size: int = COQL_MAX_ROWS_PER_CALL) -> int:
    """The cheapest LIMIT (at most `page_size`) that still fetches `remaining` expected rows.

    A call is priced by its LIMIT, not by the rows it returns, so a window's last call sized to
    what is left (a few hundred rows for one or two credits) instead of 2,000 (three) is where
    an expected count pays. A low guess costs one more call, never a record.
    """
    for tier in LIMIT_TIERS:
        if remaining <= tier:
            return min(tier, page_size)
    return page_size


def coql_column(name: str) -> str:
    """`name` as a COQL select column: quoted when it (or a part of a dotted name) is a reserved word."""
    if any(part.lower() in RESERVED_WORDS for part in name.split(".")):
        return f"'{name}'"
    return name


def all_of(criteria: Sequence[str]) -> str:
    """The criteria joined by `and`, bracketed in pairs as COQL requires: ((A and B) and C)."""
    if not criteria:
        raise ValueError("at least one criterion")
    joined = criteria[0]
    for criterion in criteria[1:]:
        joined = f"({joined} and {criterion})"
    return joined


def window_query(
    module: str,
    fields: Sequence[str],
    start: datetime,
    end: datetime,
    offset: int,
    limit: int,
    *,
    criteria: Sequence[str] = (),
) -> str:
    """The COQL for one page of [start, end): whole seconds, widened at the end, filtered later.

    `criteria` (already valid COQL) narrow the window further; they join its two bounds in pairs.
    """
    for name, pattern in ((module, API_NAME), *((field, COLUMN) for field in fields)):
        if not pattern.fullmatch(name):
            raise ValueError(f"not a Zoho api_name: {name!r}")
    # Every interpolated name was checked against API_NAME or COLUMN: nothing can break out of the query.
    bounds = [f"Modified_Time >= '{zoho_iso(start)}'", f"Modified_Time < '{zoho_iso(ceil_second(end))}'"]
    where = all_of([*bounds, *criteria])
    columns = ", ".join(coql_column(field) for field in fields)
    select = f"select {columns} from {module}"  # noqa: S608 - names validated above
    return f"{select} where {where} order by Modified_Time asc, id asc limit {offset}, {limit}"


class CoqlReader:
    """Runs COQL through a transport; wider-than-50-field reads complete their rows by id."""

    def __init__(
        self,
        transport: ZohoTransport,
        records: CrmRecordReader,
        *,
        metadata: Callable[[str], list[dict[str, Any]]] | None = None,
    ) -> None:
        """`metadata` (a module's field metadata, cached by the caller) tells which fields COQL
        cannot select; without it every field is taken as selectable."""
        self._transport = transport
        self._records = records
        self._metadata = metadata

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
        expected: int | None = None,
    ) -> Iterator[list[Record]]:
        """Batches of the records with Modified_Time in [start, end), each once, in that order.

        `max_offset_rows` is how far LIMIT's offset may reach before the window is re-based.
        `expected` (how many records the window should hold, when a plan knows) sizes each call's
        LIMIT to what is left, so the last call does not pay for 2,000 rows it cannot fill.
        With a `namer`, rows come back as the records API shapes them: lookups with names, and
        fields past the first 50 read by a second COQL query over the same page (3 credits per
        2,000 rows instead of one by-id call per 100). Without, lookups are ids only, as COQL
        answers them, and the other fields are completed by id.
        """
        cursor = WindowCursor(start, end)
        selects, by_id = self._selects(module, fields, namer)
        read = 0
        while True:
            base, offset, emitted_before = cursor.position, 0, cursor.emitted
            while offset + page_size <= max_offset_rows:
                size = page_size if expected is None else limit_for(expected - read, page_size)
                page = _Page(module, base, end, offset, size)
                rows, info = self.query(page.query(selects[0].select), limit=size)
                read += len(rows)
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

    def _selects(
        self, module: str, fields: Sequence[str], namer: LookupNamer | None
    ) -> tuple[list[_Select], list[list[str]]]:
        """The COQL selects of a read (each at most 50 columns and 15 joins), and the fields left
        to by-id completion through the records API (image uploads, and lookups without names)."""
        unsupported = self._unsupported(module)
        groups = field_groups(name for name in fields if name not in unsupported)
        by_id = [
            list(chunk) for chunk in batched([f for f in fields if f in unsupported], MAX_FIELDS_PER_CALL)
        ]
        if namer is None:
            return [_Select(groups[0], groups[0], NO_NAMES)], groups[1:] + by_id
        selects = []
        for group in groups:
            for carried, plan in namer.plans(module, group):
                selects.append(_Select(carried, plan.select(carried), plan))
                if plan.unnamed:
                    by_id.append(list(plan.unnamed))
        return selects, by_id

    def _unsupported(self, module: str) -> frozenset[str]:
        if self._metadata is None:
            return frozenset()
        return frozenset(
            str(field["api_name"])
            for field in self._metadata(module)
            if field.get("data_type") in UNSUPPORTED_TYPES
        )

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
