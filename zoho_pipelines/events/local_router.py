"""EventBridge's part, played locally: the routes in `routing.py`, delivering to local queues.

Each matching route's target gets the same envelope EventBridge would deliver to an SQS target,
in the durable local queue `<queue_dir>/<target>.sqlite3`. A state-machine target (onboarding)
becomes a queue too: locally, whatever runs the onboarding flow drains it.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

from zoho_pipelines.events.local_queue import LocalQueue
from zoho_pipelines.events.model import ZohoEvent
from zoho_pipelines.events.publisher import PublishError
from zoho_pipelines.events.queues import DEFAULT_MAX_RECEIVE_COUNT
from zoho_pipelines.events.routing import ROUTES, Route, Target, envelope, routes_for

logger = logging.getLogger(__name__)


class LocalRouter:
    """An `EventPublisher` that routes to local durable queues."""

    def __init__(
        self,
        queue_dir: Path,
        routes: Sequence[Route] = ROUTES,
        *,
        max_receive_count: int = DEFAULT_MAX_RECEIVE_COUNT,
        synchronous: str = "FULL",
    ) -> None:
        self.queue_dir = Path(queue_dir)
        self._routes = tuple(routes)
        self._max_receive_count = max_receive_count
        self._synchronous = synchronous
        self._queues: dict[Target, LocalQueue] = {}
        self._lock = threading.Lock()

    def publish(self, events: Sequence[ZohoEvent]) -> None:
        """Raises PublishError if a queue cannot be written (the ingress answers 503)."""
        try:
            for event in events:
                message = envelope(event)
                matched = routes_for(message, self._routes)
                if not matched:
                    logger.info("event %s matched no route", event.event_id)
                body = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
                for route in matched:
                    self.queue(route.target).send(body, {"route": route.name})
        except (sqlite3.Error, OSError) as exc:
            raise PublishError(f"local queue write failed: {type(exc).__name__}") from exc

    def queue(self, target: Target) -> LocalQueue:
        """The local queue of a target (opened once, shared by all threads)."""
        with self._lock:
            if target not in self._queues:
                self._queues[target] = LocalQueue(
                    self.queue_dir / f"{target.value}.sqlite3",
                    max_receive_count=self._max_receive_count,
                    synchronous=self._synchronous,
                )
            return self._queues[target]

    def close(self) -> None:
        with self._lock:
            for queue in self._queues.values():
                queue.close()
            self._queues.clear()
