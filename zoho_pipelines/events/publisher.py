"""Handing normalised events to the event bus.

`EventBridgePublisher` sends PutEvents batches (at most 10 entries and 256 KB each, EventBridge's
limits) and re-sends only the entries a partial failure names, a bounded number of times with
jittered exponential backoff. If entries still fail it raises `PublishError`; the ingress then
answers 503 so that Zoho delivers again. Entries that did go through are sent again with that
redelivery, which is why consumers de-duplicate on `detail.event_id`.
Standard library and boto3 only: this module ships in the ingress Lambda.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from zoho_pipelines.events.model import DETAIL_TYPE, ZohoEvent

logger = logging.getLogger(__name__)

MAX_ENTRIES_PER_CALL = 10
MAX_CALL_BYTES = 256 * 1024
_TIME_FIELD_BYTES = 14  # what EventBridge counts for an entry's Time, whatever its value


class PublishError(Exception):
    """Events could not all be handed over; the caller should let the sender retry."""


class EventTooLarge(Exception):
    """One event alone exceeds EventBridge's entry size (answered with 413)."""


class EventPublisher(Protocol):
    """Where the ingress hands accepted events: EventBridge in AWS, the local router on a laptop."""

    def publish(self, events: Sequence[ZohoEvent]) -> None: ...


def eventbridge_entry(event: ZohoEvent, bus_name: str) -> dict[str, Any]:
    return {
        "EventBusName": bus_name,
        "Source": event.source,
        "DetailType": DETAIL_TYPE,
        "Detail": event.to_json(),
        "Time": event.occurred_at,
        "Resources": [],
    }


def entry_size(entry: dict[str, Any]) -> int:
    """An entry's size as EventBridge counts it against its 256 KB limits."""
    size = _TIME_FIELD_BYTES
    for key in ("Source", "DetailType", "Detail"):
        size += len(entry[key].encode("utf-8"))
    return size + sum(len(resource.encode("utf-8")) for resource in entry["Resources"])


def batches(entries: Sequence[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """Consecutive groups within both the count and the size limit of one PutEvents call."""
    batch: list[dict[str, Any]] = []
    batch_bytes = 0
    for entry in entries:
        size = entry_size(entry)
        if size > MAX_CALL_BYTES:
            raise EventTooLarge
        if batch and (len(batch) == MAX_ENTRIES_PER_CALL or batch_bytes + size > MAX_CALL_BYTES):
            yield batch
            batch, batch_bytes = [], 0
        batch.append(entry)
        batch_bytes += size
    if batch:
        yield batch


class EventBridgePublisher:
    """PutEvents with bounded, jittered retries of the failed entries only."""

    def __init__(
        self,
        client: Any,
        bus_name: str,
        *,
        max_attempts: int = 4,
        base_delay_s: float = 0.05,
        max_delay_s: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._bus_name = bus_name
        self._max_attempts = max_attempts
        self._base_delay_s = base_delay_s
        self._max_delay_s = max_delay_s
        self._sleep = sleep

    def publish(self, events: Sequence[ZohoEvent]) -> None:
        entries = [eventbridge_entry(event, self._bus_name) for event in events]
        for batch in list(batches(entries)):  # size every entry before sending any
            self._put(batch)

    def _put(self, batch: list[dict[str, Any]]) -> None:
        pending = batch
        for attempt in range(1, self._max_attempts + 1):
            pending, reasons = self._put_once(pending)
            if not pending:
                return
            logger.warning(
                "PutEvents: %d of %d entries not accepted (attempt %d of %d): %s",
                len(pending),
                len(batch),
                attempt,
                self._max_attempts,
                ", ".join(sorted(reasons)),
            )
            if attempt < self._max_attempts:
                ceiling = min(self._max_delay_s, self._base_delay_s * 2 ** (attempt - 1))
                self._sleep(random.uniform(0, ceiling))  # full jitter spreads concurrent retries
        raise PublishError(f"{len(pending)} of {len(batch)} events not accepted by EventBridge")

    def _put_once(self, entries: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], set[str]]:
        """(entries still to send, error codes seen)."""
        try:
            response = self._client.put_events(Entries=entries)
        except ClientError as exc:
            return entries, {exc.response.get("Error", {}).get("Code", "ClientError")}
        except BotoCoreError as exc:
            return entries, {type(exc).__name__}
        results = response.get("Entries", [])
        if len(results) != len(entries):
            return entries, {"MismatchedResponse"}
        failed = [
            (entry, result) for entry, result in zip(entries, results, strict=True) if "ErrorCode" in result
        ]
        return [entry for entry, _ in failed], {result["ErrorCode"] for _, result in failed}
