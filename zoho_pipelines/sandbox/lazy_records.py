"""A population of records kept as numpy columns and rendered one record at a time.

Books and Projects serve up to millions of entities; holding them as dicts would cost gigabytes.
A `Timeline` keeps only what listing needs (id, created and modified time) as int64 arrays, so
filters, sorts and id look-ups are vectorised, and the endpoint renders only the page it returns
from a per-record seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

MS_PER_SECOND = 1_000


def record_rng(seed: int, kind: str, index: int) -> random.Random:
    """A generator private to one record: renders are repeatable and independent of page boundaries.

    String seeds are hashed with SHA-512 by `random`, so this is stable across processes
    (unlike `hash()`, which is salted per interpreter).
    """
    return random.Random(f"{seed}:{kind}:{index}")


def resolve_anchor(anchor: datetime | None) -> datetime:
    """The end of generated history: the configured anchor, else now (to the second)."""
    return anchor if anchor is not None else datetime.now(UTC).replace(microsecond=0)


def epoch_ms(moment: datetime) -> int:
    """Milliseconds since the epoch of an aware datetime."""
    return int(moment.timestamp() * MS_PER_SECOND)


def from_epoch_ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / MS_PER_SECOND, UTC)


def spread_times(rng: np.random.Generator, count: int, start_ms: int, end_ms: int) -> np.ndarray:
    """`count` sorted whole-second instants in [start_ms, end_ms).

    Whole seconds because Books renders times to the second: a sub-second part would make a
    record's listed time disagree with the time a filter compares.
    """
    first, last = start_ms // MS_PER_SECOND, max(start_ms // MS_PER_SECOND + 1, end_ms // MS_PER_SECOND)
    return np.sort(rng.integers(first, last, size=count, dtype=np.int64)) * MS_PER_SECOND


def later_times(rng: np.random.Generator, after_ms: np.ndarray, end_ms: int) -> np.ndarray:
    """For each instant, a whole-second instant between it and `end_ms` (a later edit)."""
    room = np.maximum(end_ms - after_ms, 0) // MS_PER_SECOND
    return after_ms + (rng.random(after_ms.shape[0]) * room).astype(np.int64) * MS_PER_SECOND


def sequential_ids(rng: np.random.Generator, count: int, base: int) -> np.ndarray:
    """Unique ids that grow with creation order, with gaps, like Zoho's."""
    return base + np.cumsum(rng.integers(1, 64, size=count, dtype=np.int64))


@dataclass
class Timeline:
    """Ids and times of one entity's records; index i is the i-th record ever created.

    `ids` ascend with the index (Zoho ids grow over time), so an id look-up is a binary search.
    """

    ids: np.ndarray
    created_ms: np.ndarray
    modified_ms: np.ndarray
    _by_modified: np.ndarray = field(init=False, repr=False)
    _modified_sorted: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._reindex()

    @classmethod
    def empty(cls) -> Timeline:
        none = np.zeros(0, dtype=np.int64)
        return cls(none, none.copy(), none.copy())

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def _reindex(self) -> None:
        # Ties on the modified time are broken by id so that page boundaries are stable.
        self._by_modified = np.lexsort((self.ids, self.modified_ms))
        self._modified_sorted = self.modified_ms[self._by_modified]

    def index_of(self, record_id: int) -> int | None:
        position = int(np.searchsorted(self.ids, record_id))
        if position < len(self) and int(self.ids[position]) == record_id:
            return position
        return None

    def append(self, record_id: int, created_ms: int, modified_ms: int) -> int:
        """Add one record (ids must keep ascending); returns its index."""
        self.ids = np.append(self.ids, np.int64(record_id))
        self.created_ms = np.append(self.created_ms, np.int64(created_ms))
        self.modified_ms = np.append(self.modified_ms, np.int64(modified_ms))
        self._reindex()
        return len(self) - 1

    def select(
        self,
        *,
        modified_since_ms: int | None = None,
        sort_by_modified: bool = False,
        descending: bool = False,
        candidates: np.ndarray | None = None,
    ) -> np.ndarray:
        """Indices of the records modified at or after `modified_since_ms`, in the requested order.

        Without `sort_by_modified` the order is creation order (index order). `candidates`
        restricts the result to a subset of indices (one project's tasks, say).
        """
        if sort_by_modified:
            start = 0
            if modified_since_ms is not None:
                start = int(np.searchsorted(self._modified_sorted, modified_since_ms, side="left"))
            order = self._by_modified[start:]
            if candidates is not None:
                order = order[np.isin(order, candidates)]
        else:
            order = np.arange(len(self)) if candidates is None else np.sort(candidates)
            if modified_since_ms is not None:
                order = order[self.modified_ms[order] >= modified_since_ms]
        return order[::-1] if descending else order
