"""Lead scorers: the rules, and Bedrock's Converse API through boto3 against a loopback server
that answers as Bedrock does (tool use, refusals, errors)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from botocore.config import Config

from zoho_pipelines.events.processing.bedrock import TOOL_NAME, BedrockLeadScorer
from zoho_pipelines.events.processing.scoring import RULES_VERSION, RuleBasedLeadScorer, ScoringError

STRONG = {
    "Lead_Source": "Partner",
    "Annual_Revenue": 80_000_000,
    "No_of_Employees": 4_000,
    "Designation": "VP Sales",
    "Email": "ana@bigcorp.example",
    "Phone": "+1-555-0100",
    "Rating": "Active",
    "Lead_Status": "Pre-Qualified",
}
WEAK = {"Lead_Source": "Cold Call", "Email": None, "Lead_Status": "Junk Lead", "Email_Opt_Out": True}


def test_rules_rank_a_strong_lead_above_a_weak_one_and_say_why() -> None:
    scorer = RuleBasedLeadScorer()

    strong, weak = scorer.score(STRONG), scorer.score(WEAK)

    assert strong.score == 100  # clamped: the points add up to more
    assert weak.score == 0
    assert "referral or partner source (+15)" in strong.reason
    assert "lead status (-40)" in weak.reason
    assert scorer.score(dict(STRONG)) == strong  # deterministic: a rerun writes nothing new
    assert (strong.source, strong.model_id, strong.prompt_version) == ("rules", None, RULES_VERSION)


def test_rules_read_numbers_as_zoho_renders_them_and_ignore_absent_fields() -> None:
    scorer = RuleBasedLeadScorer()

    as_text = scorer.score({"Annual_Revenue": "6000000.00", "Email": "x@gmail.com"})
    empty = scorer.score({})

    assert "annual revenue (+12)" in as_text.reason
    assert "business email" not in as_text.reason  # free mail scores nothing
    assert empty.score == 10  # base 20, no email -10
    assert set(scorer.fields) >= {"Lead_Source", "Annual_Revenue", "Email"}


class _ConverseHandler(BaseHTTPRequestHandler):
    server: _BedrockStandIn

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        self.server.requests.append((self.path, body))
        facts = json.loads(body["messages"][0]["content"][0]["text"].split("\n", 1)[1])
        status, answer = self.server.answer(facts)
        payload = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        if status != 200:
            self.send_header("x-amzn-errortype", answer["__type"])
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *_: Any) -> None:
        return


def _tool_answer(tool_input: dict[str, Any]) -> dict[str, Any]:
    return {
        "output": {
            "message": {
                "role": "assistant",
                "content": [{"toolUse": {"toolUseId": "t1", "name": TOOL_NAME, "input": tool_input}}],
            }
        },
        "stopReason": "tool_use",
        "usage": {"inputTokens": 10, "outputTokens": 10, "totalTokens": 20},
        "metrics": {"latencyMs": 5},
    }


class _BedrockStandIn(ThreadingHTTPServer):
    """Answers by the lead's company: how Bedrock answers, well and badly."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ConverseHandler)
        self.requests: list[tuple[str, dict[str, Any]]] = []

    def answer(self, facts: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        company = facts.get("Company", "")
        if company == "Chatty":
            text_only = _tool_answer({})
            text_only["output"]["message"]["content"] = [{"text": "I think this lead is promising."}]
            text_only["stopReason"] = "end_turn"
            return 200, text_only
        if company == "Overconfident":
            return 200, _tool_answer({"score": 140, "reason": "Buy now."})
        if company == "Throttled":
            return 400, {"__type": "ValidationException", "message": "The model is not available"}
        return 200, _tool_answer({"score": 70.0, "reason": f"  {company} fits our customer profile. "})


@pytest.fixture
def bedrock() -> Iterator[_BedrockStandIn]:
    server = _BedrockStandIn()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def bedrock_scorer(bedrock: _BedrockStandIn) -> BedrockLeadScorer:
    host, port = bedrock.server_address[:2]
    client = boto3.client(
        "bedrock-runtime",
        endpoint_url=f"http://{host}:{port}",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}),
    )
    return BedrockLeadScorer("anthropic.claude-3-haiku-20240307-v1:0", client=client)


def test_bedrock_scores_through_a_forced_tool_call(
    bedrock: _BedrockStandIn, bedrock_scorer: BedrockLeadScorer
) -> None:
    result = bedrock_scorer.score({**STRONG, "Company": "Acme"})

    assert (result.score, result.reason) == (70, "Acme fits our customer profile.")
    assert (result.source, result.model_id, result.prompt_version) == (
        "claude",
        "anthropic.claude-3-haiku-20240307-v1:0",
        "lead-score/1",
    )
    assert (result.input_tokens, result.output_tokens) == (10, 10)
    ((path, request),) = bedrock.requests
    assert path == "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse"
    assert request["toolConfig"]["toolChoice"] == {"tool": {"name": TOOL_NAME}}
    assert request["inferenceConfig"]["temperature"] == 0.0


def test_bedrock_never_sees_contact_details(
    bedrock: _BedrockStandIn, bedrock_scorer: BedrockLeadScorer
) -> None:
    bedrock_scorer.score({**STRONG, "Company": "Acme", "Mobile": "+91 98 1234 5678"})

    sent = json.dumps(bedrock.requests[0][1])
    assert "ana@bigcorp.example" not in sent
    assert "+1-555-0100" not in sent
    assert "1234 5678" not in sent
    assert '\\"Email_Domain\\": \\"bigcorp.example\\"' in sent
    assert '\\"Has_Phone\\": true' in sent


@pytest.mark.parametrize(
    ("company", "problem"),
    [
        ("Chatty", "did not call record_lead_score"),
        ("Overconfident", "breaks its schema: score: Input should be less than or equal to 100"),
        ("Throttled", "refused the request: ValidationException"),
    ],
)
def test_bedrock_answers_that_are_not_a_score_are_scoring_errors(
    bedrock_scorer: BedrockLeadScorer, company: str, problem: str
) -> None:
    with pytest.raises(ScoringError, match=problem):
        bedrock_scorer.score({"Company": company})
