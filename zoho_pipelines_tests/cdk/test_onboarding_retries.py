"""The synthesized definition's retriers and catchers, applied to the real task handlers.

moto runs the definition (test_onboarding_execution.py), but its Lambda tasks only echo their
input, so it cannot show what the retriers do with the handlers' real failures. Here each task
state's own Retry and Catch blocks, read from the template, drive the real handlers against the
sandbox: errors are matched by exact class name as Step Functions matches them (no inheritance;
States.ALL matches anything), MaxAttempts bounds the retries. The intervals are not waited (the
template's values are asserted in test_stacks.py). This proves the names the handlers raise are
the names the definition retries, and that a retried step does not repeat its Zoho writes.

AIEnrichment runs with a model configured (Bedrock's Converse stubbed at the edge), and the run
ends where a user finds the enrichment: the deal's fields and Note in Zoho and, once the Dagster
asset has loaded the lake, a row of `zoho_ai.enrichments`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from zoho_infra.onboarding import ENRICHMENT_STATE, STEPS

from zoho_pipelines.ai.enrichment import ENRICHMENT_TOOL, ClaudeEnricher
from zoho_pipelines.ai.store import LocalEnrichmentStore
from zoho_pipelines.clock import ManualClock
from zoho_pipelines.defs.ai import ai_enrichments
from zoho_pipelines.defs.events.resources import ClockResource
from zoho_pipelines.defs.resources import LakeResource, WarehouseResource
from zoho_pipelines.onboarding import handlers
from zoho_pipelines.onboarding.enrichment import note_title
from zoho_pipelines.onboarding.steps import OnboardingSteps
from zoho_pipelines.sandbox.server import RunningSandbox
from zoho_pipelines.settings import load_settings
from zoho_pipelines.warehouse import open_warehouse
from zoho_pipelines.zoho.client import ZohoClient
from zoho_pipelines.zoho.retry import RetryPolicy
from zoho_pipelines_tests.ai.bedrock_stub import MODEL_ID, StubbedBedrock, stubbed_bedrock, tool_use_response
from zoho_pipelines_tests.cdk.conftest import Synthesized
from zoho_pipelines_tests.onboarding.conftest import deals

ENRICHED_AT = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
ANSWER = {
    "industry": "Storage services",
    "size_band": "201-1000",
    "region": "EMEA",
    "onboarding_brief": "A mid-sized storage provider buying its first licences.",
    "risks": [],
    "next_steps": ["Schedule the kickoff call"],
}

HANDLERS: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    step.state: getattr(handlers, step.handler) for step in STEPS
}


@dataclass
class Caught(Exception):
    """The execution left the task through a Catch: where it went and what it carried."""

    next_state: str
    error: str


@pytest.fixture(scope="module")
def definition(synthesized: Synthesized) -> dict[str, Any]:
    (machine,) = (
        synthesized.templates["onboarding"].find_resources("AWS::StepFunctions::StateMachine").values()
    )
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    return json.loads("".join(part if isinstance(part, str) else "ARN" for part in parts))


@pytest.fixture
def sandbox(sandbox_factory: Callable[..., RunningSandbox]) -> RunningSandbox:
    return sandbox_factory(records_per_module=200)


@pytest.fixture
def bedrock() -> Iterator[StubbedBedrock]:
    with stubbed_bedrock() as stub:
        yield stub


@pytest.fixture
def lake_dir(tmp_path: Path) -> Path:
    return tmp_path / "lake"


@pytest.fixture
def client(sandbox: RunningSandbox, bedrock: StubbedBedrock, lake_dir: Path) -> Iterator[ZohoClient]:
    """The steps with a model configured (AIEnrichment asks Claude) and the test's own lake."""
    quick = RetryPolicy(max_attempts=2, initial_backoff_s=0.01, max_backoff_s=0.02)
    clock = ManualClock(ENRICHED_AT)
    with ZohoClient.from_settings(load_settings(**sandbox.env()), retry_policy=quick) as zoho:
        handlers.use_steps(
            OnboardingSteps(
                zoho,
                enricher=ClaudeEnricher(MODEL_ID, bedrock.client),
                enrichment_store=LocalEnrichmentStore(lake_dir),
                clock=clock,
            )
        )
        yield zoho
    handlers.use_steps(None)


def first_match(rules: list[dict[str, Any]], error: str) -> dict[str, Any] | None:
    for rule in rules:
        if error in rule["ErrorEquals"] or "States.ALL" in rule["ErrorEquals"]:
            return rule
    return None


def run_task(
    definition: dict[str, Any], name: str, state: dict[str, Any], recover: Callable[[], None]
) -> tuple[dict[str, Any], int]:
    """Run one task state as Step Functions would; (the state after it, retries used).

    `recover` runs between a failed attempt and its retry (Zoho coming back, say)."""
    spec = definition["States"][name]
    used: dict[int, int] = {}
    while True:
        try:
            result = HANDLERS[name](state)
        except Exception as error:  # every error a Lambda reports is matched by its class name
            rule = first_match(spec.get("Retry", []), type(error).__name__)
            if rule is not None and used.get(id(rule), 0) < rule["MaxAttempts"]:
                used[id(rule)] = used.get(id(rule), 0) + 1
                recover()
                continue
            catch = first_match(spec.get("Catch", []), type(error).__name__)
            if catch is None:
                raise  # uncaught: the execution fails with the error itself
            raise Caught(catch["Next"], type(error).__name__) from error
        retries = sum(used.values())
        path = spec.get("ResultPath", "$")
        if path == "$":
            return result, retries
        return {**state, path.removeprefix("$."): result}, retries


def writes(sandbox: RunningSandbox) -> dict[str, int]:
    counted: dict[str, int] = {}
    for endpoint, statuses in sandbox.stats()["calls"].items():
        method = endpoint.split(" ", 1)[0]
        if method in ("POST", "PUT"):
            successes = sum(count for status, count in statuses.items() if status.startswith("2"))
            counted[endpoint] = counted.get(endpoint, 0) + successes
    return counted


def test_every_task_recovers_from_a_zoho_outage_through_its_retrier_writing_once(
    definition: dict[str, Any],
    sandbox: RunningSandbox,
    client: ZohoClient,
    bedrock: StubbedBedrock,
    lake_dir: Path,
    tmp_path: Path,
) -> None:
    assert sandbox.state is not None
    crm = sandbox.state.crm
    deal_id = next(
        str(crm.record_id("Deals", int(i)))
        for i in crm.live_indices("Deals")
        if (deal := crm.render("Deals", [int(i)], ["Stage", "Amount"])[0])["Stage"] == "Closed Won"
        and deal["Amount"]
    )
    # A new CRM account, so that billing has to create the Books customer too.
    (account_id,) = crm.mutate("Accounts", creates=1)["created"]
    assert client.crm.update_records("Deals", [{"id": deal_id, "Account_Name": {"id": account_id}}]).all_ok
    baseline = writes(sandbox)

    def recover() -> None:
        sandbox.state.set_faults(fault_rate=0.0)

    # AIEnrichment's first attempt fails on Zoho before it asks the model: one answer is enough.
    bedrock.answer(tool_use_response(ENRICHMENT_TOOL.name, ANSWER, input_tokens=640, output_tokens=150))
    state: dict[str, Any] = {"module": "Deals", "operation": "update", "record_ids": [deal_id]}
    for step in STEPS:
        sandbox.state.set_faults(fault_rate=1.0)  # Zoho fails the first attempt of every step
        state, retries = run_task(definition, step.state, state, recover)
        assert retries == 1, step.state

    assert state["project"]["created"] is True
    assert (state["billing"]["customer_created"], state["billing"]["invoice_created"]) == (True, True)
    assert state["enrichment"]["written"] is True
    assert (state["enrichment"]["source"], state["enrichment"]["model_id"]) == ("claude", MODEL_ID)
    assert state["welcome"]["triggered"] is True
    after = writes(sandbox)
    new_writes = {k: v - baseline.get(k, 0) for k, v in after.items() if v != baseline.get(k, 0)}
    assert new_writes == {
        "POST /restapi/portal/{portal_id}/projects/": 1,
        "PUT /books/v3/{entity}": 1,  # the customer (upserted by its CRM account custom field)
        "POST /books/v3/{entity}": 1,  # the invoice
        "PUT /crm/{version}/{module}": 2,  # the enrichment's fields, then the welcome step
        "POST /crm/{version}/Notes": 1,  # the enrichment's note
    }

    # The whole flow again (an operator's redrive from the start): nothing is written twice.
    for step in STEPS[1:]:
        state, _ = run_task(definition, step.state, state, recover)
    assert writes(sandbox) == after
    assert len(bedrock.requests) == 1  # the redrive reused the stored answer

    # In Zoho: the fields and one note, titled with the enrichment's digest.
    digest = state["enrichment"]["input_digest"]
    deal = sandbox.state.crm.record("Deals", deal_id)
    assert (deal["AI_Industry__c"], deal["AI_Size_Band__c"], deal["AI_Region__c"]) == (
        "Storage services",
        "201-1000",
        "EMEA",
    )
    assert [note["Note_Title"] for note in sandbox.state.notes.of_record("Deals", deal_id)] == [
        note_title(digest)
    ]

    # In the warehouse, once the Dagster asset has loaded the lake (twice: a rerun changes nothing).
    warehouse_url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    resources = {
        "lake": LakeResource(url=lake_dir.as_uri()),
        "warehouse": WarehouseResource(url=warehouse_url),
        "event_clock": ClockResource.using(ManualClock(ENRICHED_AT)),
    }
    for _ in range(2):
        assert dg.materialize([ai_enrichments], resources=resources).success
    with open_warehouse(warehouse_url) as warehouse:
        rows = warehouse.query(
            "SELECT deal_id, source, model_id, prompt_version, input_digest, input_tokens, output_tokens, "
            "size_band FROM zoho_ai.enrichments"
        )
    assert rows == [(deal_id, "claude", MODEL_ID, "deal-enrichment/1", digest, 640, 150, "201-1000")]


def test_a_throttled_model_is_retried_by_the_enrichment_retrier(
    definition: dict[str, Any], sandbox: RunningSandbox, client: ZohoClient, bedrock: StubbedBedrock
) -> None:
    deal_id = str(deals(sandbox, closed_won=True)[0]["id"])
    state, _ = run_task(definition, "QualifyDealData", {"record_ids": [deal_id]}, lambda: None)
    bedrock.refuse("ThrottlingException", 429)
    bedrock.refuse("ServiceUnavailableException", 503)
    bedrock.answer(tool_use_response(ENRICHMENT_TOOL.name, ANSWER))

    state, retries = run_task(definition, ENRICHMENT_STATE, state, lambda: None)

    assert retries == 2
    assert state["enrichment"]["note_created"] is True
    assert len(bedrock.requests) == 3


def test_a_deal_that_does_not_qualify_is_reported_not_retried(
    definition: dict[str, Any], sandbox: RunningSandbox, client: ZohoClient
) -> None:
    assert sandbox.state is not None
    crm = sandbox.state.crm
    open_deal = next(
        str(crm.record_id("Deals", int(i)))
        for i in crm.live_indices("Deals")
        if crm.render("Deals", [int(i)], ["Stage"])[0]["Stage"] not in ("Closed Won",)
    )

    def recover() -> None:
        raise AssertionError("a failure a retry cannot fix was retried")

    with pytest.raises(Caught) as caught:
        run_task(definition, "QualifyDealData", {"record_ids": [open_deal]}, recover)
    assert (caught.value.next_state, caught.value.error) == ("ReportFailure", "DealNotQualified")
