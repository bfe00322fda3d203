"""AIEnrichment by Claude (Bedrock's Converse stubbed at the edge, `ai.bedrock_stub`) against the
sandbox's CRM: the deal's fields and one Note in Zoho, one object in the lake, once, also when
the step runs again; only allow-listed facts leave; a broken answer or a throttled call writes
nothing, and each leaves under the name the state machine handles it by."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest

from zoho_pipelines.ai.enrichment import (
    ACCOUNT_FACTS,
    DEAL_FACTS,
    ENRICHMENT_TOOL,
    MAX_TOKENS,
    PROMPT_VERSION,
    ClaudeEnricher,
)
from zoho_pipelines.ai.errors import ModelOutputInvalid, ModelThrottled
from zoho_pipelines.ai.store import LocalEnrichmentStore
from zoho_pipelines.clock import ManualClock
from zoho_pipelines.onboarding import handlers
from zoho_pipelines.onboarding.enrichment import PROFILE_FIELDS, note_title
from zoho_pipelines.onboarding.steps import OnboardingSteps
from zoho_pipelines.sandbox.server import RunningSandbox
from zoho_pipelines.zoho.client import ZohoClient
from zoho_pipelines_tests.ai.bedrock_stub import (
    MODEL_ID,
    StubbedBedrock,
    stubbed_bedrock,
    text_response,
    tool_use_response,
)
from zoho_pipelines_tests.onboarding.conftest import calls, closed_won_event, deals

ANSWER = {
    "industry": "Storage services",
    "size_band": "201-1000",
    "region": "EMEA",
    "onboarding_brief": "A mid-sized storage provider buying its first licences. Start with the data team.",
    "risks": ["Two competitors were in the deal."],
    "next_steps": ["Schedule the kickoff call", "Agree the migration plan"],
}
ENRICHED_AT = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


@pytest.fixture
def bedrock() -> Iterator[StubbedBedrock]:
    with stubbed_bedrock() as stub:
        yield stub


@pytest.fixture
def claude_steps(
    client: ZohoClient, enrichment_store: LocalEnrichmentStore, bedrock: StubbedBedrock
) -> Iterator[OnboardingSteps]:
    clock = ManualClock(ENRICHED_AT)
    onboarding = OnboardingSteps(
        client,
        enricher=ClaudeEnricher(MODEL_ID, bedrock.client),
        enrichment_store=enrichment_store,
        clock=clock,
    )
    handlers.use_steps(onboarding)
    yield onboarding
    handlers.use_steps(None)


def won_state(sandbox: RunningSandbox) -> dict[str, Any]:
    """A Closed Won deal with an amount, qualified."""
    deal = next(deal for deal in deals(sandbox, closed_won=True) if deal.get("Amount"))
    return handlers.qualify_deal(closed_won_event(deal["id"]))


def crm_writes(sandbox: RunningSandbox) -> tuple[int, int]:
    """(record updates, notes added) the sandbox answered."""
    return calls(sandbox, "PUT", "/crm/{version}/{module}"), calls(sandbox, "POST", "/crm/{version}/Notes")


def test_claude_enrichment_lands_in_zoho_and_the_lake_once(
    sandbox: RunningSandbox,
    claude_steps: OnboardingSteps,
    bedrock: StubbedBedrock,
    enrichment_store: LocalEnrichmentStore,
) -> None:
    assert sandbox.state is not None
    state = won_state(sandbox)
    deal_id = state["deal"]["id"]
    bedrock.answer(
        tool_use_response(ENRICHMENT_TOOL.name, ANSWER, input_tokens=700, output_tokens=210, latency_ms=1500)
    )

    result = handlers.enrich(state)

    assert (result["source"], result["model_id"], result["prompt_version"]) == (
        "claude",
        MODEL_ID,
        PROMPT_VERSION,
    )
    assert (result["industry"], result["size_band"], result["region"]) == (
        "Storage services",
        "201-1000",
        "EMEA",
    )
    assert (result["input_tokens"], result["output_tokens"]) == (700, 210)
    record = sandbox.state.crm.record("Deals", deal_id)
    assert {field: record[field] for field in PROFILE_FIELDS.values()} == {
        "AI_Industry__c": "Storage services",
        "AI_Size_Band__c": "201-1000",
        "AI_Region__c": "EMEA",
    }
    (note,) = sandbox.state.notes.of_record("Deals", deal_id)
    assert note["Note_Title"] == note_title(result["input_digest"])
    assert note["Note_Content"].startswith(ANSWER["onboarding_brief"])
    assert "- Two competitors were in the deal." in note["Note_Content"]
    assert f"Produced by Claude ({MODEL_ID}), {PROMPT_VERSION}." in note["Note_Content"]
    (stored,) = enrichment_store.records()
    assert stored["output"] == ANSWER
    assert (stored["input_tokens"], stored["output_tokens"], stored["latency_ms"]) == (700, 210, 1500)
    assert stored["enriched_at"] == ENRICHED_AT.isoformat()
    assert crm_writes(sandbox) == (1, 1)

    # The step again (a retry after a lost answer, a redrive): the stored answer is reused, so the
    # model is not asked again (the stub has no answer queued and would fail) and Zoho is unchanged.
    again = handlers.enrich(state)
    assert again == {**result, "written": False, "note_created": False, "reused": True}
    assert crm_writes(sandbox) == (1, 1)
    assert len(bedrock.requests) == 1


def test_only_allow_listed_facts_reach_the_model(
    sandbox: RunningSandbox, claude_steps: OnboardingSteps, bedrock: StubbedBedrock
) -> None:
    assert sandbox.state is not None
    state = won_state(sandbox)
    deal = sandbox.state.crm.record("Deals", state["deal"]["id"])
    account = sandbox.state.crm.record("Accounts", state["deal"]["account_id"])
    bedrock.answer(tool_use_response(ENRICHMENT_TOOL.name, ANSWER))

    handlers.enrich(state)

    ((request),) = bedrock.requests
    assert request["modelId"] == MODEL_ID
    assert request["inferenceConfig"]["maxTokens"] == MAX_TOKENS
    assert request["toolConfig"]["toolChoice"] == {"tool": {"name": ENRICHMENT_TOOL.name}}
    facts = json.loads(request["messages"][0]["content"][0]["text"].split("\n", 1)[1])
    assert set(facts["deal"]) <= set(DEAL_FACTS)
    assert set(facts["account"]) <= set(ACCOUNT_FACTS)
    assert facts["deal"]["Amount"] == deal["Amount"]
    sent = json.dumps(request)
    for private in (
        deal["Deal_Name"],
        deal.get("Description"),
        account["Account_Name"],
        account.get("Phone"),
        account.get("Website"),
        account.get("Billing_Street"),
        account.get("Description"),
        deal["Owner"]["name"],
    ):
        if private:
            assert private not in sent


def test_an_answer_that_breaks_the_schema_writes_nothing(
    sandbox: RunningSandbox,
    claude_steps: OnboardingSteps,
    bedrock: StubbedBedrock,
    enrichment_store: LocalEnrichmentStore,
) -> None:
    assert sandbox.state is not None
    state = won_state(sandbox)
    bedrock.answer(tool_use_response(ENRICHMENT_TOOL.name, {**ANSWER, "size_band": "huge", "next_steps": []}))
    with pytest.raises(ModelOutputInvalid, match=r"size_band: .*next_steps: "):
        handlers.enrich(state)

    bedrock.answer(text_response("This account looks promising."))
    with pytest.raises(ModelOutputInvalid, match="did not call record_deal_enrichment"):
        handlers.enrich(state)

    assert crm_writes(sandbox) == (0, 0)
    assert sandbox.state.notes.of_record("Deals", state["deal"]["id"]) == []
    assert list(enrichment_store.records()) == []


def test_throttling_leaves_as_the_retryable_name_and_the_retry_completes(
    sandbox: RunningSandbox,
    claude_steps: OnboardingSteps,
    bedrock: StubbedBedrock,
    enrichment_store: LocalEnrichmentStore,
) -> None:
    state = won_state(sandbox)
    bedrock.refuse("ThrottlingException", 429)
    with pytest.raises(ModelThrottled) as raised:
        handlers.enrich(state)
    assert type(raised.value).__name__ == "ModelThrottled"  # what the AIEnrichment retrier lists
    assert crm_writes(sandbox) == (0, 0)
    assert list(enrichment_store.records()) == []

    bedrock.answer(tool_use_response(ENRICHMENT_TOOL.name, ANSWER))
    assert handlers.enrich(state)["note_created"] is True
    assert crm_writes(sandbox) == (1, 1)


def test_notes_left_twice_by_overlapping_runs_collapse_to_the_oldest(
    sandbox: RunningSandbox, steps: OnboardingSteps
) -> None:
    assert sandbox.state is not None
    state = won_state(sandbox)
    deal_id = state["deal"]["id"]
    first = handlers.enrich(state)
    # What a second run that looked before the first one's note existed would have added.
    sandbox.state.notes.add(
        "Deals", deal_id, note_title(first["input_digest"]), "a twin", "2026-12-01T09:30:00+00:00"
    )

    again = handlers.enrich(state)

    assert again["note_id"] == first["note_id"]
    assert [note["id"] for note in sandbox.state.notes.of_record("Deals", deal_id)] == [first["note_id"]]


def test_overlapping_enrichments_of_one_deal_leave_one_note_and_one_object(
    sandbox: RunningSandbox, steps: OnboardingSteps, enrichment_store: LocalEnrichmentStore
) -> None:
    assert sandbox.state is not None
    state = won_state(sandbox)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: handlers.enrich(state), range(4)))

    notes = sandbox.state.notes.of_record("Deals", state["deal"]["id"])
    assert [note["id"] for note in notes] == [results[0]["note_id"]]
    assert {result["note_id"] for result in results} == {notes[0]["id"]}
    assert len(list(enrichment_store.records())) == 1


def test_without_a_model_the_rules_give_the_same_shape_labelled_rules(
    sandbox: RunningSandbox,
    client: ZohoClient,
    claude_steps: OnboardingSteps,
    bedrock: StubbedBedrock,
    enrichment_store: LocalEnrichmentStore,
) -> None:
    won = [deal for deal in deals(sandbox, closed_won=True) if deal.get("Amount")]
    bedrock.answer(tool_use_response(ENRICHMENT_TOOL.name, ANSWER))
    by_claude = handlers.enrich(handlers.qualify_deal(closed_won_event(won[0]["id"])))
    handlers.use_steps(OnboardingSteps(client, enrichment_store=enrichment_store))  # no model configured
    by_rules = handlers.enrich(handlers.qualify_deal(closed_won_event(won[1]["id"])))

    assert set(by_rules) == set(by_claude)
    assert (by_rules["source"], by_rules["model_id"]) == ("rules", None)
    records = {record["source"]: record for record in enrichment_store.records()}
    assert set(records) == {"claude", "rules"}
    assert set(records["rules"]) == set(records["claude"])
    assert set(records["rules"]["output"]) == set(records["claude"]["output"])
