"""Counters of everything the sandbox answered, for tests and benchmarks to assert on."""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from typing import Any


class SandboxStats:
    """Calls per endpoint and status, injected faults and notification deliveries (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self._events: Counter[str] = Counter()

    def record_call(self, endpoint: str, status: int | str) -> None:
        with self._lock:
            self._calls[endpoint][str(status)] += 1

    def count(self, event: str, amount: int = 1) -> None:
        with self._lock:
            self._events[event] += amount

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            calls = {endpoint: dict(statuses) for endpoint, statuses in self._calls.items()}
            events = dict(self._events)
        return {
            "calls": calls,
            "total_calls": sum(sum(statuses.values()) for statuses in calls.values()),
            "events": events,
        }
