"""Bedrock's Converse API at the edge, for tests: moto 5.2.5 has no bedrock-runtime, so a real
botocore client answers through `botocore.stub.Stubber`, which checks every request against the
service model and every queued response against the documented response shape.

Responses are shaped as AWS documents Converse with tool use
(https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html#API_runtime_Converse_ResponseSyntax,
https://docs.aws.amazon.com/bedrock/latest/userguide/tool-use-inference-call.html): an assistant
message whose content is a `toolUse` block, `stopReason` "tool_use", `usage` and `metrics`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config
from botocore.stub import Stubber

MODEL_ID = "anthropic.claude-3-5-haiku-20241022-v1:0"


def tool_use_response(
    tool_name: str,
    tool_input: dict[str, Any],
    *,
    input_tokens: int = 612,
    output_tokens: int = 187,
    latency_ms: int = 1834,
) -> dict[str, Any]:
    return {
        "output": {
            "message": {
                "role": "assistant",
                "content": [
                    {
                        "toolUse": {
                            "toolUseId": "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q",
                            "name": tool_name,
                            "input": tool_input,
                        }
                    }
                ],
            }
        },
        "stopReason": "tool_use",
        "usage": {
            "inputTokens": input_tokens,
            "outputTokens": output_tokens,
            "totalTokens": input_tokens + output_tokens,
        },
        "metrics": {"latencyMs": latency_ms},
    }


def text_response(text: str) -> dict[str, Any]:
    """A model that talks instead of calling the tool."""
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 600, "outputTokens": 20, "totalTokens": 620},
        "metrics": {"latencyMs": 400},
    }


@dataclass
class StubbedBedrock:
    client: Any
    stubber: Stubber
    requests: list[dict[str, Any]] = field(default_factory=list)

    def answer(self, response: dict[str, Any]) -> None:
        self.stubber.add_response("converse", response)

    def refuse(self, code: str, status: int) -> None:
        self.stubber.add_client_error(
            "converse", service_error_code=code, service_message=code, http_status_code=status
        )


@contextmanager
def stubbed_bedrock() -> Iterator[StubbedBedrock]:
    """A bedrock-runtime client answering from a queue; `requests` records what was sent.

    One attempt per call: what the caller does with a throttled call is under test, not
    botocore's own retries."""
    client = boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"mode": "standard", "max_attempts": 1}),
    )
    stub = StubbedBedrock(client, Stubber(client))
    client.meta.events.register(
        "before-parameter-build.bedrock-runtime.Converse", lambda params, **_: stub.requests.append(params)
    )
    with stub.stubber:
        yield stub
    stub.stubber.assert_no_pending_responses()
