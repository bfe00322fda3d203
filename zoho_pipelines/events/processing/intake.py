"""One sensor tick's worth of queue work, without Dagster: receive, sort out, batch, acknowledge.

The rule that keeps events from being lost or processed twice: a message is deleted only once a
run that covers its event has SUCCEEDED, i.e. once the change is applied. A tick cannot know that
about the batches it is about to request (the sensor daemon records the runs after the tick
returns, and a run takes time), so their receipts wait in the cursor, and every later tick looks
at the run:

- not recorded yet: wait, until the visibility timeout says the request was lost (the messages
  are visible again by then and are simply received again);
- queued or running: wait, and keep the messages hidden meanwhile (`change_visibility`), so a
  slow or queued run does not make them reappear;
- succeeded: delete the messages;
- failed or canceled: show the messages again at once (after `retry_delay_s`). The next receive
  raises their receive count, which becomes the retry's attempt and so its run key (Dagster never
  reruns a used key, a failed run's included), and after the queue's max receive count the
  messages go to the dead-letter store instead: locally by the local queue, on SQS by the redrive
  policy. A change that cannot be applied ends where an operator looks; it is never dropped.

A message that arrives again (a redelivery, a sensor that died before deleting) is compared with
the runs already recorded (the `RunLedger`): its event is acknowledged if a run that covers it
succeeded, waits for a run that covers it and has not finished, and is run again otherwise.

A bare webhook's event id names no particular change (`ZohoEvent.identifies_change`): every
change of the record gets the same id. Such a repeat is a new change, not a duplicate, unless
it is the very delivery a run already covers (same receive time). It is merged into a run that
has not started yet (that run reads Zoho later than the change, so it sees it), and otherwise
refreshed again: a refresh is idempotent, so a repeat costs one call and never loses a change.

Malformed messages go to the dead-letter store with the reason; events the target does not
handle are acknowledged and counted (`ignored`), never retried forever.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from zoho_pipelines.clock import SYSTEM_CLOCK, Clock
from zoho_pipelines.events.model import MalformedEventError, ZohoEvent, event_from_message
from zoho_pipelines.events.processing.batches import DEFAULT_MAX_RECORDS_PER_BATCH, EventBatch, group_events
from zoho_pipelines.events.queues import EventQueue, QueueMessage

logger = logging.getLogger(__name__)

CURSOR_VERSION = 2

EventFilter = Callable[[ZohoEvent], str | None]
"""Returns why the target does not handle an event, or None when it does."""


class RunState(StrEnum):
    """Where a recorded run stands, as far as its events' messages are concerned."""

    WAITING = "waiting"
    """Recorded, not started: its read of Zoho is still ahead."""
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    """Failed or canceled: its changes are not applied."""

    @property
    def finished(self) -> bool:
        return self in (RunState.SUCCEEDED, RunState.FAILED)


@dataclass(frozen=True, slots=True)
class CoveringRun:
    """A recorded run whose batch holds an event, and the time it holds that event with."""

    run_key: str
    state: RunState
    occurred_at: datetime


class RunLedger(Protocol):
    """What the orchestrator has recorded (Dagster's run storage, in production)."""

    def run_state(self, run_key: str) -> RunState | None:
        """The state of the run with this run key; None when no such run is recorded."""
        ...

    def covering_runs(self, event_ids: Collection[str]) -> Mapping[str, Sequence[CoveringRun]]:
        """For each of `event_ids` that recorded runs cover, those runs."""
        ...


@dataclass(frozen=True, slots=True)
class PendingAck:
    """Receipts that wait for the outcome of the run with `run_key`.

    `requested_at` is when the tick asked for the run (a run still unrecorded a visibility
    timeout later was never made); `hidden_until` is when the messages would show again.
    """

    run_key: str
    receipts: tuple[str, ...]
    requested_at: float
    hidden_until: float

    def with_receipts(self, receipts: Iterable[str], hidden_until: float) -> PendingAck:
        merged = tuple(dict.fromkeys((*self.receipts, *receipts)))
        return PendingAck(self.run_key, merged, self.requested_at, min(self.hidden_until, hidden_until))


@dataclass(frozen=True, slots=True)
class IntakeCursor:
    """The sensor cursor: receipts waiting for their runs' outcomes."""

    pending: tuple[PendingAck, ...] = ()

    def to_json(self) -> str:
        return json.dumps(
            {
                "v": CURSOR_VERSION,
                "pending": [
                    {
                        "run_key": ack.run_key,
                        "receipts": list(ack.receipts),
                        "requested_at": ack.requested_at,
                        "hidden_until": ack.hidden_until,
                    }
                    for ack in self.pending
                ],
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str | None) -> IntakeCursor:
        """An unreadable cursor (another version, hand-edited) starts empty: its messages show
        again after their visibility timeout and are matched with their runs then."""
        if not text:
            return cls()
        try:
            data = json.loads(text)
            if data.get("v") != CURSOR_VERSION:
                raise ValueError("cursor version")
            pending = tuple(
                PendingAck(
                    str(item["run_key"]),
                    tuple(map(str, item["receipts"])),
                    float(item["requested_at"]),
                    float(item["hidden_until"]),
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
    released: int = 0
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
            f"acknowledged {self.acknowledged}, duplicates {self.duplicates}, "
            f"shown again after failed runs {self.released}, ignored {self.ignored}, "
            f"dead-lettered {self.dead_lettered}, stale receipts dropped {self.expired_receipts}"
        )


@dataclass
class _Received:
    event: ZohoEvent
    receipts: list[str]
    attempt: int


class _Outcome:
    """The tick's bookkeeping: receipts to wait on (by run key) and counts."""

    def __init__(self, pending: Iterable[PendingAck]) -> None:
        self.pending: dict[str, PendingAck] = {ack.run_key: ack for ack in pending}
        self.acknowledged = self.released = self.expired = 0

    def wait(self, run_key: str, receipts: Sequence[str], requested_at: float, hidden_until: float) -> None:
        known = self.pending.get(run_key)
        if known is None:
            self.pending[run_key] = PendingAck(run_key, tuple(receipts), requested_at, hidden_until)
        else:
            self.pending[run_key] = known.with_receipts(receipts, hidden_until)


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
        retry_delay_s: float = 0.0,
        max_records_per_batch: int = DEFAULT_MAX_RECORDS_PER_BATCH,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        if max_messages < 1:
            raise ValueError("max_messages must be at least 1")
        if visibility_timeout_s <= 0:
            raise ValueError("visibility_timeout_s must be positive")
        if retry_delay_s < 0:
            raise ValueError("retry_delay_s must not be negative")
        self._queue = queue
        self._ledger = ledger
        self._target = target
        self._accepts = accepts
        self._max_messages = max_messages
        self._visibility_timeout_s = visibility_timeout_s
        self._retry_delay_s = retry_delay_s
        self._max_records_per_batch = max_records_per_batch
        self._clock = clock

    def tick(self, cursor: IntakeCursor) -> IntakeTick:
        outcome = _Outcome(())
        self._settle(cursor.pending, outcome)
        now = self._now()
        messages = self._queue.receive(self._max_messages, self._visibility_timeout_s, wait=0.0)
        hidden_until = now + self._visibility_timeout_s
        received, dead_lettered, ignored = self._sort_out(messages)
        fresh, duplicates = self._match_recorded_runs(received, outcome, now, hidden_until)

        batches = group_events(
            (item.event for item in fresh.values()),
            target=self._target,
            max_records_per_batch=self._max_records_per_batch,
            attempts={event_id: item.attempt for event_id, item in fresh.items()},
        )
        requested: list[EventBatch] = []
        for batch in batches:
            receipts = [receipt for event_id in batch.event_ids for receipt in fresh[event_id].receipts]
            state = self._ledger.run_state(batch.run_key)
            if state is None:
                requested.append(batch)
                outcome.wait(batch.run_key, receipts, now, hidden_until)
            else:  # this very run was recorded before (the tick that asked for it was lost)
                self._follow(state, batch.run_key, receipts, outcome, now, hidden_until)
        outcome.acknowledged += self._delete(receipt for receipts in ignored.values() for receipt in receipts)
        return IntakeTick(
            batches=requested,
            cursor=IntakeCursor(tuple(outcome.pending.values())),
            received=len(messages),
            acknowledged=outcome.acknowledged,
            duplicates=duplicates + sum(len(item.receipts) - 1 for item in received.values()),
            released=outcome.released,
            ignored=sum(len(receipts) for receipts in ignored.values()),
            dead_lettered=dead_lettered,
            expired_receipts=outcome.expired,
            ignored_reasons={reason: len(receipts) for reason, receipts in ignored.items()},
        )

    def _now(self) -> float:
        return self._clock.now().timestamp()

    def _settle(self, pending: Iterable[PendingAck], outcome: _Outcome) -> None:
        """Act on every waiting receipt whose run has moved on since the last tick."""
        now = self._now()
        for ack in pending:
            state = self._ledger.run_state(ack.run_key)
            if state is None:
                if now - ack.requested_at >= self._visibility_timeout_s:
                    outcome.expired += len(ack.receipts)  # never recorded: the messages are back
                else:
                    outcome.pending[ack.run_key] = ack
                continue
            self._follow(state, ack.run_key, ack.receipts, outcome, now, ack.hidden_until, ack.requested_at)

    def _follow(
        self,
        state: RunState,
        run_key: str,
        receipts: Sequence[str],
        outcome: _Outcome,
        now: float,
        hidden_until: float,
        requested_at: float | None = None,
    ) -> None:
        """Delete after success, show again after failure, else keep hidden and wait."""
        if state is RunState.SUCCEEDED:
            outcome.acknowledged += self._delete(receipts)
        elif state is RunState.FAILED:
            self._queue.change_visibility(list(receipts), self._retry_delay_s)
            outcome.released += len(receipts)
        else:
            if hidden_until - now < self._visibility_timeout_s / 2:
                self._queue.change_visibility(list(receipts), self._visibility_timeout_s)
                hidden_until = now + self._visibility_timeout_s
            outcome.wait(run_key, receipts, now if requested_at is None else requested_at, hidden_until)

    def _match_recorded_runs(
        self, received: dict[str, _Received], outcome: _Outcome, now: float, hidden_until: float
    ) -> tuple[dict[str, _Received], int]:
        """Settle the events recorded runs already cover; the rest (fresh) need a run."""
        covering = self._ledger.covering_runs(list(received)) if received else {}
        fresh: dict[str, _Received] = {}
        duplicates = 0
        for event_id, item in received.items():
            run = _run_to_follow(item.event, covering.get(event_id, ()))
            if run is None:
                fresh[event_id] = item
                continue
            duplicates += 1
            self._follow(run.state, run.run_key, item.receipts, outcome, now, hidden_until)
        return fresh, duplicates

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
                continue
            known = received.get(event.event_id)
            if known is None:
                received[event.event_id] = _Received(event, [message.receipt], message.receive_count)
                continue
            known.receipts.append(message.receipt)
            known.attempt = max(known.attempt, message.receive_count)
            if event.occurred_at > known.event.occurred_at:
                known.event = event  # a bare webhook's later change: the later receive time
        return received, dead_lettered, ignored

    def _delete(self, receipts: Iterable[str]) -> int:
        count = 0
        for receipt in receipts:
            self._queue.delete(receipt)
            count += 1
        return count


_PREFERENCE = {RunState.SUCCEEDED: 0, RunState.RUNNING: 1, RunState.WAITING: 2, RunState.FAILED: 3}


def _run_to_follow(event: ZohoEvent, runs: Sequence[CoveringRun]) -> CoveringRun | None:
    """The recorded run whose outcome settles `event`'s messages, or None when it needs a run.

    A run covers the event's change if it holds the same event (for a bare webhook: the same
    delivery, i.e. the same receive time). A succeeded run settles it; an unfinished one will; a
    failed one does not. A bare webhook's other delivery is a change of its own: only a run
    that has not started yet (so reads Zoho after it) can take it over.
    """
    same = [run for run in runs if event.identifies_change or run.occurred_at == event.occurred_at]
    candidates = [run for run in same if run.state is not RunState.FAILED]
    if not event.identifies_change:
        candidates += [run for run in runs if run.state is RunState.WAITING and run not in same]
    return min(candidates, key=lambda run: _PREFERENCE[run.state], default=None)
