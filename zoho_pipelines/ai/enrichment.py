"""Enrichment of a won deal: an account profile (industry, size band, region), a short onboarding
brief, risks and next steps; by Claude when a model is configured, by rules otherwise.

Privacy boundary: the model sees only the allow-listed facts below (`DEAL_FACTS`,
`ACCOUNT_FACTS`), each a number, a picklist value, a flag, a date or a country/state, and only
when Zoho holds it as such a scalar (lookups and other nested values are dropped). Never sent: names
of people or of the company, owners, e-mail addresses, phone numbers, street addresses,
websites, and free text of any kind (descriptions, notes, e-mails). `deal_facts` is the one
place that decides, and `converse_request` shows the exact request.

Both producers return the same shape (`Enrichment`), labelled with its source ("claude" or
"rules"), the model id (None for the rules) and the prompt (or rules) version, so every result
says what made it. `input_digest` covers everything that decides the answer (the facts, the
producer and its version): the key under which the result is stored, found again on a retry,
and recognised in Zoho.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from zoho_pipelines.ai.converse import ToolSpec, bedrock_runtime_client, converse

PROMPT_VERSION = "deal-enrichment/1"
RULES_VERSION = "deal-enrichment-rules/1"
MAX_TOKENS = 800  # the answer is a few short fields; about 300 tokens in practice

DEAL_FACTS = (
    "Amount",
    "Type",
    "Lead_Source",
    "Pipeline",
    "Closing_Date",
    "Contract_Length_Months__c",
    "Is_Renewal__c",
    "Discount__c",
    "Competitors__c",
)
ACCOUNT_FACTS = (
    "Industry",
    "Employees",
    "Annual_Revenue",
    "Account_Type",
    "Ownership",
    "Rating",
    "Customer_Tier__c",
    "Billing_State",
    "Billing_Country",
)

SizeBand = Literal["1-10", "11-50", "51-200", "201-1000", "1001-5000", "5001+", "Unknown"]
Region = Literal["North America", "LATAM", "EMEA", "India", "APAC", "ANZ", "Unknown"]
Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class DealEnrichment(BaseModel):
    """The answer, as the tool's input schema and as validated: flat, so the schema needs no $refs."""

    model_config = ConfigDict(extra="forbid")

    industry: str = Field(min_length=1, max_length=80, description="The account's industry, in a few words")
    size_band: SizeBand = Field(description="Employee count band; Unknown when not given")
    region: Region = Field(description="Sales region of the billing country; Unknown when not given")
    onboarding_brief: str = Field(
        min_length=1, max_length=600, description="Two or three sentences for the onboarding team"
    )
    risks: list[Line] = Field(max_length=5, description="Onboarding risks the facts show, if any")
    next_steps: list[Line] = Field(min_length=1, max_length=5, description="Concrete next steps")


ENRICHMENT_TOOL = ToolSpec(
    name="record_deal_enrichment",
    description="Record the won deal's account profile, onboarding brief, risks and next steps.",
    answer=DealEnrichment,
    system_prompt=(
        "You prepare customer onboarding for a B2B software company. From the facts of a won deal "
        "and its account, call the record_deal_enrichment tool exactly once: the account's "
        "industry, its size band and sales region, a brief of two or three sentences for the "
        "onboarding team, the risks the facts show (none if they show none) and up to five "
        "concrete next steps. Use only the facts given; write Unknown where a fact is missing."
    ),
    prompt_version=PROMPT_VERSION,
)


@dataclass(frozen=True)
class Enrichment:
    """One enrichment result and what produced it."""

    output: DealEnrichment
    source: Literal["claude", "rules"]
    model_id: str | None
    prompt_version: str
    input_tokens: int = 0
    output_tokens: int = 0
    latency_ms: int = 0


class DealEnricher(Protocol):
    source: Literal["claude", "rules"]
    model_id: str | None
    prompt_version: str

    def enrich(self, facts: Mapping[str, Any]) -> Enrichment: ...


def deal_facts(deal: Mapping[str, Any], account: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The facts the enrichment may use: the allow-listed scalars of the deal and its account."""
    return {"deal": _allowed(deal, DEAL_FACTS), "account": _allowed(account, ACCOUNT_FACTS)}


def _allowed(record: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    for name in names:
        value = record.get(name)
        if isinstance(value, str | int | float | bool) and value != "":
            facts[name] = value
        elif isinstance(value, list) and value and all(isinstance(item, str) for item in value):
            facts[name] = sorted(value)
    return facts


def input_digest(facts: Mapping[str, Any], enricher: DealEnricher) -> str:
    """SHA-256 of the facts and the producer (source, model, version), as canonical JSON."""
    canonical = json.dumps(
        {
            "facts": facts,
            "source": enricher.source,
            "model_id": enricher.model_id,
            "prompt_version": enricher.prompt_version,
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def enricher_from_environment() -> DealEnricher:
    """Claude when BEDROCK_MODEL_ID names a model (a foundation model or inference profile id),
    the rules otherwise."""
    model_id = (os.environ.get("BEDROCK_MODEL_ID") or "").strip()
    if not model_id:
        return RulesEnricher()
    return ClaudeEnricher(model_id, bedrock_runtime_client())


class ClaudeEnricher:
    """One Converse call per deal with the forced `record_deal_enrichment` tool."""

    source: Literal["claude", "rules"] = "claude"
    prompt_version = PROMPT_VERSION

    def __init__(self, model_id: str, client: Any, *, max_tokens: int = MAX_TOKENS) -> None:
        self.model_id: str | None = model_id
        self._model_id = model_id  # the same, as the str a call needs
        self._client = client
        self._max_tokens = max_tokens

    def enrich(self, facts: Mapping[str, Any]) -> Enrichment:
        answer = converse(
            self._client,
            ENRICHMENT_TOOL,
            self._model_id,
            facts,
            max_tokens=self._max_tokens,
        )
        return Enrichment(
            output=answer.answer,
            source="claude",
            model_id=answer.model_id,
            prompt_version=PROMPT_VERSION,
            input_tokens=answer.input_tokens,
            output_tokens=answer.output_tokens,
            latency_ms=answer.latency_ms,
        )


COUNTRY_REGIONS: dict[str, Region] = {
    "USA": "North America",
    "United States": "North America",
    "Canada": "North America",
    "Mexico": "LATAM",
    "Brazil": "LATAM",
    "Argentina": "LATAM",
    "Chile": "LATAM",
    "India": "India",
    "Australia": "ANZ",
    "New Zealand": "ANZ",
    "Japan": "APAC",
    "Singapore": "APAC",
    "China": "APAC",
}
EMEA_COUNTRIES = frozenset(
    {"Germany", "France", "Ireland", "Switzerland", "United Kingdom", "Spain", "Italy", "Netherlands"}
    | {"Nigeria", "South Africa", "United Arab Emirates", "Sweden", "Poland", "Kenya", "Egypt"}
)
SIZE_BANDS: tuple[tuple[int, SizeBand], ...] = (
    (10, "1-10"),
    (50, "11-50"),
    (200, "51-200"),
    (1_000, "201-1000"),
    (5_000, "1001-5000"),
)
LARGE_DEAL = 100_000


class RulesEnricher:
    """The same shape from fixed rules: deterministic, free, and nothing leaves the account."""

    source: Literal["claude", "rules"] = "rules"
    model_id: str | None = None
    prompt_version = RULES_VERSION

    def enrich(self, facts: Mapping[str, Any]) -> Enrichment:
        deal, account = facts.get("deal", {}), facts.get("account", {})
        industry = str(account.get("Industry") or "Unknown")
        size_band = size_band_of(account.get("Employees"))
        region = region_of(account.get("Billing_Country"))
        amount = _number(deal.get("Amount")) or 0.0
        brief = (
            f"{'Renewal' if deal.get('Is_Renewal__c') is True else 'New business'} worth {amount:,.0f} "
            f"with a {industry} account ({size_band} employees, {region}). "
            f"{_contract_sentence(deal)}"
        ).strip()
        return Enrichment(
            output=DealEnrichment(
                industry=industry[:80],
                size_band=size_band,
                region=region,
                onboarding_brief=brief,
                risks=_risks(deal, account, amount, size_band)[:5],
                next_steps=_next_steps(amount, size_band),
            ),
            source="rules",
            model_id=None,
            prompt_version=RULES_VERSION,
        )


def size_band_of(employees: Any) -> SizeBand:
    count = _number(employees)
    if count is None or count < 1:
        return "Unknown"
    return next((band for limit, band in SIZE_BANDS if count <= limit), "5001+")


def region_of(country: Any) -> Region:
    name = str(country or "").strip()
    if name in EMEA_COUNTRIES:
        return "EMEA"
    return COUNTRY_REGIONS.get(name, "Unknown")


def _contract_sentence(deal: Mapping[str, Any]) -> str:
    months = _number(deal.get("Contract_Length_Months__c"))
    return f"Contract of {months:.0f} months." if months else ""


def _risks(deal: Mapping[str, Any], account: Mapping[str, Any], amount: float, size_band: str) -> list[str]:
    risks = []
    if amount >= LARGE_DEAL and size_band in ("1-10", "11-50"):
        risks.append("The deal is large for the account's size: confirm budget and adoption capacity.")
    discount = _number(deal.get("Discount__c"))
    if discount is not None and discount >= 20:
        risks.append(f"High discount ({discount:.0f}%): set expectations on renewal pricing early.")
    if deal.get("Competitors__c"):
        risks.append(f"Competitors in the deal: {', '.join(deal['Competitors__c'])}.")
    if account.get("Rating") in ("Market Failed", "Project Cancelled", "Shut Down"):
        risks.append(f"The account is rated {account['Rating']}.")
    if "Industry" not in account:
        risks.append("The account's industry is not recorded in CRM.")
    return risks


def _next_steps(amount: float, size_band: str) -> list[str]:
    steps = ["Schedule the kickoff call", "Confirm the billing contact and first invoice"]
    if amount >= LARGE_DEAL or size_band in ("1001-5000", "5001+"):
        steps.append("Assign a dedicated onboarding manager")
    steps.append("Agree the success criteria for the first 90 days")
    return steps


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
