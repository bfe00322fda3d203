"""The onboarding task handlers against the sandbox's Zoho APIs (real HTTP over loopback).

Project creation, qualification and the retry contract; billing, enrichment and the welcome
sequence are in test_billing.py and test_crm_steps.py.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from zoho_pipelines.clock import ManualClock
from zoho_pipelines.onboarding import handlers
from zoho_pipelines.onboarding.steps import DealNotQualified, OnboardingSteps, external_key
from zoho_pipelines.sandbox.server import RunningSandbox
from zoho_pipelines.settings import load_settings
from zoho_pipelines.zoho.client import ZohoClient
from zoho_pipelines.zoho.errors import ZohoAPIError
from zoho_pipelines.zoho.projects import EXTERNAL_KEY_COLUMN, PROJECT_STATUSES, custom_field
from zoho_pipelines_tests.onboarding.conftest import calls, closed_won_event, deals


def project_posts(sandbox: RunningSandbox) -> int:
    return calls(sandbox, "POST", "/restapi/portal/{portal_id}/projects/")


def projects_carrying(client: ZohoClient, key: str) -> list[dict]:
    """Every project of the portal whose External Key is `key`, read back page by page."""
    return [
        project
        for status in PROJECT_STATUSES
        for batch in client.projects.iter_all_projects(status)
        for project in batch
        if custom_field(project, EXTERNAL_KEY_COLUMN) == key
    ]


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

    assert [p["id_string"] for p in projects_carrying(client, external_key(state["deal"]["id"]))] == [
        first["id"]
    ]


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


def test_the_same_deal_onboarded_again_hours_later_finds_its_project(
    sandbox_factory: Callable[..., RunningSandbox],
) -> None:
    clock = ManualClock(datetime(2026, 11, 27, 12, 0, tzinfo=UTC))
    running = sandbox_factory(records_per_module=2_500, clock=clock)  # 250 projects: two pages
    with ZohoClient.from_settings(load_settings(**running.env())) as client:
        handlers.use_steps(OnboardingSteps(client))
        try:
            state = handlers.qualify_deal(closed_won_event(deals(running, closed_won=True)[0]["id"]))
            first = handlers.create_project(state)
            clock.advance(timedelta(hours=2))  # the same Closed Won deal, redriven two hours later
            later = handlers.create_project(handlers.qualify_deal(closed_won_event(state["deal"]["id"])))
            clock.advance(timedelta(days=400))  # and again, long after
            much_later = handlers.create_project(state)
        finally:
            handlers.use_steps(None)
        assert first["created"] is True
        assert later == much_later == {**first, "created": False}
        assert project_posts(running) == 1
        assert [p["id_string"] for p in projects_carrying(client, external_key(state["deal"]["id"]))] == [
            first["id"]
        ]
