"""Zoho's limits and the sandbox's injected misbehaviour: credits, concurrency, faults."""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from dataclasses import dataclass
from enum import Enum

WINDOW_S = 86_400.0


class CreditLedger:
    """API credits spent over a rolling 24 hours. Zoho reports what is left in the
    X-API-CREDITS-REMAINING header once half the budget is spent (the guard adds it) and documents
    no other rate-limit header for v8: https://www.zoho.com/crm/developer/docs/api/v8/api-limits.html
    """

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._spent: deque[tuple[float, int]] = deque()
        self._total = 0
        self._lock = threading.Lock()

    def _expire(self, now: float) -> None:
        while self._spent and self._spent[0][0] <= now - WINDOW_S:
            self._total -= self._spent.popleft()[1]

    def try_spend(self, credits: int) -> bool:
        """Spend if the budget allows it; False (nothing spent) when it would be exceeded."""
        with self._lock:
            now = time.monotonic()
            self._expire(now)
            if self._total + credits > self.budget:
                return False
            self._spent.append((now, credits))
            self._total += credits
            return True

    def used(self) -> int:
        with self._lock:
            self._expire(time.monotonic())
            return self._total

    def remaining(self) -> int:
        return max(0, self.budget - self.used())

    def seconds_until_free(self) -> float:
        with self._lock:
            if not self._spent:
                return 0.0
            return max(0.0, self._spent[0][0] + WINDOW_S - time.monotonic())


class ConcurrencyGate:
    """Counts in-flight API calls; over the limit a call is refused, not queued (Zoho answers 429)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._in_flight = 0
        self._lock = threading.Lock()

    def try_enter(self) -> bool:
        with self._lock:
            if self._in_flight >= self.limit:
                return False
            self._in_flight += 1
            return True

    def leave(self) -> None:
        with self._lock:
            self._in_flight -= 1


class Fault(Enum):
    NONE = "none"
    SERVER_ERROR = "server_error"
    RATE_LIMITED = "rate_limited"
    DROP = "drop"


@dataclass
class FaultRates:
    fault_rate: float = 0.0
    rate_limit_rate: float = 0.0
    drop_rate: float = 0.0
    slow_rate: float = 0.0
    slow_ms: float = 2_000.0
    latency_ms: float = 0.0


class FaultInjector:
    """Seeded draws per API call: the same seed and call order give the same faults."""

    SERVER_STATUSES = (500, 502, 503)

    def __init__(self, rates: FaultRates, seed: int) -> None:
        self.rates = rates
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def draw(self) -> tuple[Fault, bool, int]:
        """(fault, slow?, status for a server error) for the next call."""
        with self._lock:
            roll, slow_roll, status = (
                self._rng.random(),
                self._rng.random(),
                self._rng.choice(self.SERVER_STATUSES),
            )
        rates = self.rates
        slow = slow_roll < rates.slow_rate
        if roll < rates.drop_rate:
            return Fault.DROP, slow, status
        if roll < rates.drop_rate + rates.fault_rate:
            return Fault.SERVER_ERROR, slow, status
        if roll < rates.drop_rate + rates.fault_rate + rates.rate_limit_rate:
            return Fault.RATE_LIMITED, slow, status
        return Fault.NONE, slow, status
