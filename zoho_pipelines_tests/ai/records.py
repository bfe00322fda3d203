"""Enrichment records as the onboarding step stores them, built by the step's own function."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from zoho_pipelines.ai.enrichment import DealEnrichment, Enrichment, RulesEnricher, deal_facts, input_digest
from zoho_pipelines.clock import ManualClock
from zoho_pipelines.onboarding.enrichment import lake_record

ENRICHED_AT = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def claude_record(
    deal_id: str, amount: float, *, input_tokens: int = 700, output_tokens: int = 200
) -> dict[str, Any]:
    facts = deal_facts({"Amount": amount, "Type": "New Business"}, {"Industry": "Storage", "Employees": 640})
    enrichment = Enrichment(
        output=DealEnrichment(
            industry="Storage",
            size_band="201-1000",
            region="EMEA",
            onboarding_brief="A storage provider.",
            risks=["Tight timeline."],
            next_steps=["Schedule the kickoff call"],
        ),
        source="claude",
        model_id="anthropic.claude-3-5-haiku-20241022-v1:0",
        prompt_version="deal-enrichment/1",
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        latency_ms=1500,
    )
    digest = input_digest(facts, RulesEnricher())  # any producer: the key only has to be a digest
    return lake_record(deal_id, "4000", digest, facts, enrichment, ManualClock(ENRICHED_AT), score=6.5)
