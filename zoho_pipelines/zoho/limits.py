"""One concurrency limiter per Zoho org, shared by everything in the process.

Zoho counts concurrent calls per org and app (5 to 25 by edition) and answers 429 beyond that. A
process may hold several transports for one org (an asset, a sensor, the Books client), so the
limiter is looked up by org key (API domain + client id), not owned by a transport; the first
caller's limit wins for the life of the process.
"""

from __future__ import annotations

import threading
from types import TracebackType


class ConcurrencyLimiter:
    """A bounded semaphore that remembers its limit and how many calls are in flight."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("concurrency limit must be at least 1")
        self.limit = limit
        self._semaphore = threading.BoundedSemaphore(limit)
        self._lock = threading.Lock()
        self._in_flight = 0
        self.peak_in_flight = 0

    def acquire(self) -> None:
        self._semaphore.acquire()
        with self._lock:
            self._in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight)

    def release(self) -> None:
        with self._lock:
            self._in_flight -= 1
        self._semaphore.release()

    def __enter__(self) -> ConcurrencyLimiter:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()


_registry_lock = threading.Lock()
_registry: dict[tuple[str, str], ConcurrencyLimiter] = {}


def org_limiter(api_domain: str, client_id: str, limit: int) -> ConcurrencyLimiter:
    """The process-wide limiter of the org behind (`api_domain`, `client_id`)."""
    key = (api_domain.rstrip("/").lower(), client_id)
    with _registry_lock:
        limiter = _registry.get(key)
        if limiter is None:
            limiter = _registry[key] = ConcurrencyLimiter(limit)
        return limiter
