"""Grouping queued events into batches of work: one run per app, module and operation.

Zoho can send thousands of notifications a minute; a run per event would swamp Dagster and the
Zoho API alike. A batch gathers the events of one (app, module, operation) seen in one sensor
tick, so a tick yields a handful of runs, each fetching its ids 100 a call.

A batch's run key is a digest of its events (ids and times, sorted) plus its attempt, never of
the receive time or the messages: after a crash, the same messages come back, form the same batch
and get the same key, and Dagster refuses to start a second run for it. Dagster also never runs
a used key again, not even a failed run's, so a retry of failed events must carry another key:
the attempt is the highest receive count of the batch's messages, which the queue raises on every
delivery. Batches are capped by record ids, and the split is deterministic too (events sorted by
id), so a large redelivered set splits the same way.

`EventBatch.to_config()` is what the run carries: the run config is the durable record of the
work, so a failed run can be re-executed from the Dagster UI without the queue.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from zoho_pipelines.events.model import Operation, ZohoEvent, format_timestamp

DEFAULT_MAX_RECORDS_PER_BATCH = 1_000


@dataclass(frozen=True, slots=True)
class EventRef:
    """What a job needs of one event: its id (for de-duplication), its records and its time."""

    event_id: str
    record_ids: tuple[str, ...]
    occurred_at: datetime

    @classmethod
    def of(cls, event: ZohoEvent) -> EventRef:
        return cls(event.event_id, event.record_ids, event.occurred_at)

    def to_config(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "record_ids": list(self.record_ids),
            "occurred_at": format_timestamp(self.occurred_at),
        }

    @classmethod
    def from_config(cls, data: Mapping[str, Any]) -> EventRef:
        return cls(
            event_id=str(data["event_id"]),
            record_ids=tuple(str(record_id) for record_id in data["record_ids"]),
            occurred_at=datetime.fromisoformat(str(data["occurred_at"]).replace("Z", "+00:00")),
        )


@dataclass(frozen=True, slots=True)
class EventBatch:
    """Events of one app, module and operation from one queue target, sorted by event id."""

    target: str
    app: str
    module: str
    operation: Operation
    events: tuple[EventRef, ...]
    attempt: int = 1

    @property
    def event_ids(self) -> tuple[str, ...]:
        return tuple(event.event_id for event in self.events)

    @property
    def record_ids(self) -> tuple[str, ...]:
        """Every record id once, in event order."""
        return tuple(dict.fromkeys(record_id for event in self.events for record_id in event.record_ids))

    @property
    def run_key(self) -> str:
        """Unique per set of events and attempt. The time takes part because a bare webhook's
        id repeats for every change of its record; its time (the receive time) tells them apart."""
        lines = sorted(f"{event.event_id}@{format_timestamp(event.occurred_at)}" for event in self.events)
        digest = hashlib.sha256("\n".join(lines).encode("ascii")).hexdigest()[:40]
        return f"{self.target}:{self.app}:{self.module}:{self.operation.value}:{digest}:{self.attempt}"

    def latest_occurrence(self) -> dict[str, datetime]:
        """Per record id, the newest time an event of this batch reports for it (deletion times)."""
        latest: dict[str, datetime] = {}
        for event in self.events:
            for record_id in event.record_ids:
                if record_id not in latest or event.occurred_at > latest[record_id]:
                    latest[record_id] = event.occurred_at
        return latest

    def to_config(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "app": self.app,
            "module": self.module,
            "operation": self.operation.value,
            "events": [event.to_config() for event in self.events],
            "attempt": self.attempt,
        }

    @classmethod
    def from_config(cls, data: Mapping[str, Any]) -> EventBatch:
        return cls(
            target=str(data["target"]),
            app=str(data["app"]),
            module=str(data["module"]),
            operation=Operation(str(data["operation"])),
            events=tuple(EventRef.from_config(event) for event in data["events"]),
            attempt=int(data.get("attempt", 1)),
        )


def group_events(
    events: Iterable[ZohoEvent],
    *,
    target: str,
    max_records_per_batch: int = DEFAULT_MAX_RECORDS_PER_BATCH,
    attempts: Mapping[str, int] | None = None,
) -> list[EventBatch]:
    """Batches of `events` (duplicates by event id collapse to the latest), at most
    `max_records_per_batch` record ids each unless one event alone has more. A batch's attempt is
    the highest of its events' `attempts` (by event id; 1 when not given)."""
    if max_records_per_batch < 1:
        raise ValueError("max_records_per_batch must be at least 1")
    unique: dict[str, ZohoEvent] = {}
    for event in events:
        known = unique.get(event.event_id)
        if known is None or event.occurred_at > known.occurred_at:
            unique[event.event_id] = event
    groups: dict[tuple[str, str, Operation], list[ZohoEvent]] = {}
    for event in sorted(unique.values(), key=lambda event: event.event_id):
        groups.setdefault((event.app, event.module, event.operation), []).append(event)
    tries = attempts or {}
    return [
        EventBatch(
            target,
            app,
            module,
            operation,
            tuple(EventRef.of(event) for event in chunk),
            attempt=max(tries.get(event.event_id, 1) for event in chunk),
        )
        for (app, module, operation), members in sorted(groups.items())
        for chunk in _chunks_by_records(members, max_records_per_batch)
    ]


def _chunks_by_records(events: list[ZohoEvent], limit: int) -> Iterator[list[ZohoEvent]]:
    chunk: list[ZohoEvent] = []
    size = 0
    for event in events:
        if chunk and size + len(event.record_ids) > limit:
            yield chunk
            chunk, size = [], 0
        chunk.append(event)
        size += len(event.record_ids)
    if chunk:
        yield chunk
