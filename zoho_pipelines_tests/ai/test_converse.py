"""The structured Converse call at Bedrock's edge (Stubber): the request it sends, the cost it
reads, and how each way of failing is named."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from zoho_pipelines.ai.converse import converse
from zoho_pipelines.ai.enrichment import ENRICHMENT_TOOL, MAX_TOKENS, DealEnrichment
from zoho_pipelines.ai.errors import ModelOutputInvalid, ModelThrottled, ModelUnavailable
from zoho_pipelines_tests.ai.bedrock_stub import MODEL_ID, StubbedBedrock, stubbed_bedrock, tool_use_response

FACTS = {"deal": {"Amount": 50_000.0}, "account": {"Industry": "Storage"}}
ANSWER = {
    "industry": "Storage",
    "size_band": "Unknown",
    "region": "Unknown",
    "onboarding_brief": "A storage account.",
    "risks": [],
    "next_steps": ["Schedule the kickoff call"],
}


@pytest.fixture
def bedrock() -> Iterator[StubbedBedrock]:
    with stubbed_bedrock() as stub:
        yield stub


def test_the_answer_is_the_validated_tool_input_with_its_cost(bedrock: StubbedBedrock) -> None:
    bedrock.answer(
        tool_use_response(ENRICHMENT_TOOL.name, ANSWER, input_tokens=500, output_tokens=90, latency_ms=777)
    )

    answer = converse(bedrock.client, ENRICHMENT_TOOL, MODEL_ID, FACTS, max_tokens=MAX_TOKENS)

    assert answer.answer == DealEnrichment.model_validate(ANSWER)
    assert (answer.input_tokens, answer.output_tokens, answer.latency_ms) == (500, 90, 777)
    ((request),) = bedrock.requests
    schema = request["toolConfig"]["tools"][0]["toolSpec"]["inputSchema"]["json"]
    assert schema == DealEnrichment.model_json_schema()
    assert "$defs" not in schema  # flat: no references for the model to resolve
    assert request["inferenceConfig"] == {"maxTokens": MAX_TOKENS, "temperature": 0.0}


def test_an_answer_cut_at_max_tokens_is_invalid(bedrock: StubbedBedrock) -> None:
    response = tool_use_response(ENRICHMENT_TOOL.name, {"industry": "Stor"})
    response["stopReason"] = "max_tokens"
    bedrock.answer(response)
    with pytest.raises(ModelOutputInvalid, match="cut off at maxTokens"):
        converse(bedrock.client, ENRICHMENT_TOOL, MODEL_ID, FACTS, max_tokens=MAX_TOKENS)


def test_extra_keys_in_the_answer_are_invalid(bedrock: StubbedBedrock) -> None:
    bedrock.answer(tool_use_response(ENRICHMENT_TOOL.name, {**ANSWER, "contact_email": "a@b.example"}))
    with pytest.raises(ModelOutputInvalid, match="contact_email: Extra inputs are not permitted"):
        converse(bedrock.client, ENRICHMENT_TOOL, MODEL_ID, FACTS, max_tokens=MAX_TOKENS)


@pytest.mark.parametrize(
    ("code", "status", "error"),
    [
        ("ThrottlingException", 429, ModelThrottled),
        ("ServiceUnavailableException", 503, ModelThrottled),
        ("ModelNotReadyException", 429, ModelThrottled),
        ("AccessDeniedException", 403, ModelUnavailable),
        ("ValidationException", 400, ModelUnavailable),
        ("ResourceNotFoundException", 404, ModelUnavailable),
    ],
)
def test_bedrock_refusals_are_named_by_what_a_retry_can_do(
    bedrock: StubbedBedrock, code: str, status: int, error: type[Exception]
) -> None:
    bedrock.refuse(code, status)
    with pytest.raises(error, match=code) as raised:
        converse(bedrock.client, ENRICHMENT_TOOL, MODEL_ID, FACTS, max_tokens=MAX_TOKENS)
    assert type(raised.value) is error  # exactly the class: Step Functions matches names
