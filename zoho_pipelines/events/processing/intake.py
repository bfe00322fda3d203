"""One sensor tick's worth of queue work, without Dagster: receive, sort out, batch, acknowledge.

The rule that keeps events from being lost or processed twice: a message is deleted only once
a run that covers its event is recorded. A tick cannot know that about the batches it is about
to request (the sensor daemon records the runs after the tick returns), so their receipts wait
in the cursor and the next tick deletes them once the runs exist. What can go wrong, and why it
is harmless:

- the process dies after receiving: nothing was requested; the messages reappear after the
  visibility timeout and are requested then;
- the daemon records the runs but dies before the next tick deletes the messages: they reappear,
  their events are found in recorded runs (the `RunLedger`), and they are deleted without a new
  run; an identical set would even get the same run key, which Dagster skips;
- a receipt waits longer than the visibility timeout: it is stale (the message is visible
  again), so it is dropped rather than used; the redelivery takes the path above.

Malformed messages go to the dead-letter store with the reason; events the target does not
handle are acknowledged and counted (`ignored`), never retried forever.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from zoho_pipelines.events.model import MalformedEventError, ZohoEvent, event_from_message
from zoho_pipelines.events.processing.batches import DEFAULT_MAX_RECORDS_PER_BATCH, EventBatch, group_events
from zoho_pipelines.events.queues import EventQueue, QueueMessage

logger = logging.getLogger(__name__)

CURSOR_VERSION = 1

EventFilter = Callable[[ZohoEvent], str | None]
"""Returns why the target does not handle an event, or None when it does."""


class RunLedger(Protocol):
    """What the orchestrator has recorded (Dagster's run storage, in production)."""

    def run_exists(self, run_key: str) -> bool:
        """A run with this run key has been recorded."""
        ...

    def requested_event_ids(self, event_ids: Collection[str]) -> set[str]:
        """The subset of `event_ids` that recorded runs already cover."""
        ...


@dataclass(frozen=True, slots=True)
class PendingAck:
    """Receipts to delete once the run with `run_key` exists."""

    run_key: str
    receipts: tuple[str, ...]
    received_at: float


@dataclass(frozen=True, slots=True)
class IntakeCursor:
    """The sensor cursor: the receipts of the last tick's requests, waiting for their runs."""

    pending: tuple[PendingAck, ...] = ()

    def to_json(self) -> str:
        return json.dumps(
            {
                "v": CURSOR_VERSION,
                "pending": [
                    {"run_key": ack.run_key, "receipts": list(ack.receipts), "received_at": ack.received_at}
                    for ack in self.pending
                ],
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str | None) -> IntakeCursor:
        """An unreadable cursor (another version, hand-edited) starts empty: its receipts would
        only save a redelivery, which the ledger de-duplicates anyway."""
        if not text:
            return cls()
        try:
            data = json.loads(text)
            if data.get("v") != CURSOR_VERSION:
                raise ValueError("cursor version")
            pending = tuple(
                PendingAck(
                    str(item["run_key"]), tuple(map(str, item["receipts"])), float(item["received_at"])
                )
                for item in data["pending"]
            )
        except (ValueError, TypeError, KeyError, AttributeError):
            logger.warning("ignoring an unreadable event intake cursor")
            return cls()
        return cls(pending)


@dataclass(frozen=True)
class IntakeTick:
    """What one tick decided: the batches to request and the cursor to keep, with counts."""

    batches: list[EventBatch]
    cursor: IntakeCursor
    received: int = 0
    acknowledged: int = 0
    duplicates: int = 0
    ignored: int = 0
    dead_lettered: int = 0
    expired_receipts: int = 0
    ignored_reasons: dict[str, int] = field(default_factory=dict)

    @property
    def events(self) -> int:
        return sum(len(batch.events) for batch in self.batches)

    def summary(self) -> str:
        return (
            f"received {self.received}, requested {len(self.batches)} runs for {self.events} events, "
            f"acknowledged {self.acknowledged}, duplicates {self.duplicates}, ignored {self.ignored}, "
            f"dead-lettered {self.dead_lettered}, stale receipts dropped {self.expired_receipts}"
        )


@dataclass
class _Received:
    event: ZohoEvent
    receipts: list[str]


class EventIntake:
    """Drains one queue target into batches, tick by tick."""

    def __init__(
        self,
        queue: EventQueue,
        ledger: RunLedger,
        *,
        target: str,
        accepts: EventFilter = lambda event: None,
        max_messages: int = 500,
        visibility_timeout_s: float = 300.0,
        max_records_per_batch: int = DEFAULT_MAX_RECORDS_PER_BATCH,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_messages < 1:
            raise ValueError("max_messages must be at least 1")
        if visibility_timeout_s <= 0:
            raise ValueError("visibility_timeout_s must be positive")
        self._queue = queue
        self._ledger = ledger
        self._target = target
        self._accepts = accepts
        self._max_messages = max_messages
        self._visibility_timeout_s = visibility_timeout_s
        self._max_records_per_batch = max_records_per_batch
        self._clock = clock

    def tick(self, cursor: IntakeCursor) -> IntakeTick:
        acknowledged, still_pending, expired = self._settle(cursor.pending)
        now = self._clock()
        messages = self._queue.receive(self._max_messages, self._visibility_timeout_s, wait=0.0)
        received, dead_lettered, ignored = self._sort_out(messages)
        known = self._ledger.requested_event_ids(list(received)) if received else set()
        acknowledged += self._delete(receipt for event_id in known for receipt in received[event_id].receipts)
        fresh = {event_id: item for event_id, item in received.items() if event_id not in known}

        batches = group_events(
            (item.event for item in fresh.values()),
            target=self._target,
            max_records_per_batch=self._max_records_per_batch,
        )
        requested: list[EventBatch] = []
        pending = list(still_pending)
        for batch in batches:
            receipts = tuple(receipt for event_id in batch.event_ids for receipt in fresh[event_id].receipts)
            if self._ledger.run_exists(batch.run_key):
                acknowledged += self._delete(receipts)
                continue
            requested.append(batch)
            pending.append(PendingAck(batch.run_key, receipts, now))
        duplicates = len(known) + sum(len(item.receipts) - 1 for item in received.values())
        acknowledged += self._delete(receipt for receipts in ignored.values() for receipt in receipts)
        return IntakeTick(
            batches=requested,
            cursor=IntakeCursor(tuple(pending)),
            received=len(messages),
            acknowledged=acknowledged,
            duplicates=duplicates,
            ignored=sum(len(receipts) for receipts in ignored.values()),
            dead_lettered=dead_lettered,
            expired_receipts=expired,
            ignored_reasons={reason: len(receipts) for reason, receipts in ignored.items()},
        )

    def _settle(self, pending: Iterable[PendingAck]) -> tuple[int, list[PendingAck], int]:
        """Delete what recorded runs cover; keep what may still be recorded; drop stale receipts."""
        acknowledged, kept, expired = 0, [], 0
        now = self._clock()
        for ack in pending:
            if now - ack.received_at >= self._visibility_timeout_s:
                expired += len(ack.receipts)
            elif self._ledger.run_exists(ack.run_key):
                acknowledged += self._delete(ack.receipts)
            else:
                kept.append(ack)
        return acknowledged, kept, expired

    def _sort_out(
        self, messages: list[QueueMessage]
    ) -> tuple[dict[str, _Received], int, dict[str, list[str]]]:
        """Events by id (duplicates share an entry), dead letters, and ignored receipts by reason."""
        received: dict[str, _Received] = {}
        ignored: dict[str, list[str]] = {}
        dead_lettered = 0
        for message in messages:
            try:
                event = event_from_message(message.body)
            except MalformedEventError as error:
                self._queue.dead_letter(message, f"malformed event: {error}")
                dead_lettered += 1
                continue
            reason = self._accepts(event)
            if reason is not None:
                ignored.setdefault(reason, []).append(message.receipt)
            elif event.event_id in received:
                received[event.event_id].receipts.append(message.receipt)
            else:
                received[event.event_id] = _Received(event, [message.receipt])
        return received, dead_lettered, ignored

    def _delete(self, receipts: Iterable[str]) -> int:
        count = 0
        for receipt in receipts:
            self._queue.delete(receipt)
            count += 1
        return count
