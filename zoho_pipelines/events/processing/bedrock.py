"""Lead scoring by a model on Amazon Bedrock, through the Converse API (`zoho_pipelines.ai.converse`).

The model is made to answer by calling one tool whose input schema is the score and the reason
(`toolChoice` forces it), validated by the same pydantic model, so the answer arrives as
structured JSON rather than prose to parse. An answer that breaks the schema or a request
Bedrock refuses is a `ScoringError` for that lead: the job reports it per record instead of
writing a guess. Throttling is not: `ModelThrottled` leaves the job, the run fails, and the
event path delivers the leads again later (a retry would only be throttled with the next lead).

Only scoring facts leave the account: the email is reduced to its domain and phone numbers to
whether one exists, so no contact details are sent to the model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from zoho_pipelines.ai.converse import ToolSpec, bedrock_runtime_client, converse, converse_request
from zoho_pipelines.ai.errors import ModelOutputInvalid, ModelUnavailable
from zoho_pipelines.events.processing.scoring import MAX_REASON_CHARS, LeadScore, ScoringError

TOOL_NAME = "record_lead_score"
PROMPT_VERSION = "lead-score/1"
MAX_TOKENS = 400
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


class LeadScoreAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    score: int = Field(ge=0, le=100, description="0: no chance; 100: ready to buy")
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)] = Field(
        description="One or two sentences a salesperson can act on"
    )


LEAD_SCORE_TOOL = ToolSpec(
    name=TOOL_NAME,
    description="Record the lead's qualification score and the reason for it.",
    answer=LeadScoreAnswer,
    system_prompt=(
        "You qualify B2B sales leads for a CRM. Judge how likely the lead is to become a paying "
        "customer from the facts given, and call the record_lead_score tool exactly once with a score "
        "from 0 (no chance) to 100 (ready to buy) and a one- or two-sentence reason that a salesperson "
        "can act on. Do not invent facts that are not given."
    ),
    prompt_version=PROMPT_VERSION,
)


class BedrockLeadScorer:
    """Scores one lead per Converse call with `model_id` (e.g. an Anthropic Claude model id)."""

    fields: tuple[str, ...] = (*_FACT_FIELDS, "Email", "Phone", "Mobile")

    def __init__(self, model_id: str, *, client: Any = None, max_tokens: int = MAX_TOKENS) -> None:
        self.model_id = model_id
        self._client = client if client is not None else bedrock_runtime_client()
        self._max_tokens = max_tokens

    def score(self, lead: Mapping[str, Any]) -> LeadScore:
        try:
            answer = converse(
                self._client,
                LEAD_SCORE_TOOL,
                self.model_id,
                lead_facts(lead),
                max_tokens=self._max_tokens,
            )
        except (ModelOutputInvalid, ModelUnavailable) as error:
            raise ScoringError(str(error)) from None
        return LeadScore(
            answer.answer.score,
            answer.answer.reason[:MAX_REASON_CHARS],
            source="claude",
            model_id=self.model_id,
            prompt_version=PROMPT_VERSION,
            input_tokens=answer.input_tokens,
            output_tokens=answer.output_tokens,
        )

    def request(self, lead: Mapping[str, Any]) -> dict[str, Any]:
        """The Converse request for one lead (public so that its privacy can be checked)."""
        return converse_request(LEAD_SCORE_TOOL, self.model_id, lead_facts(lead), max_tokens=self._max_tokens)


def lead_facts(lead: Mapping[str, Any]) -> dict[str, Any]:
    """The lead as the model sees it: scoring facts, no contact details."""
    facts = {name: lead[name] for name in _FACT_FIELDS if lead.get(name) not in (None, "")}
    email = str(lead.get("Email") or "")
    if "@" in email:
        facts["Email_Domain"] = email.rsplit("@", 1)[1].lower()
    facts["Has_Phone"] = bool(lead.get("Phone") or lead.get("Mobile"))
    return facts
