"""The CRM ground truth: a columnar store of record ids and times, rendered to records on demand.

Per module only a few numpy columns are held (id, created/modified/deleted epoch ms, version,
who created/modified it); every other field value is generated from (seed, module, index,
version) when a page is rendered, and the rare values written by PUT live in a sparse override
map. A million records a module therefore costs tens of megabytes, not gigabytes.

Ids grow with the record index (new records get larger ids, as in Zoho), so sorting by id needs
no sort at all; other sort orders use int64 keys `epoch_seconds << INDEX_BITS | index`, sorted once
per change generation and cached.
"""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from zoho_pipelines.clock import Clock
from zoho_pipelines.sandbox.config import SandboxConfig
from zoho_pipelines.sandbox.crm_catalog import (
    LOOKUP_NULL_SHARE,
    MODULES,
    USERS,
    FieldSpec,
    ModuleSpec,
)
from zoho_pipelines.sandbox.crm_history import History, HistoryShape, realistic_history, uniform_history
from zoho_pipelines.sandbox.crm_values import (
    U64,
    TimeFormatter,
    null_mask,
    pick,
    splitmix64,
    stable_salt,
)

INDEX_BITS = 22
INDEX_MASK = (1 << INDEX_BITS) - 1
SORT_FIELDS = ("id", "Created_Time", "Modified_Time")
ID_BASE = 5_725_767_000_000_000_000
ID_MODULE_STRIDE = 10**14
INITIAL_DELETED_SHARE = 0.03
PERMANENT_SHARE = 0.25
OWNERS = USERS[:-1]
API_USER_INDEX = len(USERS) - 1
GENERATED_EMAIL = re.compile(r"\.(\d+)@")

ChangeListener = Callable[[str, str, list[int], list[str]], None]
"""(module, operation insert|update|delete, record ids, affected field api_names)."""


@dataclass
class ModuleColumns:
    """Growable numpy columns for one module; `count` rows are in use."""

    ids: np.ndarray
    created_ms: np.ndarray
    modified_ms: np.ndarray
    deleted_ms: np.ndarray  # 0 = live
    permanent: np.ndarray  # deleted past the recycle bin
    version: np.ndarray
    created_by: np.ndarray
    modified_by: np.ndarray
    count: int
    initial_count: int
    generation: int = 0
    overrides: dict[int, dict[str, Any]] = field(default_factory=dict)
    unique_overrides: dict[str, dict[str, int]] = field(default_factory=dict)

    def grow_to(self, size: int) -> None:
        capacity = len(self.ids)
        if size <= capacity:
            return
        new_capacity = max(size, capacity * 2)
        for name in (
            "ids",
            "created_ms",
            "modified_ms",
            "deleted_ms",
            "permanent",
            "version",
            "created_by",
            "modified_by",
        ):
            column = getattr(self, name)
            grown = np.zeros(new_capacity, dtype=column.dtype)
            grown[:capacity] = column
            setattr(self, name, grown)

    def live_indices(self) -> np.ndarray:
        return np.flatnonzero(self.deleted_ms[: self.count] == 0)


class RenderContext:
    """One rendering pass over a set of records: caches each field's hashes and values."""

    def __init__(self, store: CrmStore, module: ModuleSpec, indices: np.ndarray) -> None:
        columns = store.columns[module.api_name]
        self.store = store
        self.module = module
        self.indices = indices.astype(np.int64, copy=False)
        self.versions = columns.version[self.indices]
        self.created_s = columns.created_ms[self.indices] // 1000
        self.modified_s = columns.modified_ms[self.indices] // 1000
        self.anchor_s = store.anchor_s
        self.anchor_date = store.anchor.date()
        self.now_s = int(store.clock.now().timestamp())
        self.times = store.times
        self._keys = splitmix64(self.indices.astype(U64) ^ store.module_salt[module.api_name])
        self._hashes: dict[str, np.ndarray] = {}
        self._columns: dict[str, list[Any]] = {}
        overrides = columns.overrides
        self._overridden = (
            [(pos, overrides[idx]) for pos, idx in enumerate(self.indices.tolist()) if idx in overrides]
            if overrides
            else []
        )

    def hashes(self, api_name: str) -> np.ndarray:
        cached = self._hashes.get(api_name)
        if cached is None:
            spec = self.module.by_name.get(api_name)
            cached = splitmix64(self._keys ^ self.store.field_salt(self.module.api_name, api_name))
            if spec is not None and spec.volatile:
                cached = splitmix64(cached ^ (self.versions.astype(U64) * U64(0x9E3779B97F4A7C15)))
            self._hashes[api_name] = cached
        return cached

    def column(self, api_name: str) -> list[Any]:
        cached = self._columns.get(api_name)
        if cached is None:
            spec = self.module.by_name[api_name]
            cached = spec.generate(self, api_name) if spec.generate else self._system_column(spec)
            for pos, values in self._overridden:
                if api_name in values:
                    cached[pos] = values[api_name]
            self._columns[api_name] = cached
        return cached

    def _system_column(self, spec: FieldSpec) -> list[Any]:
        name = spec.api_name
        columns = self.store.columns[self.module.api_name]
        if name == "Created_Time":
            return self.times.format_seconds(self.created_s)
        if name in ("Modified_Time", "Last_Activity_Time"):
            return self.times.format_seconds(self.modified_s)
        if name == "Created_By":
            return [USERS[i] for i in columns.created_by[self.indices].tolist()]
        if name == "Modified_By":
            return [USERS[i] for i in columns.modified_by[self.indices].tolist()]
        if spec.data_type == "ownerlookup":
            return pick(OWNERS, self.hashes(name))
        if spec.data_type == "lookup" and spec.lookup_module:
            return self._lookup_column(spec)
        raise KeyError(f"no renderer for {self.module.api_name}.{name}")

    def _lookup_column(self, spec: FieldSpec) -> list[Any]:
        target = self.store.columns[spec.lookup_module]
        hashes = self.hashes(spec.api_name)
        targets = (hashes % U64(target.initial_count)).astype(np.int64)
        names = self.store.display_names(spec.lookup_module, targets)
        ids = target.ids[targets].tolist()
        empty = null_mask(hashes, LOOKUP_NULL_SHARE.get(spec.api_name, 0.0)).tolist()
        return [
            None if is_null else {"name": name, "id": str(record_id)}
            for name, record_id, is_null in zip(names, ids, empty, strict=True)
        ]

    def records(self, fields: Sequence[str]) -> list[dict[str, Any]]:
        ids = [str(value) for value in self.store.columns[self.module.api_name].ids[self.indices].tolist()]
        columns = [self.column(name) for name in fields]
        keys = ("id", *fields)
        return [dict(zip(keys, row, strict=True)) for row in zip(ids, *columns, strict=True)]


@dataclass(frozen=True)
class Page:
    indices: np.ndarray
    last_key: int | None
    more: bool


class CrmStore:
    """Thread-safe ground truth for the four CRM modules."""

    def __init__(self, config: SandboxConfig, clock: Clock) -> None:
        if config.anchor is None:
            raise ValueError("the store needs a resolved anchor")
        self.config = config
        self.clock = clock
        self.anchor = config.anchor
        self.anchor_s = int(config.anchor.timestamp())
        self.times = TimeFormatter(config.timezone)
        self.lock = threading.RLock()
        self.module_salt = {name: stable_salt(config.seed, name) for name in MODULES}
        self._field_salts: dict[tuple[str, str], np.uint64] = {}
        self._sorted: dict[tuple[str, str, int], np.ndarray] = {}
        self._filtered: dict[tuple[str, str, int, int], np.ndarray] = {}
        self._listeners: list[ChangeListener] = []
        self._mutations = 0
        self.columns = {name: self._populate(spec) for name, spec in MODULES.items()}

    def now_ms(self) -> int:
        """The sandbox clock truncated to whole seconds, the precision Zoho renders."""
        return int(self.clock.now().timestamp()) * 1000

    # ---- population ------------------------------------------------------------------------

    def _populate(self, spec: ModuleSpec) -> ModuleColumns:
        count = self.config.records_per_module
        rng = np.random.default_rng([self.config.seed, spec.number])
        start_s = self.anchor_s - self.config.history_days * 86_400
        history = self._history(rng, count, start_s)
        created_s, modified_s, edited = history.created_s, history.modified_s, history.edited
        deleted = rng.random(count) < INITIAL_DELETED_SHARE
        deleted_s = modified_s + (rng.random(count) * (self.anchor_s - modified_s)).astype(np.int64)
        ids = (
            ID_BASE
            + spec.number * ID_MODULE_STRIDE
            + np.cumsum(rng.integers(1, 64, size=count, dtype=np.int64))
        )
        return ModuleColumns(
            ids=ids,
            created_ms=created_s * 1000,
            modified_ms=modified_s * 1000,
            deleted_ms=np.where(deleted, deleted_s * 1000, 0).astype(np.int64),
            permanent=deleted & (rng.random(count) < PERMANENT_SHARE),
            version=np.where(edited, rng.integers(1, 4, size=count), 0).astype(np.int32),
            created_by=rng.integers(0, len(OWNERS), size=count).astype(np.uint8),
            modified_by=rng.integers(0, len(OWNERS), size=count).astype(np.uint8),
            count=count,
            initial_count=count,
        )

    def _history(self, rng: np.random.Generator, count: int, start_s: int) -> History:
        config = self.config
        if config.time_shape == "uniform":
            return uniform_history(rng, count, start_s, self.anchor_s)
        shape = HistoryShape(
            midnight_share=config.midnight_share,
            mass_update_share=config.mass_update_share,
            mass_update_size=config.mass_update_size,
            timezone=config.timezone,
        )
        return realistic_history(rng, count, start_s, self.anchor_s, shape)

    def field_salt(self, module: str, api_name: str) -> np.uint64:
        key = (module, api_name)
        salt = self._field_salts.get(key)
        if salt is None:
            salt = self._field_salts[key] = stable_salt(self.config.seed, module, api_name)
        return salt

    # ---- reading ---------------------------------------------------------------------------

    def spec(self, module: str) -> ModuleSpec:
        return MODULES[module]

    def ids(self, module: str) -> np.ndarray:
        """Ids of the module's live (not deleted) records, ascending."""
        with self.lock:
            columns = self.columns[module]
            return columns.ids[columns.live_indices()].copy()

    def index_of(self, module: str, record_id: int) -> int | None:
        """The row of a record id (live or deleted), or None if it never existed."""
        columns = self.columns[module]
        position = int(np.searchsorted(columns.ids[: columns.count], record_id))
        if position < columns.count and int(columns.ids[position]) == record_id:
            return position
        return None

    def is_live(self, module: str, index: int) -> bool:
        return int(self.columns[module].deleted_ms[index]) == 0

    def render(self, module: str, indices: Iterable[int] | np.ndarray, fields: Sequence[str]) -> list[dict]:
        with self.lock:
            array = np.asarray(
                list(indices) if not isinstance(indices, np.ndarray) else indices, dtype=np.int64
            )
            return RenderContext(self, MODULES[module], array).records(fields)

    def render_columns(self, module: str, indices: np.ndarray, fields: Sequence[str]) -> dict[str, list[Any]]:
        """Field values column by column (COQL and Bulk Read filter and write by column)."""
        with self.lock:
            ctx = RenderContext(self, MODULES[module], indices)
            return {name: ctx.column(name) for name in fields}

    def record(self, module: str, record_id: int | str) -> dict[str, Any]:
        """Every field of one record as the API renders it (KeyError if the id never existed)."""
        with self.lock:
            index = self.index_of(module, int(record_id))
            if index is None:
                raise KeyError(f"{module} has no record {record_id}")
            spec = MODULES[module]
            return self.render(module, [index], [f.api_name for f in spec.fields])[0]

    def display_names(self, module: str, indices: np.ndarray) -> list[Any]:
        spec = MODULES[module]
        return RenderContext(self, spec, indices).column(spec.display_field)

    def record_id(self, module: str, index: int) -> int:
        return int(self.columns[module].ids[index])

    def modified_ms(self, module: str, index: int) -> int:
        return int(self.columns[module].modified_ms[index])

    # ---- selection and paging ---------------------------------------------------------------

    def _sorted_keys(self, module: str, sort_by: str) -> np.ndarray:
        """Ascending composite keys of live records for a sort field (cached per generation)."""
        columns = self.columns[module]
        cache_key = (module, sort_by, columns.generation)
        keys = self._sorted.get(cache_key)
        if keys is None:
            live = columns.live_indices()
            if sort_by == "id":
                keys = live.astype(np.int64)
            else:
                times = columns.created_ms if sort_by == "Created_Time" else columns.modified_ms
                keys = np.sort(((times[live] // 1000) << INDEX_BITS) | live)
            self._sorted = {k: v for k, v in self._sorted.items() if k[0] != module or k[1] != sort_by}
            self._sorted[cache_key] = keys
        return keys

    def _selection(self, module: str, sort_by: str, since_ms: int | None) -> np.ndarray:
        keys = self._sorted_keys(module, sort_by)
        if since_ms is None:
            return keys
        columns = self.columns[module]
        cache_key = (module, sort_by, since_ms, columns.generation)
        selected = self._filtered.get(cache_key)
        if selected is None:
            if sort_by == "Modified_Time":
                selected = keys[np.searchsorted(keys, (since_ms // 1000) << INDEX_BITS) :]
            else:
                selected = keys[columns.modified_ms[keys & INDEX_MASK] >= since_ms]
            if len(self._filtered) > 32:
                self._filtered.clear()
            self._filtered[cache_key] = selected
        return selected

    def page(
        self,
        module: str,
        *,
        sort_by: str,
        descending: bool,
        since_ms: int | None,
        limit: int,
        offset: int = 0,
        after_key: int | None = None,
    ) -> Page:
        """One page of live records in sort order, by offset or after a key (keyset paging).

        Keyset paging (what page tokens carry) never skips or repeats a record when others are
        edited or deleted between calls, while offsets (discrete pages) may, as in Zoho.
        """
        with self.lock:
            keys = self._selection(module, sort_by, since_ms)
            size = len(keys)
            if descending:
                end = size - offset if after_key is None else int(np.searchsorted(keys, after_key, "left"))
                start = max(0, end - limit)
                chosen = keys[start : max(end, 0)][::-1]
                more = start > 0
            else:
                start = offset if after_key is None else int(np.searchsorted(keys, after_key, "right"))
                chosen = keys[start : start + limit]
                more = start + limit < size
            last_key = int(chosen[-1]) if len(chosen) else None
            return Page(indices=chosen & INDEX_MASK, last_key=last_key, more=more)

    def count_selected(self, module: str, sort_by: str, since_ms: int | None) -> int:
        with self.lock:
            return len(self._selection(module, sort_by, since_ms))

    def live_indices(self, module: str) -> np.ndarray:
        with self.lock:
            return self.columns[module].live_indices()

    def deleted_indices(self, module: str, kind: str, since_ms: int | None) -> np.ndarray:
        """Deleted rows of a kind (all, recycle, permanent), newest deletion first."""
        with self.lock:
            columns = self.columns[module]
            count = columns.count
            deleted_ms = columns.deleted_ms[:count]
            mask = deleted_ms > 0
            if kind == "recycle":
                mask &= ~columns.permanent[:count]
            elif kind == "permanent":
                mask &= columns.permanent[:count]
            if since_ms is not None:
                mask &= deleted_ms >= since_ms
            rows = np.flatnonzero(mask)
            return rows[np.lexsort((-rows, -deleted_ms[rows]))]

    def deleted_entry(self, module: str, index: int) -> dict[str, Any]:
        columns = self.columns[module]
        permanent = bool(columns.permanent[index])
        name = self.display_names(module, np.array([index]))[0]
        return {
            "deleted_by": USERS[int(columns.modified_by[index])],
            "id": str(int(columns.ids[index])),
            "display_name": name,
            "type": "permanent" if permanent else "recycle",
            "created_by": USERS[int(columns.created_by[index])],
            "deleted_time": self.times.format_ms(int(columns.deleted_ms[index])),
        }

    # ---- ground truth -----------------------------------------------------------------------

    def modified_ids(self, module: str, start: datetime, end: datetime) -> list[int]:
        """Ids of live records whose Modified_Time lies in [start, end)."""
        with self.lock:
            columns = self.columns[module]
            count = columns.count
            modified = columns.modified_ms[:count]
            mask = (modified >= start.timestamp() * 1000) & (modified < end.timestamp() * 1000)
            mask &= columns.deleted_ms[:count] == 0
            return columns.ids[:count][mask].tolist()

    def deleted_ids(self, module: str, start: datetime, end: datetime) -> list[int]:
        """Ids of records deleted in [start, end)."""
        with self.lock:
            columns = self.columns[module]
            deleted = columns.deleted_ms[: columns.count]
            mask = (deleted > 0) & (deleted >= start.timestamp() * 1000) & (deleted < end.timestamp() * 1000)
            return columns.ids[: columns.count][mask].tolist()

    # ---- writing ----------------------------------------------------------------------------

    def add_listener(self, listener: ChangeListener) -> None:
        self._listeners.append(listener)

    def _notify(self, module: str, operation: str, ids: list[int], fields: list[str]) -> None:
        if not ids:
            return
        for listener in self._listeners:
            listener(module, operation, ids, fields)

    def _touch(self, columns: ModuleColumns, index: int, moment_ms: int, user: int) -> None:
        columns.version[index] += 1
        columns.modified_ms[index] = moment_ms
        columns.modified_by[index] = user
        columns.generation += 1

    def find_duplicate(self, module: str, api_name: str, value: Any, exclude: int) -> int | None:
        """The live row (other than `exclude`) whose unique field already holds `value`."""
        with self.lock:
            columns = self.columns[module]
            candidates = []
            if (index := columns.unique_overrides.get(api_name, {}).get(value)) is not None:
                candidates.append(index)
            if isinstance(value, str) and (match := GENERATED_EMAIL.search(value)):
                candidates.append(int(match.group(1)))
            for index in candidates:
                if index == exclude or index >= columns.count or not self.is_live(module, index):
                    continue
                if self.render(module, [index], [api_name])[0][api_name] == value:
                    return index
            return None

    def update(self, module: str, index: int, values: dict[str, Any]) -> int:
        """Apply validated values to a record; returns its new Modified_Time (epoch ms).

        The record's volatile fields are frozen into its overrides first: bumping the version
        would otherwise regenerate them, and a PUT must change only what it was given.
        """
        spec = MODULES[module]
        with self.lock:
            columns = self.columns[module]
            current = self.render(module, [index], list(spec.stored_volatile_fields))[0]
            overrides = columns.overrides.setdefault(index, {})
            for name in spec.stored_volatile_fields:
                overrides.setdefault(name, current[name])
            overrides.update(values)
            for name, value in values.items():
                if spec.by_name[name].unique and value is not None:
                    columns.unique_overrides.setdefault(name, {})[value] = index
            moment = max(self.now_ms(), int(columns.modified_ms[index]))
            self._touch(columns, index, moment, API_USER_INDEX)
        self._notify(module, "update", [self.record_id(module, index)], sorted(values))
        return moment

    def mutate(self, module: str, creates: int = 0, edits: int = 0, deletes: int = 0) -> dict[str, Any]:
        """Background-style changes: new records, edits (new version) and deletions, all now."""
        spec = MODULES[module]
        with self.lock:
            columns = self.columns[module]
            self._mutations += 1
            rng = random.Random(f"{self.config.seed}:{module}:{self._mutations}")
            moment = self.now_ms()
            live = columns.live_indices().tolist()
            edited = rng.sample(live, min(edits, len(live)))
            remaining = sorted(set(live) - set(edited)) if deletes else []
            removed = rng.sample(remaining, min(deletes, len(remaining)))
            for index in edited:
                self._touch(
                    columns, index, max(moment, int(columns.modified_ms[index])), rng.randrange(len(OWNERS))
                )
            for index in removed:
                columns.deleted_ms[index] = max(moment, int(columns.modified_ms[index]))
                columns.modified_by[index] = rng.randrange(len(OWNERS))
            created = self._create(columns, creates, moment, rng)
            columns.generation += 1
            result = {
                "module": module,
                "created": [str(self.record_id(module, i)) for i in created],
                "edited": [str(self.record_id(module, i)) for i in edited],
                "deleted": [str(self.record_id(module, i)) for i in removed],
            }
        self._notify(module, "insert", [int(i) for i in result["created"]], [])
        self._notify(module, "update", [int(i) for i in result["edited"]], list(spec.volatile_fields))
        self._notify(module, "delete", [int(i) for i in result["deleted"]], [])
        return result

    def _create(self, columns: ModuleColumns, count: int, moment: int, rng: random.Random) -> list[int]:
        if count <= 0:
            return []
        start = columns.count
        if start + count > INDEX_MASK:
            raise ValueError("module is full")
        columns.grow_to(start + count)
        created = list(range(start, start + count))
        for index in created:
            columns.ids[index] = int(columns.ids[index - 1]) + rng.randint(1, 63)
            columns.created_ms[index] = moment
            columns.modified_ms[index] = moment
            creator = rng.randrange(len(OWNERS))
            columns.created_by[index] = creator
            columns.modified_by[index] = creator
        columns.count = start + count
        return created
