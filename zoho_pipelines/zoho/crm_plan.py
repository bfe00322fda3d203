"""Planning a busy window's COQL read from the ranks of its records, not from their spread in time.

A real day's records are not spread evenly: mass updates and imports put thousands of records on
one second, often 00:00:00 UTC, so how much of the day a sample of its first records spans says
nothing about the rest (a probe page whose 200 records share the window's first second measures
no density at all). COQL orders a window by Modified_Time then id and reaches any rank below
100,000 with `LIMIT rank, 1`, one credit each (a LIMIT up to 200 costs one). A handful of such
probes, sent side by side, say exactly in which second the window's 9,950th, 19,900th, ...
record sits; cutting the window at those seconds gives sub-windows of nearly equal size however
the records cluster, and tells each sub-window how many records to expect, which sizes its last
call's LIMIT (see `crm_coql.limit_for`). Records sharing one second stay in one sub-window, whose
COQL pages order them by id, so each is read once however many share it.

One COQL query reaches 100,000 rows deep; a window with more is planned in blocks: the probe at
rank 99,999 marks where the next block starts, and the next block is probed from there while
the first one is already being read, over at most twice the first block's time span.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from zoho_pipelines.zoho.crm_coql import COQL_MAX_OFFSET_ROWS, CoqlReader, window_query
from zoho_pipelines.zoho.errors import ZohoAPIError
from zoho_pipelines.zoho.windows import floor_second, parse_zoho_datetime, require_aware

# Five full COQL calls of 2,000 rows, less a margin: a sub-window cut at whole seconds holds a few
# records more or less than its ranks say, and the margin keeps it within five calls.
RECORDS_PER_PLANNED_WINDOW = 9_950
CURSOR = "Modified_Time"


@dataclass(frozen=True)
class SubWindow:
    """[start, end) of a planned read, and how many records it should hold (None: unknown)."""

    start: datetime
    end: datetime
    expected: int | None


class RankPlanner:
    """Cuts [start, end) into sub-windows of about `window_records` records each, by COQL rank probes."""

    def __init__(
        self,
        coql: CoqlReader,
        *,
        concurrency: int,
        window_records: int = RECORDS_PER_PLANNED_WINDOW,
        max_rank: int = COQL_MAX_OFFSET_ROWS,
    ) -> None:
        if not 0 < window_records < max_rank:
            raise ValueError("window_records must be positive and below max_rank")
        self._coql = coql
        self._concurrency = max(1, concurrency)
        self._size = window_records
        self._max_rank = max_rank

    def plan(
        self, module: str, start: datetime, end: datetime, *, likely_small: bool = False
    ) -> Iterator[SubWindow]:
        """Sub-windows tiling [start, end) in order, each yielded as soon as its bounds are known.

        `likely_small` (a hint, never trusted) first spends one probe to check that the window
        holds fewer than `window_records` records before probing the whole block, so a quiet
        window does not pay for ten probes; a wrong hint costs one round trip.
        """
        base, end = require_aware(start, "start"), require_aware(end, "end")
        limit = end
        while True:
            beyond = yield from self._plan_block(module, base, limit, likely_small=likely_small)
            if beyond is None and limit >= end:
                return
            # The next block's probes look no further than twice the time the last block took
            # (each probe makes the server order every record it spans): a block that then
            # falls short ends at that bound and the one after looks twice as far again.
            span = (beyond or limit) - base
            base, likely_small = beyond or limit, False
            limit = min(end, base + 2 * span)

    def _plan_block(
        self, module: str, base: datetime, end: datetime, *, likely_small: bool
    ) -> Generator[SubWindow, None, datetime | None]:
        """Sub-windows of the first `max_rank` records from `base`; returns where the next block starts.

        Probes go out a round at a time, `concurrency` ranks a round (one rank when the hint says
        small), with the block's last rank (the sentinel) in the first full round: once it is
        known to exist, every rank below it does too, and the rest go out together.
        """
        grid = list(range(self._size, self._max_rank - self._size + 1, self._size)) or [self._size]
        sentinel = self._max_rank - 1
        times: dict[int, datetime | None] = {}
        rank, low, walked = 0, base, 0
        while True:
            unprobed = [r for r in grid if r not in times]
            if likely_small and not times:
                ranks = unprobed[:1]
            elif times.get(sentinel) is not None:
                ranks = unprobed
            else:
                ranks = unprobed[: self._concurrency] + ([] if sentinel in times else [sentinel])
            times.update(self._probe(module, base, end, ranks))
            for next_rank in grid[walked:]:
                if next_rank not in times:
                    break
                walked += 1
                moment = times[next_rank]
                if moment is None:
                    yield SubWindow(low, end, next_rank - rank)
                    return None
                if moment > low:
                    yield SubWindow(low, moment, next_rank - rank)
                    rank, low = next_rank, moment
            if walked < len(grid):
                continue
            if sentinel not in times:
                times.update(self._probe(module, base, end, [sentinel]))
            beyond = times[sentinel]
            if beyond is None:
                yield SubWindow(low, end, self._max_rank - rank)
                return None
            if beyond <= base:
                raise ZohoAPIError(
                    f"over {self._max_rank} {module} records share Modified_Time {base.isoformat()}",
                    method="POST",
                    path="/crm/v8/coql",
                )
            if beyond > low:
                yield SubWindow(low, beyond, sentinel - rank)
            return beyond

    def _probe(
        self, module: str, base: datetime, end: datetime, ranks: list[int]
    ) -> dict[int, datetime | None]:
        """The second of each rank's record in [base, end) (None past the last), probed side by side."""
        if not ranks:
            return {}
        with ThreadPoolExecutor(max_workers=min(self._concurrency, len(ranks))) as pool:
            moments = list(pool.map(lambda rank: self._moment_at(module, base, end, rank), ranks))
        return dict(zip(ranks, moments, strict=True))

    def _moment_at(self, module: str, base: datetime, end: datetime, rank: int) -> datetime | None:
        rows, _ = self._coql.query(window_query(module, [CURSOR], base, end, rank, 1), limit=1)
        if not rows:
            return None
        moment = floor_second(parse_zoho_datetime(rows[0][CURSOR]))
        # The query reads whole seconds up to end's ceiling; a probe past `end` means fewer ranks.
        return moment if moment < end else None
