"""One injectable notion of "now" for the product, the sandbox and the tests.

Every component that asks what time it is takes a `Clock` instead of calling `datetime.now`, so
a test (or a replay) can run the sandbox and the code under test on the same, chosen time and
give the same answer on any date. Monotonic timers (timeouts, rate windows, backoff) stay on
`time.monotonic`: they measure durations, not dates.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

MS_PER_SECOND = 1_000


@runtime_checkable
class Clock(Protocol):
    """Tells the current instant as an aware UTC datetime."""

    def now(self) -> datetime: ...


@dataclass(frozen=True)
class SystemClock:
    """The machine's clock: what production runs on."""

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True)
class OffsetClock:
    """The machine's clock moved by a fixed offset.

    Time still passes (expiries, token lifetimes and page tokens behave as in production), and
    processes given the same offset agree on the time, which a clock started per process would
    not. `starting_at` pins "now" to a chosen instant, e.g. the sandbox's anchor.
    """

    offset: timedelta

    @classmethod
    def starting_at(cls, moment: datetime) -> OffsetClock:
        _require_aware(moment)
        return cls(moment - datetime.now(UTC))

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


class ManualClock:
    """A clock that moves only when told: for tests that step across an expiry or a day."""

    def __init__(self, start: datetime) -> None:
        _require_aware(start)
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._now += delta
            return self._now

    def set(self, moment: datetime) -> None:
        _require_aware(moment)
        with self._lock:
            self._now = moment.astimezone(UTC)


SYSTEM_CLOCK: Clock = SystemClock()


def epoch_ms(clock: Clock) -> int:
    """The clock's instant in milliseconds since the epoch (Zoho's server_time unit)."""
    return int(clock.now().timestamp() * MS_PER_SECOND)


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None:
        raise ValueError(f"a clock needs a timezone-aware instant, got {moment.isoformat()}")
