"""AIEnrichment and SendWelcomeSequence against the sandbox's CRM: each writes once, with the
right workflow trigger, and a repeated step (a retry, a redrive) writes nothing at all."""

from __future__ import annotations

import pytest

from zoho_pipelines.onboarding import handlers
from zoho_pipelines.onboarding.steps import (
    NEXT_STEP_FIELD,
    SCORE_FIELD,
    WELCOME_STEP,
    OnboardingSteps,
    fit_score,
)
from zoho_pipelines.sandbox.server import RunningSandbox
from zoho_pipelines_tests.onboarding.conftest import calls, closed_won_event, deals

UPDATES = "/crm/{version}/{module}"


def deal_updates(sandbox: RunningSandbox) -> int:
    return calls(sandbox, "PUT", UPDATES)


def test_enrichment_scores_the_deal_once(sandbox: RunningSandbox, steps: OnboardingSteps) -> None:
    assert sandbox.state is not None
    deal = deals(sandbox, closed_won=True)[0]
    state = handlers.qualify_deal(closed_won_event(deal["id"]))
    account = sandbox.state.crm.record("Accounts", state["deal"]["account_id"])

    enrichment = handlers.enrich(state)
    expected = fit_score(state["deal"]["amount"], account.get("Employees"), account.get("Annual_Revenue"))
    assert enrichment == {"score": expected, "industry": account.get("Industry"), "written": True}
    assert 0 <= expected <= 10
    record = sandbox.state.crm.record("Deals", deal["id"])
    assert float(record[SCORE_FIELD]) == pytest.approx(expected)
    assert deal_updates(sandbox) == 1

    assert handlers.enrich(state) == {**enrichment, "written": False}
    assert deal_updates(sandbox) == 1
    assert sandbox.state.crm.record("Deals", deal["id"])["Modified_Time"] == record["Modified_Time"]


def test_the_welcome_workflow_is_triggered_once(sandbox: RunningSandbox, steps: OnboardingSteps) -> None:
    assert sandbox.state is not None
    deal = next(d for d in deals(sandbox, closed_won=True) if d.get(NEXT_STEP_FIELD) != WELCOME_STEP)
    state = handlers.qualify_deal(closed_won_event(deal["id"]))

    assert handlers.send_welcome(state) == {"next_step": WELCOME_STEP, "triggered": True}
    record = sandbox.state.crm.record("Deals", deal["id"])
    assert record[NEXT_STEP_FIELD] == WELCOME_STEP
    assert deal_updates(sandbox) == 1

    # A retry must not fire the workflow (and its e-mails) a second time: no update at all.
    assert handlers.send_welcome(state) == {"next_step": WELCOME_STEP, "triggered": False}
    assert deal_updates(sandbox) == 1
    assert sandbox.state.crm.record("Deals", deal["id"])["Modified_Time"] == record["Modified_Time"]
