"""Only a lost connection counts as "try again later"; a request botocore refuses before sending
(invalid parameters, no credentials) is a standing fault that retries cannot fix."""

from __future__ import annotations

import boto3
import pytest
from botocore.config import Config

from zoho_pipelines.ai.converse import converse
from zoho_pipelines.ai.enrichment import ENRICHMENT_TOOL
from zoho_pipelines.ai.errors import ModelThrottled, ModelUnavailable

MODEL = "anthropic.claude-3-5-haiku-20241022-v1:0"


def _client() -> object:
    """A real client whose endpoint is the discard port on loopback, where nothing listens."""
    return boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}),
    )


def test_a_request_botocore_refuses_is_not_reported_as_throttling() -> None:
    with pytest.raises(ModelUnavailable, match="ParamValidationError"):
        converse(_client(), ENRICHMENT_TOOL, MODEL, {"deal": {}}, max_tokens=0)  # maxTokens min is 1


def test_a_refused_connection_is_try_again_later() -> None:
    with pytest.raises(ModelThrottled, match="unreachable"):
        converse(_client(), ENRICHMENT_TOOL, MODEL, {"deal": {}}, max_tokens=100)
