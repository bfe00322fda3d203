"""AIEnrichment (by the rules: no model configured) and SendWelcomeSequence against the sandbox's
CRM: each writes once, with the right workflow trigger, and a repeated step (a retry, a redrive)
writes nothing at all. The enrichment by Claude is in test_enrichment.py."""

from __future__ import annotations

import pytest

from zoho_pipelines.ai.enrichment import RULES_VERSION, size_band_of
from zoho_pipelines.ai.store import LocalEnrichmentStore
from zoho_pipelines.onboarding import handlers
from zoho_pipelines.onboarding.enrichment import PROFILE_FIELDS, SCORE_FIELD, fit_score, note_title
from zoho_pipelines.onboarding.steps import NEXT_STEP_FIELD, WELCOME_STEP, OnboardingSteps
from zoho_pipelines.sandbox.server import RunningSandbox
from zoho_pipelines_tests.onboarding.conftest import calls, closed_won_event, deals

UPDATES = "/crm/{version}/{module}"


def deal_updates(sandbox: RunningSandbox) -> int:
    return calls(sandbox, "PUT", UPDATES)


def test_enrichment_by_the_rules_writes_the_deal_once(
    sandbox: RunningSandbox, steps: OnboardingSteps, enrichment_store: LocalEnrichmentStore
) -> None:
    assert sandbox.state is not None
    deal = deals(sandbox, closed_won=True)[0]
    state = handlers.qualify_deal(closed_won_event(deal["id"]))
    account = sandbox.state.crm.record("Accounts", state["deal"]["account_id"])

    enrichment = handlers.enrich(state)
    expected = fit_score(state["deal"]["amount"], account.get("Employees"), account.get("Annual_Revenue"))
    assert (enrichment["source"], enrichment["model_id"], enrichment["prompt_version"]) == (
        "rules",
        None,
        RULES_VERSION,
    )
    assert enrichment["score"] == expected
    assert enrichment["industry"] == (account.get("Industry") or "Unknown")
    assert enrichment["size_band"] == size_band_of(account.get("Employees"))
    assert (enrichment["written"], enrichment["note_created"], enrichment["reused"]) == (True, True, False)
    assert (enrichment["input_tokens"], enrichment["output_tokens"]) == (0, 0)
    record = sandbox.state.crm.record("Deals", deal["id"])
    assert float(record[SCORE_FIELD]) == pytest.approx(expected)
    assert {field: record[field] for field in PROFILE_FIELDS.values()} == {
        field: enrichment[attribute] for attribute, field in PROFILE_FIELDS.items()
    }
    (note,) = sandbox.state.notes.of_record("Deals", str(deal["id"]))
    assert note["Note_Title"] == note_title(enrichment["input_digest"])
    assert "Produced by rules" in note["Note_Content"]
    assert deal_updates(sandbox) == 1
    assert len(list(enrichment_store.records())) == 1

    again = handlers.enrich(state)
    assert again == {**enrichment, "written": False, "note_created": False, "reused": True}
    assert deal_updates(sandbox) == 1
    assert len(sandbox.state.notes.of_record("Deals", str(deal["id"]))) == 1
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
