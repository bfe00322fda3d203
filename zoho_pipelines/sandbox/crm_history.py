"""When generated CRM records were created and last modified: the shape of a real org's history.

A real Zoho org's Modified_Time is not spread evenly. People work in office hours and rarely at
weekends; imports and campaigns come in bursts; a mass update or a workflow run stamps thousands of
records with one Modified_Time second; scheduled imports and date-only integrations land records at
exactly 00:00:00 UTC. Those are what break incremental syncs (cursor ties at a page boundary, a day
boundary read twice or never), so the default `realistic` shape has all of them. `uniform` is the
old even spread, kept for benchmarks that compare with earlier figures.

Everything is drawn with numpy from the module's seeded generator, so the same seed always gives
the same history, and a million records take well under a second.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np

EDITED_SHARE = 0.6
DAY_S = 86_400
HOUR_S = 3_600
HOUR_WEIGHTS = np.array(
    [0.15, 0.1, 0.08, 0.08, 0.1, 0.2, 0.45, 0.8, 1.3, 1.8, 2.0, 1.9,
     1.5, 1.7, 1.9, 1.8, 1.5, 1.1, 0.7, 0.5, 0.4, 0.3, 0.25, 0.2]
)  # fmt: skip
"""Relative activity by local hour of the org's time zone: quiet nights, busy mornings."""
WEEKEND_WEIGHT = 0.25
BURST_WEIGHT = 4.0
BURST_EVERY_HOURS = 48
ROW_BITS = 22
"""Rows fit in 22 bits (SandboxConfig caps a module at 4,000,000 records)."""
"""One burst hour (an import, a campaign) for every two days of history."""


@dataclass(frozen=True)
class HistoryShape:
    """The knobs of the realistic shape (SandboxConfig carries them)."""

    midnight_share: float
    """Share of records created or last modified at exactly 00:00:00 UTC (scheduled imports)."""
    mass_update_share: float
    """Share of records whose Modified_Time is one of a few mass-update seconds."""
    mass_update_size: int
    """Records per mass update (Zoho's mass update and workflows touch thousands at once)."""
    timezone: str


@dataclass(frozen=True)
class History:
    created_s: np.ndarray
    """Ascending (ids grow with creation)."""
    modified_s: np.ndarray
    edited: np.ndarray


def uniform_history(rng: np.random.Generator, count: int, start_s: int, end_s: int) -> History:
    """The even spread: creations uniform in the window, edits uniform after creation.

    Draws from `rng` exactly as the sandbox always has, so `time_shape="uniform"` reproduces the
    records earlier benchmark figures were measured on.
    """
    created_s = np.sort(rng.integers(start_s, end_s, size=count, dtype=np.int64))
    edited = rng.random(count) < EDITED_SHARE
    modified_s = created_s + (edited * rng.random(count) * (end_s - created_s)).astype(np.int64)
    return History(created_s, modified_s, edited)


class _Activity:
    """Hour buckets of the window weighted by local hour, weekday and bursts; draws instants."""

    def __init__(self, rng: np.random.Generator, start_s: int, end_s: int, timezone: str) -> None:
        self.rng = rng
        offset = datetime.fromtimestamp(end_s, ZoneInfo(timezone)).utcoffset()
        offset_s = int(offset.total_seconds()) if offset else 0
        hours = np.arange(start_s // HOUR_S, (end_s - 1) // HOUR_S + 1, dtype=np.int64)
        self.low = np.maximum(hours * HOUR_S, start_s)
        self.high = np.minimum((hours + 1) * HOUR_S, end_s)
        local = hours * HOUR_S + offset_s
        weekday = (local // DAY_S + 3) % 7  # 1970-01-01 was a Thursday; Monday is 0
        weight = HOUR_WEIGHTS[(local // HOUR_S) % 24] * np.where(weekday >= 5, WEEKEND_WEIGHT, 1.0)
        weight = weight * (self.high - self.low) / HOUR_S
        bursts = rng.choice(len(hours), size=max(1, len(hours) // BURST_EVERY_HOURS), replace=False)
        weight[bursts] *= BURST_WEIGHT
        self.cdf = np.cumsum(weight / weight.sum())

    def draw(self, count: int) -> np.ndarray:
        bucket = np.minimum(
            np.searchsorted(self.cdf, self.rng.random(count), side="right"), len(self.cdf) - 1
        )
        span = self.high[bucket] - self.low[bucket]
        return self.low[bucket] + (self.rng.random(count) * span).astype(np.int64)


def realistic_history(
    rng: np.random.Generator, count: int, start_s: int, end_s: int, shape: HistoryShape
) -> History:
    """Office hours, bursts, midnight imports and mass updates (see the module docstring)."""
    activity = _Activity(rng, start_s, end_s, shape.timezone)
    created = activity.draw(count)
    edited = rng.random(count) < EDITED_SHARE
    candidate = activity.draw(count)
    later = created + (rng.random(count) * (end_s - created)).astype(np.int64)
    modified = np.where(edited, np.where(candidate >= created, candidate, later), created)

    # Scheduled imports at 00:00:00 UTC: the record is created or touched at a midnight of the window.
    midnights = np.arange(-(-start_s // DAY_S) * DAY_S, end_s, DAY_S, dtype=np.int64)
    at_midnight = np.zeros(count, dtype=bool)
    if len(midnights) and shape.midnight_share > 0:
        at_midnight = rng.random(count) < shape.midnight_share
        stamp = midnights[rng.integers(0, len(midnights), size=count)]
        modified = np.where(at_midnight, stamp, modified)
        created = np.where(at_midnight, np.minimum(created, stamp), created)

    # Mass updates: a few seconds, each shared by about `mass_update_size` records.
    expected = shape.mass_update_share * count
    if expected >= 2:
        events = activity.draw(max(1, round(expected / shape.mass_update_size)))
        mass = (rng.random(count) < shape.mass_update_share) & ~at_midnight
        stamp = events[rng.integers(0, len(events), size=count)]
        modified = np.where(mass, stamp, modified)
        created = np.where(mass, np.minimum(created, stamp), created)
        edited |= mass
    edited |= at_midnight & (modified > created)

    return _by_creation(created, modified, edited)


def _by_creation(created: np.ndarray, modified: np.ndarray, edited: np.ndarray) -> History:
    """Rows reordered by creation time (ids grow with it); ties keep their draw order.

    Sorting `created << 22 | row` in place is several times faster than an indirect stable
    argsort of a million int64s, and gives the same order.
    """
    rows = np.arange(len(created), dtype=np.int64)
    keys = (created << ROW_BITS) | rows
    keys.sort()
    order = keys & ((1 << ROW_BITS) - 1)
    return History(created[order], modified[order], edited[order])
