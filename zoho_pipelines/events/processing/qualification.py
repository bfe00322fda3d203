"""The lead qualification job: score new leads and write score and reason back to Zoho CRM.

Idempotent by construction: a lead whose stored score already equals the new score is left
alone, so a repeated run (a retry, a redelivered event) writes nothing, and Zoho records no edit
that would notify us again. Updates are sent with no workflow triggers for the same reason.

Each lead succeeds or fails on its own: Zoho reports a batch update per record, and a scorer can
fail for one lead. Failures come back as data, with the lead id and Zoho's code, so the caller
can report them and fail the run without hiding the leads that were written. A throttled model
(`ModelThrottled`) is not a per-lead failure: it leaves the job before anything is written, and
the event path runs the leads again later.

The result says what scored the leads (the rules, or Claude with its model id and prompt
version) and how many tokens that took, so a run's cost is in its metadata.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from zoho_pipelines.events.processing.scoring import LeadScorer, ScoringError
from zoho_pipelines.zoho.crm import CrmClient

LEADS = "Leads"


class QualificationError(RuntimeError):
    """The org is not set up for write-back (the score fields do not exist)."""


@dataclass(frozen=True, slots=True)
class LeadFailure:
    lead_id: str
    stage: str  # "score" or "write"
    code: str
    message: str


@dataclass(frozen=True)
class QualificationResult:
    requested: int
    updated: tuple[str, ...]
    unchanged: tuple[str, ...]
    missing: tuple[str, ...]
    failures: tuple[LeadFailure, ...]
    scored_by: dict[str, int] = field(default_factory=dict)  # LeadScore.producer -> leads
    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def ok(self) -> bool:
        return not self.failures

    def metadata(self) -> dict[str, Any]:
        return {
            "requested_leads": self.requested,
            "updated_leads": len(self.updated),
            "unchanged_leads": len(self.unchanged),
            "missing_leads": len(self.missing),
            "failed_leads": len(self.failures),
            "scored_by": dict(self.scored_by),
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "failures": [
                {
                    "lead_id": failure.lead_id,
                    "stage": failure.stage,
                    "code": failure.code,
                    "message": failure.message,
                }
                for failure in self.failures
            ],
        }


def qualify_leads(
    crm: CrmClient,
    scorer: LeadScorer,
    lead_ids: Iterable[str],
    *,
    score_field: str,
    reason_field: str,
) -> QualificationResult:
    """Score the leads and write back the changed scores; leads deleted since are `missing`."""
    requested = list(dict.fromkeys(str(lead_id) for lead_id in lead_ids))
    available = set(crm.field_names(LEADS))
    absent = [name for name in (score_field, reason_field) if name not in available]
    if absent:
        raise QualificationError(
            f"{LEADS} has no field {', '.join(absent)}: create it in Zoho CRM or point "
            "ZOHO_LEAD_SCORE_FIELD / ZOHO_LEAD_SCORE_REASON_FIELD at existing fields"
        )
    fields = [
        name for name in dict.fromkeys((*scorer.fields, score_field, reason_field)) if name in available
    ]

    updates: list[dict[str, Any]] = []
    unchanged: list[str] = []
    failures: list[LeadFailure] = []
    seen: set[str] = set()
    producers: Counter[str] = Counter()
    tokens = [0, 0]
    for leads in crm.iter_by_ids(LEADS, requested, fields):
        for lead in leads:
            lead_id = str(lead["id"])
            seen.add(lead_id)
            try:
                result = scorer.score(lead)
            except ScoringError as error:
                failures.append(LeadFailure(lead_id, "score", "SCORING_FAILED", str(error)))
                continue
            producers[result.producer] += 1
            tokens[0] += result.input_tokens
            tokens[1] += result.output_tokens
            if _stored_score(lead.get(score_field)) == result.score:
                unchanged.append(lead_id)
                continue
            updates.append({"id": lead_id, score_field: result.score, reason_field: result.reason})

    updated: list[str] = []
    if updates:
        outcome = crm.update_records(LEADS, updates, trigger=())
        updated = [str(updates[item.index]["id"]) for item in outcome.succeeded]
        failures.extend(
            LeadFailure(str(updates[item.index]["id"]), "write", item.code or item.status, item.message)
            for item in outcome.failed
        )
    return QualificationResult(
        requested=len(requested),
        updated=tuple(updated),
        unchanged=tuple(unchanged),
        missing=tuple(lead_id for lead_id in requested if lead_id not in seen),
        failures=tuple(failures),
        scored_by=dict(producers),
        input_tokens=tokens[0],
        output_tokens=tokens[1],
    )


def _stored_score(value: object) -> int | None:
    """Zoho renders integers as numbers, but a text field holding the score reads as a string."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        return None
