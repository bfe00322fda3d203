"""Modified-time windows: Zoho timestamps, window splitting, and the resume cursor.

Zoho renders datetimes in the org's time zone (`2024-05-01T10:00:00+05:30`) with one-second
resolution, and its filters are inclusive or exclusive depending on the API. So everything here
works on aware UTC datetimes, widens server-side filters to whole seconds, and filters exactly on
the client. The cursor is what makes restarts (expired page tokens, the 100,000-records-per-query
ceiling, COQL's offset limit) lossless and duplicate-free without remembering every id emitted:
records arrive in Modified_Time order, so only the ids sharing the latest timestamp are needed.
"""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta
from typing import Any

ONE_SECOND = timedelta(seconds=1)


def require_aware(value: datetime, name: str) -> datetime:
    """`value` in UTC; naive datetimes are refused because Zoho orgs live in many time zones."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")
    return value.astimezone(UTC)


def parse_zoho_datetime(value: str) -> datetime:
    """A Zoho datetime (any offset, or `Z`) as an aware UTC datetime."""
    return require_aware(datetime.fromisoformat(value), "Zoho datetime")


def floor_second(value: datetime) -> datetime:
    return value.replace(microsecond=0)


def ceil_second(value: datetime) -> datetime:
    floored = floor_second(value)
    return floored if floored == value else floored + ONE_SECOND


def zoho_iso(value: datetime) -> str:
    """The ISO form Zoho accepts in headers, COQL literals and criteria (UTC, whole seconds)."""
    return floor_second(value.astimezone(UTC)).isoformat()


def split_window(start: datetime, end: datetime, parts: int) -> list[tuple[datetime, datetime]]:
    """Cut [start, end) into at most `parts` adjacent windows on whole-second boundaries."""
    start, end = require_aware(start, "start"), require_aware(end, "end")
    if start >= end:
        return []
    seconds = math.ceil((end - floor_second(start)).total_seconds())
    step = math.ceil(seconds / max(1, parts))
    bounds = [start]
    while True:
        candidate = floor_second(bounds[-1]) + timedelta(seconds=step)
        if candidate >= end:
            break
        bounds.append(candidate)
    bounds.append(end)
    return list(itertools.pairwise(bounds))


class WindowCursor:
    """How far a Modified_Time-ordered stream of [start, end) has been emitted.

    Everything before `position` has been emitted, plus the ids in `_ids_at_position`; a restarted
    query may therefore begin at `position` (or a second before it) and replay safely.
    """

    def __init__(self, start: datetime, end: datetime) -> None:
        self.position = require_aware(start, "start")
        self.end = require_aware(end, "end")
        self._ids_at_position: set[str] = set()
        self.emitted = 0

    def admit(self, records: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], bool]:
        """The records of one ordered page not yet emitted, and whether the window's end was reached."""
        fresh: list[dict[str, Any]] = []
        reached_end = False
        for record in records:
            modified = parse_zoho_datetime(record["Modified_Time"])
            if modified >= self.end:
                reached_end = True
                break
            if self._first_sighting(str(record["id"]), modified):
                fresh.append(record)
        self.emitted += len(fresh)
        return fresh, reached_end

    def _first_sighting(self, record_id: str, modified: datetime) -> bool:
        if modified < self.position:
            return False
        if modified > self.position:
            self.position = modified
            self._ids_at_position = set()
        if record_id in self._ids_at_position:
            return False
        self._ids_at_position.add(record_id)
        return True
