"""Reading a [start, end) modified-time window from a listing sorted by modified time, ascending.

Books and Projects page by position (`page`, `index`): when a record is edited during a read it
jumps to the end of the order and every later record shifts back one place, so the next page
silently skips one. Re-querying from the latest modified time seen (the cursor) instead of asking
for "page n" makes a shift harmless; the ids already emitted at the cursor's instant are
remembered so the overlap is dropped. Only when more records than a page share one instant does
the read advance by page at that instant.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from zoho_pipelines.zoho.windows import require_aware

Record = dict[str, Any]


@dataclass(frozen=True)
class Page:
    """One listing response: its records (ascending modified time) and whether more follow."""

    records: list[Record]
    has_more: bool


# fetch(since, page_number) -> the page_number-th page of records modified at or after `since`.
Fetch = Callable[[datetime, int], Page]


def from_epoch_ms(value: int | str) -> datetime:
    return datetime.fromtimestamp(int(value) / 1000, UTC)


def in_window(moment: datetime, start: datetime, end: datetime) -> bool:
    return start <= moment < end


def read_ascending(
    fetch: Fetch,
    *,
    start: datetime,
    end: datetime,
    modified: Callable[[Record], datetime],
    record_id: Callable[[Record], str],
) -> Iterator[list[Record]]:
    """Batches (one per call) of the records modified in [start, end), each exactly once."""
    start, end = require_aware(start, "start"), require_aware(end, "end")
    if start >= end:
        return
    position, seen_at_position, page_number = start, set[str](), 1
    while True:
        page = fetch(position, page_number)
        fresh: list[Record] = []
        advanced = reached_end = False
        for record in page.records:
            moment = modified(record)
            if moment >= end:
                reached_end = True
                break
            if moment < position:
                continue  # the server's filter is coarser than ours (whole seconds, say)
            if moment > position:
                position, seen_at_position, advanced = moment, set(), True
            key = record_id(record)
            if key not in seen_at_position:
                seen_at_position.add(key)
                fresh.append(record)
        if fresh:
            yield fresh
        if reached_end or not page.has_more:
            return
        page_number = 1 if advanced else page_number + 1
