"""How long to wait between attempts, and the log line each retry leaves behind.

Zoho throttles per org (concurrency and credits) and its edge drops connections now and then, so
transient failures are routine. Waits are exponential with full jitter, so that many threads
failing together do not come back together; a 429 that says when to come back (`retry_after`) is
believed, within a cap, because guessing earlier only spends another throttled call.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass

from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from zoho_pipelines.zoho.errors import ZohoAPIError, ZohoRateLimitError

logger = logging.getLogger("zoho_pipelines.zoho.retry")


@dataclass(frozen=True)
class RetryPolicy:
    """Attempts and waits for transient failures (429, 5xx, timeouts, dropped connections)."""

    max_attempts: int = 6
    initial_backoff_s: float = 0.5
    max_backoff_s: float = 30.0
    max_retry_after_s: float = 60.0

    def worth_waiting(self, error: BaseException) -> bool:
        """False for a 429 that asks for a longer wait than the cap (spent daily credits, say):
        blocking a worker for hours helps nobody, the caller should reschedule instead."""
        if isinstance(error, ZohoRateLimitError) and error.retry_after is not None:
            return error.retry_after <= self.max_retry_after_s
        return True

    def wait_seconds(self, state: RetryCallState) -> float:
        """Zoho's retry_after when it gave one (lightly jittered), else jittered backoff."""
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, ZohoRateLimitError) and error.retry_after is not None:
            jitter = random.uniform(0, self.initial_backoff_s)
            return error.retry_after + jitter
        backoff = wait_random_exponential(multiplier=self.initial_backoff_s, max=self.max_backoff_s)
        return backoff(state)

    def retrying(
        self,
        should_retry: Callable[[BaseException], bool],
        on_retry: Callable[[], None] | None = None,
    ) -> Retrying:
        """A tenacity loop that re-raises the last error once attempts run out."""

        def before_sleep(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            if isinstance(error, ZohoAPIError):
                logger.warning(
                    "retrying %s %s after %s (attempt %d of %d, waiting %.2f s)",
                    error.method,
                    error.path,
                    error.status if error.status is not None else type(error).__name__,
                    state.attempt_number,
                    self.max_attempts,
                    state.upcoming_sleep,
                )
            if on_retry is not None:
                on_retry()

        return Retrying(
            stop=stop_after_attempt(self.max_attempts),
            wait=self.wait_seconds,
            retry=retry_if_exception(lambda error: should_retry(error) and self.worth_waiting(error)),
            before_sleep=before_sleep,
            reraise=True,
        )
