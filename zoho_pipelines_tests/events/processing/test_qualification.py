"""Lead qualification against the sandbox over HTTP: write-back, idempotence, partial failure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from zoho_pipelines.events.processing.qualification import QualificationError, qualify_leads
from zoho_pipelines.events.processing.scoring import LeadScore, RuleBasedLeadScorer, ScoringError
from zoho_pipelines.sandbox.server import RunningSandbox
from zoho_pipelines.zoho.client import ZohoClient

SCORE, REASON = "Lead_Score__c", "Qualification_Notes__c"


def lead_ids(sandbox: RunningSandbox, count: int) -> list[str]:
    assert sandbox.state is not None
    return [str(record_id) for record_id in sandbox.state.crm.ids("Leads")[:count]]


def truth(sandbox: RunningSandbox, lead_id: str) -> dict[str, Any]:
    assert sandbox.state is not None
    return sandbox.state.crm.record("Leads", lead_id)


def update_calls(sandbox: RunningSandbox) -> int:
    return sum(sandbox.stats()["calls"].get("PUT /crm/{version}/{module}", {}).values())


def test_new_leads_get_score_and_reason_written_back_in_batches_of_100(
    small_sandbox: RunningSandbox, zoho: ZohoClient
) -> None:
    ids = lead_ids(small_sandbox, 150)
    scorer = RuleBasedLeadScorer()
    expected = {lead_id: scorer.score(truth(small_sandbox, lead_id)) for lead_id in ids}

    result = qualify_leads(zoho.crm, scorer, ids, score_field=SCORE, reason_field=REASON)

    assert result.ok
    assert sorted(result.updated + result.unchanged) == sorted(ids)
    assert len(result.updated) > 100
    assert update_calls(small_sandbox) == 2
    for lead_id in ids:
        record = truth(small_sandbox, lead_id)
        assert record[SCORE] == expected[lead_id].score
    for lead_id in result.updated:
        assert truth(small_sandbox, lead_id)[REASON] == expected[lead_id].reason


def test_qualifying_again_writes_nothing(small_sandbox: RunningSandbox, zoho: ZohoClient) -> None:
    ids = lead_ids(small_sandbox, 40)
    qualify_leads(zoho.crm, RuleBasedLeadScorer(), ids, score_field=SCORE, reason_field=REASON)
    calls = update_calls(small_sandbox)
    modified = {lead_id: truth(small_sandbox, lead_id)["Modified_Time"] for lead_id in ids}

    again = qualify_leads(
        zoho.crm, RuleBasedLeadScorer(), ids + ids[:5], score_field=SCORE, reason_field=REASON
    )

    assert (again.updated, sorted(again.unchanged)) == ((), sorted(ids))
    assert update_calls(small_sandbox) == calls
    assert {lead_id: truth(small_sandbox, lead_id)["Modified_Time"] for lead_id in ids} == modified


class TooWordyFor:
    """A custom scorer whose reason for some leads exceeds what the CRM field holds, so Zoho
    refuses exactly those records of the batch."""

    fields = RuleBasedLeadScorer.fields

    def __init__(self, wordy: set[str], silent: set[str] = frozenset()) -> None:
        self._wordy, self._silent = wordy, silent

    def score(self, lead: Mapping[str, Any]) -> LeadScore:
        if lead["id"] in self._silent:
            raise ScoringError("the model gave no reason")
        base = RuleBasedLeadScorer().score(lead)
        if lead["id"] in self._wordy:  # a new score, so that the write is not skipped as unchanged
            return LeadScore(
                base.score if base.score != lead.get(SCORE) else (base.score + 1) % 101, "x" * 40_000
            )
        return base


def test_each_lead_succeeds_or_fails_on_its_own(small_sandbox: RunningSandbox, zoho: ZohoClient) -> None:
    ids = lead_ids(small_sandbox, 30)
    wordy, silent = {ids[3], ids[17]}, {ids[8]}
    before = {lead_id: truth(small_sandbox, lead_id)[SCORE] for lead_id in ids}

    result = qualify_leads(zoho.crm, TooWordyFor(wordy, silent), ids, score_field=SCORE, reason_field=REASON)

    assert not result.ok
    failed = {(failure.lead_id, failure.stage, failure.code) for failure in result.failures}
    assert failed == {(ids[3], "write", "INVALID_DATA"), (ids[17], "write", "INVALID_DATA")} | {
        (ids[8], "score", "SCORING_FAILED")
    }
    assert sorted(result.updated + result.unchanged) == sorted(set(ids) - wordy - silent)
    for lead_id in wordy | silent:
        assert truth(small_sandbox, lead_id)[SCORE] == before[lead_id]
    assert result.metadata()["failed_leads"] == 3


def test_leads_deleted_since_the_event_are_missing_not_failed(
    small_sandbox: RunningSandbox, zoho: ZohoClient
) -> None:
    ids = lead_ids(small_sandbox, 3)

    result = qualify_leads(
        zoho.crm, RuleBasedLeadScorer(), [*ids, "5725867999999999999"], score_field=SCORE, reason_field=REASON
    )

    assert result.ok
    assert result.missing == ("5725867999999999999",)


def test_an_org_without_the_score_field_is_told_what_to_configure(zoho: ZohoClient) -> None:
    with pytest.raises(QualificationError, match=r"no field AI_Score__c.*ZOHO_LEAD_SCORE_FIELD"):
        qualify_leads(zoho.crm, RuleBasedLeadScorer(), ["1"], score_field="AI_Score__c", reason_field=REASON)
