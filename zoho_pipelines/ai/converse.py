"""One structured answer from a model on Amazon Bedrock, through the Converse API.

The model must answer by calling one tool whose input schema is a pydantic model's JSON schema
(`toolChoice` names the tool, so no prose comes back), and the tool input is validated by that
same model, so what the schema promises is what the caller gets:
https://docs.aws.amazon.com/bedrock/latest/userguide/tool-use-inference-call.html and
https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ToolChoice.html.

The answer carries what the call cost: input and output tokens from the response's `usage`, and
the latency Bedrock measured (`metrics.latencyMs`); both are required members of every Converse
response, so the cost never depends on our own clock:
https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html#API_runtime_Converse_ResponseSyntax

Errors are sorted by what a caller can do about them (`zoho_pipelines.ai.errors`): the ones
Bedrock documents as transient (ThrottlingException, ServiceUnavailableException,
ModelNotReadyException, ModelTimeoutException, InternalServerException) and a lost connection
are `ModelThrottled`; the rest of Bedrock's refusals, and a request botocore will not send
(invalid parameters, no credentials), are `ModelUnavailable`; an answer that is
not the tool call, is cut off at maxTokens, or breaks the schema is `ModelOutputInvalid`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from zoho_pipelines.ai.errors import ModelOutputInvalid, ModelThrottled, ModelUnavailable

Answer = TypeVar("Answer", bound=BaseModel)

TRANSIENT_ERRORS = frozenset(
    {
        "ThrottlingException",
        "ServiceUnavailableException",
        "ModelNotReadyException",
        "ModelTimeoutException",
        "InternalServerException",
    }
)
# Bedrock's own retries stay short: a throttled call leaves the Lambda soon and the state
# machine's retrier comes back later, instead of the function spending its 60 s waiting.
CLIENT_ATTEMPTS = 2


@dataclass(frozen=True)
class ToolSpec(Generic[Answer]):
    """The one tool the model must call, and the prompt that asks it to."""

    name: str
    description: str
    answer: type[Answer]
    system_prompt: str
    prompt_version: str

    def input_schema(self) -> dict[str, Any]:
        return self.answer.model_json_schema()


@dataclass(frozen=True)
class StructuredAnswer(Generic[Answer]):
    answer: Answer
    model_id: str
    input_tokens: int
    output_tokens: int
    latency_ms: int


def bedrock_runtime_client() -> Any:
    """A bedrock-runtime client from the environment (region, credentials, AWS_ENDPOINT_URL)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "bedrock-runtime", config=Config(retries={"mode": "standard", "max_attempts": CLIENT_ATTEMPTS})
    )


def converse_request(
    tool: ToolSpec[Any], model_id: str, facts: Mapping[str, Any], *, max_tokens: int
) -> dict[str, Any]:
    """The Converse request: the facts as JSON, the tool forced, temperature 0, maxTokens capped.

    Public so that tests can check exactly what leaves the account."""
    return {
        "modelId": model_id,
        "system": [{"text": tool.system_prompt}],
        "messages": [
            {"role": "user", "content": [{"text": "Facts (JSON):\n" + json.dumps(facts, sort_keys=True)}]}
        ],
        "inferenceConfig": {"maxTokens": max_tokens, "temperature": 0.0},
        "toolConfig": {
            "tools": [
                {
                    "toolSpec": {
                        "name": tool.name,
                        "description": tool.description,
                        "inputSchema": {"json": tool.input_schema()},
                    }
                }
            ],
            "toolChoice": {"tool": {"name": tool.name}},
        },
    }


def converse(
    client: Any,
    tool: ToolSpec[Answer],
    model_id: str,
    facts: Mapping[str, Any],
    *,
    max_tokens: int,
) -> StructuredAnswer[Answer]:
    """Ask `model_id` about `facts`; the validated tool input, with its token and time cost."""
    from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
    from botocore.exceptions import ConnectionError as BotoConnectionError

    try:
        response = client.converse(**converse_request(tool, model_id, facts, max_tokens=max_tokens))
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "ClientError")
        if code in TRANSIENT_ERRORS:
            raise ModelThrottled(f"Bedrock {model_id}: {code}, try again later") from None
        raise ModelUnavailable(f"Bedrock {model_id} refused the request: {code}") from None
    except (BotoConnectionError, HTTPClientError) as error:  # connect or read failed, timed out
        raise ModelThrottled(f"Bedrock unreachable: {type(error).__name__}") from None
    except BotoCoreError as error:  # refused before sending (parameters, credentials): no retry helps
        raise ModelUnavailable(f"Bedrock {model_id} request not sent: {type(error).__name__}") from None
    return StructuredAnswer(
        answer=_validated(tool, response),
        model_id=model_id,
        input_tokens=int(response["usage"]["inputTokens"]),
        output_tokens=int(response["usage"]["outputTokens"]),
        latency_ms=int(response["metrics"]["latencyMs"]),
    )


def _validated(tool: ToolSpec[Answer], response: Mapping[str, Any]) -> Answer:
    stop = response.get("stopReason")
    if stop == "max_tokens":
        raise ModelOutputInvalid(f"the answer was cut off at maxTokens before {tool.name} was complete")
    content = (response.get("output") or {}).get("message", {}).get("content") or []
    calls = [block["toolUse"] for block in content if isinstance(block, dict) and "toolUse" in block]
    tool_input = next((call.get("input") for call in calls if call.get("name") == tool.name), None)
    if not isinstance(tool_input, Mapping):
        raise ModelOutputInvalid(f"the model did not call {tool.name} (stop reason {stop!r})")
    try:
        return tool.answer.model_validate(tool_input)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item['loc']) or '(root)'}: {item['msg']}"
            for item in error.errors()
        )
        raise ModelOutputInvalid(f"{tool.name} input breaks its schema: {problems}") from None
