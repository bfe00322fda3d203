"""The event definitions as Dagster sees them: loadable beside the shared resources, a failing
qualification run that names its failed leads, and the channel schedule's skip."""

from __future__ import annotations

from collections.abc import Callable

import dagster as dg
import pytest

from zoho_pipelines.defs.events import events_definitions
from zoho_pipelines.defs.events.jobs import QUALIFY_OP
from zoho_pipelines.defs.events.schedules import watch_channels_schedule
from zoho_pipelines.defs.resources import default_resources
from zoho_pipelines.events.model import parse_notification
from zoho_pipelines.events.processing.batches import group_events
from zoho_pipelines.events.processing.scoring import RuleBasedLeadScorer
from zoho_pipelines.sandbox.server import RunningSandbox
from zoho_pipelines_tests.events.processing.dagster_support import EventHome


def test_the_event_definitions_merge_with_the_shared_resources() -> None:
    merged = dg.Definitions.merge(dg.Definitions(resources=default_resources()), events_definitions())

    dg.Definitions.validate_loadable(merged)
    assert {job.name for job in merged.resolve_all_job_defs()} >= {
        "event_refresh_job",
        "lead_qualification_job",
        "dead_letter_alert_job",
        "watch_channels_job",
    }


def test_a_qualification_run_with_refused_leads_fails_and_names_them(
    event_home: EventHome,
    instance: dg.DagsterInstance,
    sandbox_factory: Callable[..., RunningSandbox],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    running = sandbox_factory(records_per_module=100)
    assert running.state is not None
    for name, value in running.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ZOHO_LEAD_SCORE_REASON_FIELD", "Skype_ID")  # a text field of 50 characters
    created = running.state.crm.mutate("Leads", creates=8)["created"]
    payload = {"server_time": 1, "module": "Leads", "ids": created, "operation": "insert", "channel_id": "1"}
    (batch,) = group_events(parse_notification(payload, received_at=running.clock.now()), target="t")
    too_long = {
        lead_id
        for lead_id in created
        if len(RuleBasedLeadScorer().score(running.state.crm.record("Leads", lead_id)).reason) > 50
    }
    assert too_long

    job = event_home.definitions().resolve_job_def("lead_qualification_job")
    result = job.execute_in_process(
        run_config={"ops": {QUALIFY_OP: {"config": batch.to_config()}}},
        instance=instance,
        raise_on_error=False,
    )

    assert not result.success
    failure = next(event for event in result.all_events if event.is_step_failure)
    data = failure.step_failure_data.user_failure_data
    assert data.description == f"{len(too_long)} of 8 leads were not qualified"
    failures = data.metadata["failures"].value
    assert {item["lead_id"] for item in failures} == too_long
    assert {(item["stage"], item["code"]) for item in failures} == {("write", "INVALID_DATA")}
    assert data.metadata["updated_leads"].value + data.metadata["unchanged_leads"].value == 8 - len(too_long)


def test_the_channel_schedule_waits_for_a_configured_channel(
    event_home: EventHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    skipped = watch_channels_schedule(dg.build_schedule_context())
    monkeypatch.setenv("ZOHO_WATCH_CHANNEL_ID", "1000000068001")
    monkeypatch.setenv("ZOHO_WATCH_NOTIFY_URL", "https://ingress.example.com/zoho/events")
    requested = watch_channels_schedule(dg.build_schedule_context())

    assert isinstance(skipped, dg.SkipReason)
    assert "ZOHO_WATCH_CHANNEL_ID" in (skipped.skip_message or "")
    assert isinstance(requested, dg.RunRequest)
