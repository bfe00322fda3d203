"""The event queue contract, shared by the local durable queue and SQS.

Delivery is at least once: a received message stays in the queue, invisible for the visibility
timeout, until its receipt is deleted; if it is not, it comes back. A consumer can hide it longer
while its work goes on, or show it again at once when the work failed (`change_visibility`).
After `max_receive_count` receives it goes to the dead-letter store instead (so a poison message
cannot block the queue, and work that keeps failing ends where an operator looks), and a consumer
can dead-letter a message itself with a reason. Consumers de-duplicate on the event id in the
message, because "at least once" sometimes means twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

DEFAULT_MAX_RECEIVE_COUNT = 5
MAX_REASON_CHARS = 1000


@dataclass(frozen=True, slots=True)
class QueueMessage:
    message_id: str
    body: str
    receipt: str
    receive_count: int
    attributes: Mapping[str, str] = field(default_factory=dict)


@runtime_checkable
class EventQueue(Protocol):
    def send(self, body: str, attributes: Mapping[str, str] | None = None) -> str:
        """Enqueue one message; returns its id."""
        ...

    def send_batch(self, bodies: Sequence[str]) -> list[str]:
        """Enqueue several messages (fewer round trips); returns their ids in order."""
        ...

    def receive(
        self, max_messages: int = 10, visibility_timeout: float = 30.0, wait: float = 0.0
    ) -> list[QueueMessage]:
        """Up to `max_messages` visible messages, hidden for `visibility_timeout` seconds;
        waits up to `wait` seconds for the first one (long polling)."""
        ...

    def delete(self, receipt: str) -> None:
        """Acknowledge a processed message."""
        ...

    def change_visibility(self, receipts: Sequence[str], timeout: float) -> int:
        """Hide received messages for `timeout` more seconds from now (0: visible again at once);
        returns how many receipts were still current (a stale one changes nothing)."""
        ...

    def dead_letter(self, message: QueueMessage, reason: str) -> None:
        """Move a message the consumer gave up on to the dead-letter store, with the reason."""
        ...

    def depth(self) -> int:
        """Messages not yet deleted or dead-lettered (visible or in flight)."""
        ...

    def dlq_depth(self) -> int:
        """Messages in the dead-letter store."""
        ...

    def close(self) -> None: ...


def open_event_queue(
    queue_url: str | None,
    *,
    local_dir: Path,
    name: str = "refresh",
    max_receive_count: int = DEFAULT_MAX_RECEIVE_COUNT,
) -> EventQueue:
    """SQS when `queue_url` is an http(s) queue URL (EVENTS_QUEUE_URL), otherwise the local
    durable queue `<local_dir>/<name>.sqlite3` that the local ingress router fills."""
    if queue_url and queue_url.startswith(("https://", "http://")):
        from zoho_pipelines.events.sqs_queue import SqsQueue

        return SqsQueue(queue_url)
    from zoho_pipelines.events.local_queue import LocalQueue

    return LocalQueue(local_dir / f"{name}.sqlite3", max_receive_count=max_receive_count)
