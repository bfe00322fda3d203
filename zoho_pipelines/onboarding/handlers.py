"""Lambda entry points of the onboarding state machine, one per task state.

Each entry point builds (once per Lambda container) a `ZohoClient` from the environment
(ZOHO_CREDENTIALS_SECRET_ID and the rest of the settings contract) and runs one step.

Errors are named for Step Functions, which matches retriers on the exception's class name and
knows nothing of inheritance: Zoho failures worth retrying (rate limits, 5xx, lost connections)
leave as exactly `ZohoAPIError`, the name the CreateZohoProject retrier lists; failures a retry
cannot fix (credentials refused, invalid data, a deal that does not qualify) keep their own names
and go straight to the state machine's failure report. A model on Bedrock that throttles leaves
as `ModelThrottled` (raised as exactly that class), which the AIEnrichment retrier lists; an
answer that breaks the enrichment's schema is `ModelOutputInvalid` and is reported, not retried.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from zoho_pipelines.ai.enrichment import enricher_from_environment
from zoho_pipelines.onboarding.steps import OnboardingSteps
from zoho_pipelines.settings import load_settings
from zoho_pipelines.zoho.client import ZohoClient
from zoho_pipelines.zoho.errors import (
    ZohoAPIError,
    ZohoConnectionError,
    ZohoRateLimitError,
    ZohoServerError,
)

logger = logging.getLogger(__name__)

RETRYABLE = (ZohoRateLimitError, ZohoServerError, ZohoConnectionError)

_steps: OnboardingSteps | None = None
_lock = threading.Lock()


def steps() -> OnboardingSteps:
    """The container's steps object (its client keeps the access token between invocations)."""
    global _steps
    with _lock:
        if _steps is None:
            _steps = OnboardingSteps(
                ZohoClient.from_settings(load_settings()), enricher=enricher_from_environment()
            )
        return _steps


def use_steps(replacement: OnboardingSteps | None) -> None:
    """Point the entry points at other steps (a sandbox client, in tests); None resets."""
    global _steps
    with _lock:
        _steps = replacement


def _task(
    run: Callable[[OnboardingSteps, Mapping[str, Any]], dict[str, Any]],
) -> Callable[..., dict[str, Any]]:
    @functools.wraps(run)
    def handler(event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
        try:
            return run(steps(), event)
        except RETRYABLE as error:
            logger.warning("%s: retryable Zoho failure: %s", run.__name__, error)
            raise ZohoAPIError(
                error.message, status=error.status, code=error.code, method=error.method, path=error.path
            ) from error

    return handler


@_task
def qualify_deal(steps: OnboardingSteps, event: Mapping[str, Any]) -> dict[str, Any]:
    return steps.qualify(event)


@_task
def create_project(steps: OnboardingSteps, state: Mapping[str, Any]) -> dict[str, Any]:
    return steps.create_project(state)


@_task
def setup_billing(steps: OnboardingSteps, state: Mapping[str, Any]) -> dict[str, Any]:
    return steps.setup_billing(state)


@_task
def enrich(steps: OnboardingSteps, state: Mapping[str, Any]) -> dict[str, Any]:
    return steps.enrich(state)


@_task
def send_welcome(steps: OnboardingSteps, state: Mapping[str, Any]) -> dict[str, Any]:
    return steps.send_welcome(state)
