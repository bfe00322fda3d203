"""Lead scoring with a model on Amazon Bedrock, through the Converse API.

The model is made to answer by calling one tool whose input schema is the score and the reason
(`toolChoice` forces it), so the answer arrives as structured JSON rather than prose to parse.
Anything else (no tool call, a score outside 0-100, an empty reason, an API error) is a
`ScoringError` for that lead: the job reports it per record instead of writing a guess.

Only scoring facts leave the account: the email is reduced to its domain and phone numbers to
whether one exists, so no contact details are sent to the model.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from zoho_pipelines.events.processing.scoring import MAX_REASON_CHARS, LeadScore, ScoringError

TOOL_NAME = "record_lead_score"
SYSTEM_PROMPT = (
    "You qualify B2B sales leads for a CRM. Judge how likely the lead is to become a paying "
    "customer from the facts given, and call the record_lead_score tool exactly once with a score "
    "from 0 (no chance) to 100 (ready to buy) and a one- or two-sentence reason that a salesperson "
    "can act on. Do not invent facts that are not given."
)
_INPUT_SCHEMA = {
    "type": "object",
    "properties": {
        "score": {"type": "integer", "minimum": 0, "maximum": 100},
        "reason": {"type": "string", "minLength": 1, "maxLength": 500},
    },
    "required": ["score", "reason"],
}
_FACT_FIELDS = (
    "Company",
    "Designation",
    "Industry",
    "Lead_Source",
    "Lead_Status",
    "Rating",
    "Annual_Revenue",
    "No_of_Employees",
    "Country",
    "Budget__c",
    "Demo_Attended__c",
    "Email_Opt_Out",
)


class BedrockLeadScorer:
    """Scores one lead per Converse call with `model_id` (e.g. an Anthropic Claude model id)."""

    fields: tuple[str, ...] = (*_FACT_FIELDS, "Email", "Phone", "Mobile")

    def __init__(self, model_id: str, *, client: Any = None, max_tokens: int = 400) -> None:
        if client is None:
            import boto3

            client = boto3.client("bedrock-runtime")
        self.model_id = model_id
        self._client = client
        self._max_tokens = max_tokens

    def score(self, lead: Mapping[str, Any]) -> LeadScore:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = self._client.converse(**self.request(lead))
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "ClientError")
            raise ScoringError(f"Bedrock Converse refused the request: {code}") from None
        except BotoCoreError as error:
            raise ScoringError(f"Bedrock Converse unreachable: {type(error).__name__}") from None
        return _score_from(response)

    def request(self, lead: Mapping[str, Any]) -> dict[str, Any]:
        """The Converse request for one lead (public so that its privacy can be checked)."""
        return {
            "modelId": self.model_id,
            "system": [{"text": SYSTEM_PROMPT}],
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"text": "Lead facts (JSON):\n" + json.dumps(lead_facts(lead), sort_keys=True)}
                    ],
                }
            ],
            "inferenceConfig": {"maxTokens": self._max_tokens, "temperature": 0.0},
            "toolConfig": {
                "tools": [
                    {
                        "toolSpec": {
                            "name": TOOL_NAME,
                            "description": "Record the lead's qualification score and the reason for it.",
                            "inputSchema": {"json": _INPUT_SCHEMA},
                        }
                    }
                ],
                "toolChoice": {"tool": {"name": TOOL_NAME}},
            },
        }


def lead_facts(lead: Mapping[str, Any]) -> dict[str, Any]:
    """The lead as the model sees it: scoring facts, no contact details."""
    facts = {name: lead[name] for name in _FACT_FIELDS if lead.get(name) not in (None, "")}
    email = str(lead.get("Email") or "")
    if "@" in email:
        facts["Email_Domain"] = email.rsplit("@", 1)[1].lower()
    facts["Has_Phone"] = bool(lead.get("Phone") or lead.get("Mobile"))
    return facts


def _score_from(response: Mapping[str, Any]) -> LeadScore:
    content = response.get("output", {}).get("message", {}).get("content", [])
    calls = [block["toolUse"] for block in content if isinstance(block, dict) and "toolUse" in block]
    answer = next((call.get("input") for call in calls if call.get("name") == TOOL_NAME), None)
    if not isinstance(answer, Mapping):
        raise ScoringError(f"the model did not call {TOOL_NAME} (stop reason {response.get('stopReason')!r})")
    score, reason = answer.get("score"), answer.get("reason")
    if isinstance(score, float) and score.is_integer():
        score = int(score)
    if isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= 100:
        raise ScoringError("the model's score is not an integer from 0 to 100")
    if not isinstance(reason, str) or not reason.strip():
        raise ScoringError("the model gave no reason")
    return LeadScore(score, reason.strip()[:MAX_REASON_CHARS])
