"""A private sandbox per test (the steps write to it), a client on it, and deal fixtures."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from zoho_pipelines.ai.store import LocalEnrichmentStore
from zoho_pipelines.onboarding import handlers
from zoho_pipelines.onboarding.steps import OnboardingSteps
from zoho_pipelines.sandbox.server import RunningSandbox
from zoho_pipelines.settings import load_settings
from zoho_pipelines.zoho.client import ZohoClient
from zoho_pipelines.zoho.retry import RetryPolicy

HISTORY = (datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))


@pytest.fixture
def sandbox(sandbox_factory: Callable[..., RunningSandbox]) -> RunningSandbox:
    return sandbox_factory(records_per_module=300)


@pytest.fixture
def client(sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[ZohoClient]:
    for name, value in sandbox.env().items():
        monkeypatch.setenv(name, value)
    quick = RetryPolicy(max_attempts=2, initial_backoff_s=0.01, max_backoff_s=0.02)
    with ZohoClient.from_settings(load_settings(), retry_policy=quick) as zoho:
        yield zoho


@pytest.fixture
def enrichment_store(tmp_path: Path) -> LocalEnrichmentStore:
    """The enrichments' lake: a folder of the test's own."""
    return LocalEnrichmentStore(tmp_path / "lake")


@pytest.fixture
def steps(client: ZohoClient, enrichment_store: LocalEnrichmentStore) -> Iterator[OnboardingSteps]:
    """The steps with the rules as enricher (no model configured)."""
    onboarding = OnboardingSteps(client, enrichment_store=enrichment_store)
    handlers.use_steps(onboarding)
    yield onboarding
    handlers.use_steps(None)


def deals(sandbox: RunningSandbox, *, closed_won: bool) -> list[dict[str, Any]]:
    assert sandbox.state is not None
    records = [
        sandbox.state.crm.record("Deals", i) for i in sandbox.state.crm.modified_ids("Deals", *HISTORY)
    ]
    return [
        r
        for r in records
        if (r.get("Stage") == "Closed Won") == closed_won and isinstance(r.get("Account_Name"), dict)
    ]


def closed_won_event(deal_id: Any) -> dict[str, Any]:
    return {"module": "Deals", "operation": "update", "record_ids": [str(deal_id)], "stage": "Closed Won"}


def calls(sandbox: RunningSandbox, method: str, prefix: str) -> int:
    """Answered calls (any status) whose endpoint starts with `method prefix`."""
    return sum(
        sum(statuses.values())
        for endpoint, statuses in sandbox.stats()["calls"].items()
        if endpoint.startswith(f"{method} {prefix}")
    )
