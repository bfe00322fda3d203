"""The AIEnrichment step: enrich a won deal (Claude or the rules), keep the result in the lake,
write it back to Zoho CRM as fields and one Note on the deal.

Idempotent under retries, redrives and overlapping runs, because everything is keyed by the
enrichment's input digest (`zoho_pipelines.ai.enrichment.input_digest`):
1. the lake object `<lake>/zoho/ai/enrichments/deal_id=<id>/<digest>.json` is looked up first; a
   retry reuses the stored answer instead of asking the model again (which costs tokens and may
   answer differently), and overlapping writers converge on the first object stored;
2. the deal's fields are written only where they differ (one update without workflow triggers,
   so Zoho records no edit on a repeat);
3. the Note's title carries the digest (`note_title`), so a repeat finds its note on the deal
   and adds none. Two overlapping runs may both find none and both add one: whenever the deal
   holds more than one note with the title, the oldest (lowest id) is kept and the others are
   deleted, so overlapping runs converge on one note whatever their interleaving.
The model is asked, and its answer validated, before anything is written: an answer that breaks
the schema fails the step with `ModelOutputInvalid` and leaves no trace; throttling leaves as
`ModelThrottled`, which the state machine retries.

Fields the org has not created (see the README) are skipped and reported, not an error: the
note and the warehouse row still carry the whole enrichment.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from zoho_pipelines.ai.enrichment import (
    ACCOUNT_FACTS,
    DEAL_FACTS,
    DealEnricher,
    DealEnrichment,
    Enrichment,
    deal_facts,
    input_digest,
)
from zoho_pipelines.ai.store import EnrichmentStore, enrichment_store_from_settings
from zoho_pipelines.clock import Clock
from zoho_pipelines.onboarding.errors import OnboardingError
from zoho_pipelines.settings import load_settings
from zoho_pipelines.zoho.crm import CrmClient
from zoho_pipelines.zoho.crm_notes import CrmNotes

SCORE_FIELD = "Deal_Score__c"
PROFILE_FIELDS = {"industry": "AI_Industry__c", "size_band": "AI_Size_Band__c", "region": "AI_Region__c"}
ACCOUNT_FIELDS = (*ACCOUNT_FACTS, "Employees", "Annual_Revenue")
NOTE_TITLE_PREFIX = "AI enrichment"


def note_title(digest: str) -> str:
    """The note's title, and its key: a retry recognises its own note by it."""
    return f"{NOTE_TITLE_PREFIX} {digest}"


class DealEnrichmentStep:
    def __init__(
        self, crm: CrmClient, enricher: DealEnricher, store: EnrichmentStore | None, clock: Clock
    ) -> None:
        self._crm = crm
        self._notes = CrmNotes(crm.transport)
        self._enricher = enricher
        self._store = store
        self._clock = clock

    def _lake(self) -> EnrichmentStore:
        if self._store is None:
            self._store = enrichment_store_from_settings(load_settings())
        return self._store

    def run(self, deal: Mapping[str, Any]) -> dict[str, Any]:
        deal_id, account_id = str(deal["id"]), str(deal["account_id"])
        deal_fields = set(self._crm.field_names("Deals"))
        writable = {name for name in (SCORE_FIELD, *PROFILE_FIELDS.values()) if name in deal_fields}
        deal_record = self._record("Deals", deal_id, [*DEAL_FACTS, *writable], deal_fields)
        account = self._record(
            "Accounts", account_id, list(ACCOUNT_FIELDS), set(self._crm.field_names("Accounts"))
        )
        facts = deal_facts(deal_record, account)
        digest = input_digest(facts, self._enricher)

        stored = self._lake().get(deal_id, digest)
        reused = stored is not None
        if stored is None:
            enrichment = self._enricher.enrich(facts)
            stored = self._lake().put_once(
                lake_record(
                    deal_id,
                    account_id,
                    digest,
                    facts,
                    enrichment,
                    self._clock,
                    score=fit_score_of(deal_record, account),
                )
            )
        output = DealEnrichment.model_validate(stored["output"])

        wanted = {SCORE_FIELD: stored["fit_score"]} | {
            field: getattr(output, attribute) for attribute, field in PROFILE_FIELDS.items()
        }
        changed = {
            field: value
            for field, value in wanted.items()
            if field in writable and not _same(deal_record.get(field), value)
        }
        if changed:
            self._update_deal(deal_id, changed)
        note_id, note_created = self._note_once(deal_id, note_title(digest), note_content(stored))
        return {
            "source": stored["source"],
            "model_id": stored["model_id"],
            "prompt_version": stored["prompt_version"],
            "input_digest": digest,
            "score": stored["fit_score"],
            "industry": output.industry,
            "size_band": output.size_band,
            "region": output.region,
            "written": bool(changed),
            "missing_fields": sorted(set(wanted) - writable),
            "note_id": note_id,
            "note_created": note_created,
            "reused": reused,
            "input_tokens": stored["input_tokens"],
            "output_tokens": stored["output_tokens"],
        }

    def _note_once(self, deal_id: str, title: str, content: str) -> tuple[str, bool]:
        """The deal's one note with `title` (its id, and whether this run added it)."""
        found = self._notes.titled("Deals", deal_id, title)
        created = None
        if not found:
            created = self._notes.create("Deals", deal_id, title=title, content=content)
            found = self._notes.titled("Deals", deal_id, title)
        kept, *extra = sorted(found, key=lambda note: int(note["id"]))
        if extra:
            self._notes.delete([str(note["id"]) for note in extra])
        return str(kept["id"]), str(kept["id"]) == created

    def _record(self, module: str, record_id: str, fields: list[str], available: set[str]) -> dict[str, Any]:
        wanted = [name for name in dict.fromkeys(fields) if name in available]
        for batch in self._crm.iter_by_ids(module, [record_id], wanted):
            for record in batch:
                return record
        return {}

    def _update_deal(self, deal_id: str, values: dict[str, Any]) -> None:
        result = self._crm.update_records("Deals", [{"id": deal_id, **values}], trigger=())
        if not result.all_ok:
            (failure,) = result.failed
            raise OnboardingError(f"deal {deal_id} update refused: {failure.code} {failure.message}")


def lake_record(
    deal_id: str,
    account_id: str,
    digest: str,
    facts: Mapping[str, Any],
    enrichment: Enrichment,
    clock: Clock,
    *,
    score: float,
) -> dict[str, Any]:
    """The enrichment as stored in the lake (and loaded into `zoho_ai.enrichments`)."""
    return {
        "deal_id": deal_id,
        "account_id": account_id,
        "input_digest": digest,
        "source": enrichment.source,
        "model_id": enrichment.model_id,
        "prompt_version": enrichment.prompt_version,
        "input": dict(facts),
        "output": enrichment.output.model_dump(mode="json"),
        "fit_score": score,
        "input_tokens": enrichment.input_tokens,
        "output_tokens": enrichment.output_tokens,
        "latency_ms": enrichment.latency_ms,
        "enriched_at": clock.now().isoformat(),
    }


def note_content(stored: Mapping[str, Any]) -> str:
    output = DealEnrichment.model_validate(stored["output"])
    producer = f"Claude ({stored['model_id']})" if stored["source"] == "claude" else "rules"
    lines = [
        output.onboarding_brief,
        "",
        f"Profile: {output.industry}; {output.size_band} employees; {output.region}.",
        "Risks:",
        *(f"- {risk}" for risk in output.risks or ["none found"]),
        "Next steps:",
        *(f"- {step}" for step in output.next_steps),
        "",
        f"Produced by {producer}, {stored['prompt_version']}.",
    ]
    return "\n".join(lines)


def fit_score_of(deal: Mapping[str, Any], account: Mapping[str, Any]) -> float:
    amount = deal.get("Amount")
    amount = float(amount) if isinstance(amount, int | float) and not isinstance(amount, bool) else 0.0
    return fit_score(amount, account.get("Employees"), account.get("Annual_Revenue"))


def fit_score(amount: float, employees: Any, annual_revenue: Any) -> float:
    """Bigger deals from bigger accounts score higher; account figures Zoho lacks are left out
    rather than counted as zero. Always by rule, whoever wrote the brief: sales must be able to
    explain the Deal Score."""
    parts = [min(amount / 100_000, 1.0)]
    if isinstance(employees, int | float) and not isinstance(employees, bool):
        parts.append(min(float(employees) / 5_000, 1.0))
    if isinstance(annual_revenue, int | float) and not isinstance(annual_revenue, bool):
        parts.append(min(float(annual_revenue) / 50_000_000, 1.0))
    return round(10 * sum(parts) / len(parts), 3)


def _same(current: Any, wanted: Any) -> bool:
    """Whether the deal already holds `wanted` (CRM may render a decimal field as text)."""
    if isinstance(wanted, float):
        try:
            return round(float(current), 3) == wanted
        except (TypeError, ValueError):
            return False
    return current == wanted
