"""Counters of what a transport spent: calls, retries, credits and Zoho's remaining-credit header.

Zoho meters API credits per rolling 24 hours and stops an org that overspends, so every run should
be able to say what it cost; the counters are shared by all threads of one transport. Observers of
the remaining-credit figure (`observe_credits_remaining`) hear every value Zoho reports, which is
how it becomes a CloudWatch metric (zoho.credit_metric).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any


class ApiStats:
    """Thread-safe counters for one transport (one org)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls = 0
        self._retries = 0
        self._credits = 0
        self._token_refreshes = 0
        self._by_status: Counter[int] = Counter()
        self._credits_remaining: int | None = None
        self._credits_observers: list[Callable[[int], None]] = []

    def observe_credits_remaining(self, observer: Callable[[int], None]) -> None:
        """Have `observer` called with every remaining-credits figure a response carries."""
        with self._lock:
            self._credits_observers.append(observer)

    def record_response(self, status: int, credits: int, credits_remaining: str | None) -> None:
        """Count one API response; throttled (429) and failed (5xx) calls are not charged.
        `credits_remaining` is Zoho's X-API-CREDITS-REMAINING header, present past half the budget."""
        remaining = None
        with self._lock:
            self._calls += 1
            self._by_status[status] += 1
            if status < 500 and status != 429:
                self._credits += credits
            if credits_remaining is not None and credits_remaining.strip().isdigit():
                remaining = self._credits_remaining = int(credits_remaining)
            observers = list(self._credits_observers)
        if remaining is not None:
            for observer in observers:  # outside the lock: an observer may write a log line
                observer(remaining)

    def record_no_response(self) -> None:
        """Count a call that ended without a response (timeout, dropped connection)."""
        with self._lock:
            self._calls += 1

    def record_retry(self) -> None:
        with self._lock:
            self._retries += 1

    def record_token_refresh(self) -> None:
        with self._lock:
            self._token_refreshes += 1

    @property
    def calls(self) -> int:
        with self._lock:
            return self._calls

    @property
    def credits(self) -> int:
        with self._lock:
            return self._credits

    @property
    def credits_remaining(self) -> int | None:
        """The latest remaining-credits figure Zoho reported; None until it reports one."""
        with self._lock:
            return self._credits_remaining

    def snapshot(self) -> dict[str, Any]:
        """A consistent copy, ready to log or attach as run metadata."""
        with self._lock:
            return {
                "calls": self._calls,
                "retries": self._retries,
                "credits": self._credits,
                "token_refreshes": self._token_refreshes,
                "responses_by_status": dict(sorted(self._by_status.items())),
                "credits_remaining": self._credits_remaining,
            }
