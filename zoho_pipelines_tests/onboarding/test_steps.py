"""The onboarding task handlers against the sandbox's Zoho APIs (real HTTP over loopback)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from zoho_pipelines.onboarding import handlers
from zoho_pipelines.onboarding.steps import (
    WELCOME_STEP,
    DealNotQualified,
    OnboardingSteps,
    external_key,
)
from zoho_pipelines.sandbox.server import RunningSandbox
from zoho_pipelines.settings import load_settings
from zoho_pipelines.zoho.client import ZohoClient
from zoho_pipelines.zoho.errors import ZohoAPIError
from zoho_pipelines.zoho.projects import EXTERNAL_KEY_COLUMN
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
def steps(client: ZohoClient) -> Iterator[OnboardingSteps]:
    onboarding = OnboardingSteps(client)
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


def project_posts(sandbox: RunningSandbox) -> int:
    calls = sandbox.stats()["calls"]
    return sum(
        sum(statuses.values())
        for endpoint, statuses in calls.items()
        if endpoint.startswith("POST") and "projects" in endpoint
    )


def test_qualify_reads_a_closed_won_deal(sandbox: RunningSandbox, steps: OnboardingSteps) -> None:
    deal = deals(sandbox, closed_won=True)[0]
    state = handlers.qualify_deal(closed_won_event(deal["id"]))
    assert state["deal"]["id"] == str(deal["id"])
    assert state["deal"]["account_id"] == str(deal["Account_Name"]["id"])
    assert state["deal"]["amount"] == float(deal.get("Amount") or 0)


def test_qualify_refuses_a_deal_that_is_not_closed_won(
    sandbox: RunningSandbox, steps: OnboardingSteps
) -> None:
    deal = deals(sandbox, closed_won=False)[0]
    with pytest.raises(DealNotQualified, match="not Closed Won"):
        handlers.qualify_deal(closed_won_event(deal["id"]))


def test_a_retried_project_step_finds_the_project_instead_of_creating_a_second(
    sandbox: RunningSandbox, client: ZohoClient, steps: OnboardingSteps
) -> None:
    state = handlers.qualify_deal(closed_won_event(deals(sandbox, closed_won=True)[0]["id"]))
    first = handlers.create_project(state)
    assert first["created"] is True
    posts_after_first = project_posts(sandbox)
    assert posts_after_first == 1

    again = handlers.create_project(state)  # what a Step Functions retry does
    assert again == {**first, "created": False}
    assert project_posts(sandbox) == posts_after_first  # found by its key: no second POST at all

    key = external_key(state["deal"]["id"])
    now = datetime.now(UTC)
    carrying_key = [
        p
        for batch in client.projects.iter_projects(now - timedelta(days=1), now + timedelta(minutes=5))
        for p in batch
        if any(
            f.get("column_name") == EXTERNAL_KEY_COLUMN and f.get("value") == key for f in p["custom_fields"]
        )
    ]
    assert [p["id_string"] for p in carrying_key] == [first["id"]]


def test_a_project_created_by_an_attempt_that_then_crashed_is_reused(
    sandbox: RunningSandbox, client: ZohoClient, steps: OnboardingSteps
) -> None:
    state = handlers.qualify_deal(closed_won_event(deals(sandbox, closed_won=True)[1]["id"]))
    # The first attempt's POST reached Zoho, but the Lambda died before answering.
    orphan = client.projects.create_project("Onboarding", external_key=external_key(state["deal"]["id"]))
    result = handlers.create_project(state)
    assert result == {"id": orphan["id_string"], "name": orphan["name"], "created": False}
    assert project_posts(sandbox) == 1


def test_zoho_server_errors_leave_as_the_retryable_error_name(
    sandbox: RunningSandbox, steps: OnboardingSteps
) -> None:
    state = handlers.qualify_deal(closed_won_event(deals(sandbox, closed_won=True)[0]["id"]))
    assert sandbox.state is not None
    sandbox.state.set_faults(fault_rate=1.0)
    with pytest.raises(ZohoAPIError) as raised:
        handlers.create_project(state)
    assert type(raised.value).__name__ == "ZohoAPIError"  # what the state machine's retrier matches
    sandbox.state.set_faults(fault_rate=0.0)
    assert handlers.create_project(state)["created"] is True


def test_billing_enrichment_and_welcome(sandbox: RunningSandbox, steps: OnboardingSteps) -> None:
    deal = deals(sandbox, closed_won=True)[0]
    state = handlers.qualify_deal(closed_won_event(deal["id"]))
    billing = handlers.setup_billing(state)
    assert billing["customer_id"]
    enrichment = handlers.enrich(state)
    assert 0 <= enrichment["score"] <= 10
    welcome = handlers.send_welcome(state)
    assert welcome == {"next_step": WELCOME_STEP}
    assert sandbox.state is not None
    record = sandbox.state.crm.record("Deals", deal["id"])
    assert record["Next_Step"] == WELCOME_STEP
    assert float(record["Deal_Score__c"]) == pytest.approx(enrichment["score"])
    # Repeating the writes changes nothing (they set values).
    assert handlers.send_welcome(state) == welcome
