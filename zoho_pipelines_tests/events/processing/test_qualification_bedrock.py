"""Lead qualification with Claude (Bedrock's Converse stubbed at the edge, `ai.bedrock_stub`)
against the sandbox: scores written back and labelled, only scoring facts sent, a throttled
model stops the job before any write (the event path retries the run)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from zoho_pipelines.ai.errors import ModelThrottled
from zoho_pipelines.events.processing.bedrock import MAX_TOKENS, PROMPT_VERSION, TOOL_NAME, BedrockLeadScorer
from zoho_pipelines.events.processing.qualification import qualify_leads
from zoho_pipelines.sandbox.server import RunningSandbox
from zoho_pipelines.zoho.client import ZohoClient
from zoho_pipelines_tests.ai.bedrock_stub import MODEL_ID, StubbedBedrock, stubbed_bedrock, tool_use_response
from zoho_pipelines_tests.events.processing.test_qualification import (
    REASON,
    SCORE,
    lead_ids,
    truth,
    update_calls,
)


@pytest.fixture
def bedrock() -> Iterator[StubbedBedrock]:
    with stubbed_bedrock() as stub:
        yield stub


def test_claude_scores_are_written_back_and_say_what_made_them(
    small_sandbox: RunningSandbox, zoho: ZohoClient, bedrock: StubbedBedrock
) -> None:
    ids = lead_ids(small_sandbox, 3)
    for score in (91, 42, 7):
        bedrock.answer(
            tool_use_response(TOOL_NAME, {"score": score, "reason": f" Scored {score}. "}, input_tokens=300)
        )

    result = qualify_leads(
        zoho.crm,
        BedrockLeadScorer(MODEL_ID, client=bedrock.client),
        ids,
        score_field=SCORE,
        reason_field=REASON,
    )

    assert result.ok
    assert result.scored_by == {f"claude {MODEL_ID} {PROMPT_VERSION}": 3}
    assert (result.input_tokens, result.output_tokens) == (900, 3 * 187)
    assert [truth(small_sandbox, lead_id)[SCORE] for lead_id in ids] == [91, 42, 7]
    assert truth(small_sandbox, ids[0])[REASON] == "Scored 91."
    for request, lead_id in zip(bedrock.requests, ids, strict=True):
        lead = truth(small_sandbox, lead_id)
        assert request["inferenceConfig"]["maxTokens"] == MAX_TOKENS
        assert request["toolConfig"]["toolChoice"] == {"tool": {"name": TOOL_NAME}}
        sent = json.dumps(request)
        for contact in (lead.get("Email"), lead.get("Phone"), lead.get("Mobile"), lead.get("Last_Name")):
            if contact:
                assert contact not in sent


def test_a_throttled_model_stops_the_job_before_any_write(
    small_sandbox: RunningSandbox, zoho: ZohoClient, bedrock: StubbedBedrock
) -> None:
    ids = lead_ids(small_sandbox, 2)
    bedrock.answer(tool_use_response(TOOL_NAME, {"score": 50, "reason": "Fine."}))
    bedrock.refuse("ThrottlingException", 429)

    with pytest.raises(ModelThrottled):
        qualify_leads(
            zoho.crm,
            BedrockLeadScorer(MODEL_ID, client=bedrock.client),
            ids,
            score_field=SCORE,
            reason_field=REASON,
        )
    assert update_calls(small_sandbox) == 0
