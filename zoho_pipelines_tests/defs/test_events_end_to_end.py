"""The whole event path on loopback, with real parts only.

The sandbox's Notification API channel (subscribed by the watch-channels job) POSTs to the local
ingress, which routes into the durable local queues; the sensors, ticked as the daemon ticks
them, turn the events into runs that refresh the DuckDB warehouse and write lead scores back to
the sandbox. Then the hard parts: a sensor crash between receive and delete, Zoho redelivering
every notification, and a poison message.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import dagster as dg
import httpx
import pytest

from zoho_pipelines.events.ingress import IngressConfig, make_handler
from zoho_pipelines.events.local_server import IngressServer
from zoho_pipelines.events.processing.scoring import RuleBasedLeadScorer
from zoho_pipelines.events.routing import Target
from zoho_pipelines.sandbox.server import RunningSandbox
from zoho_pipelines.warehouse import open_warehouse
from zoho_pipelines_tests.events.processing.dagster_support import EventHome, SensorDaemon

TOKEN = "e2e-channel-token-0007"
CHANNEL_ID = "1000000068001"


def warehouse_rows(home: EventHome, table: str) -> dict[str, dict[str, object]]:
    warehouse = open_warehouse(home.warehouse_url)
    try:
        columns = ["id", "_deleted", "_modified_time", "lead_score__c" if table == "leads" else "stage"]
        found = warehouse.query(f'SELECT {", ".join(columns)} FROM "zoho_crm"."{table}"')  # noqa: S608
    finally:
        warehouse.close()
    return {row[0]: dict(zip(columns[1:], row[1:], strict=True)) for row in found}


def zoho_time(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.mark.slow
def test_zoho_changes_become_warehouse_rows_and_lead_scores_exactly_once(
    event_home: EventHome,
    instance: dg.DagsterInstance,
    sandbox_factory: Callable[..., RunningSandbox],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    running = sandbox_factory(records_per_module=300)
    state = running.state
    assert state is not None
    for name, value in running.env().items():
        monkeypatch.setenv(name, value)
    accepted_bodies: list[str] = []  # what Zoho delivered, to deliver it all again later
    # Ingress and jobs run on the sandbox's clock: Zoho's times are never "in the future" to the
    # ingress, and the channel's expiry is asked for in the sandbox's own time.
    ingress_handler = make_handler(
        IngressConfig(channel_tokens=(TOKEN,)), publisher=event_home.router, clock=running.clock
    )

    def recording_handler(event: dict, context: object) -> dict:
        answer = ingress_handler(event, context)
        if answer["statusCode"] == 200:
            accepted_bodies.append(event["body"])
        return answer

    refresh_queue = event_home.router.queue(Target.REFRESH)
    lead_queue = event_home.router.queue(Target.LEAD_QUALIFICATION)
    with IngressServer(recording_handler) as ingress:
        monkeypatch.setenv("ZOHO_WATCH_CHANNEL_ID", CHANNEL_ID)
        monkeypatch.setenv("ZOHO_WATCH_NOTIFY_URL", f"{ingress.url}/zoho/events")
        monkeypatch.setenv("ZOHO_CHANNEL_TOKENS", f"{TOKEN},an-older-token-being-retired")
        defs = event_home.definitions(visibility_timeout_s=2.0, clock=running.clock)
        refresh = SensorDaemon(instance, defs, "refresh_events_sensor")
        qualify = SensorDaemon(instance, defs, "lead_qualification_sensor")

        # The schedule's job subscribes the channel; Zoho then notifies on every change.
        assert defs.resolve_job_def("watch_channels_job").execute_in_process(instance=instance).success
        leads = state.crm.mutate("Leads", creates=3, edits=25, deletes=4)
        deals = state.crm.mutate("Deals", edits=12, deletes=2)
        assert state.notifications.drain()

        refresh.evaluate()  # the sensor process dies after receiving: no runs, no cursor, no deletes
        refresh.tick_until(lambda: refresh_queue.depth() == 0)
        qualify.tick_until(lambda: lead_queue.depth() == 0)
        assert state.notifications.drain()  # the score write-back notified us of Leads updates
        refresh.tick_until(lambda: refresh_queue.depth() == 0)

        runs = instance.get_runs()
        assert all(run.status == dg.DagsterRunStatus.SUCCESS for run in runs)
        writes = sum(running.stats()["calls"].get("PUT /crm/{version}/{module}", {}).values())

        # Zoho redelivers every notification (as it does when an answer is lost).
        delivered = list(accepted_bodies)
        for body in delivered:
            response = httpx.post(
                f"{ingress.url}/zoho/events", content=body, headers={"content-type": "application/json"}
            )
            assert response.status_code == 200
        assert refresh_queue.depth() == len(delivered)
        assert lead_queue.depth() == 1
        refresh.tick_until(lambda: refresh_queue.depth() == 0)
        qualify.tick_until(lambda: lead_queue.depth() == 0)

    assert len(instance.get_runs()) == len(runs), "a redelivery started a run"
    assert sum(running.stats()["calls"].get("PUT /crm/{version}/{module}", {}).values()) == writes
    assert len(delivered) >= 5  # creates, edits, deletes of two modules, plus the write-back
    assert len(accepted_bodies) == 2 * len(delivered)

    lead_rows, deal_rows = warehouse_rows(event_home, "leads"), warehouse_rows(event_home, "deals")
    scorer = RuleBasedLeadScorer()
    for lead_id in leads["edited"] + leads["created"]:
        record = state.crm.record("Leads", lead_id)
        assert lead_rows[lead_id]["_deleted"] is False
        assert lead_rows[lead_id]["_modified_time"] == zoho_time(record["Modified_Time"])
        assert lead_rows[lead_id]["lead_score__c"] == record["Lead_Score__c"]
    for lead_id in leads["created"]:
        assert (
            state.crm.record("Leads", lead_id)["Lead_Score__c"]
            == scorer.score(state.crm.record("Leads", lead_id)).score
        )
    for deal_id in deals["edited"]:
        assert deal_rows[deal_id]["_modified_time"] == zoho_time(
            state.crm.record("Deals", deal_id)["Modified_Time"]
        )
    assert all(lead_rows[lead_id]["_deleted"] for lead_id in leads["deleted"])
    assert all(deal_rows[deal_id]["_deleted"] for deal_id in deals["deleted"])
    assert len(lead_rows) == 3 + 25 + 4
    assert len(deal_rows) == 12 + 2

    qualification_runs = instance.get_runs(filters=dg.RunsFilter(job_name="lead_qualification_job"))
    assert len(qualification_runs) == 1
    assert qualification_runs[0].tags["zoho/module"] == "leads"


def test_poison_on_the_queue_is_dead_lettered_and_alerted(
    event_home: EventHome, instance: dg.DagsterInstance
) -> None:
    queue = event_home.router.queue(Target.REFRESH)
    queue.send('{"detail-type": "Zoho Record Change", "detail": {"schema_version": 1}}')
    defs = event_home.definitions()
    alerts = SensorDaemon(instance, defs, "event_dead_letters_sensor")

    SensorDaemon(instance, defs, "refresh_events_sensor", execute=False).tick()
    alerts.tick()

    (letter,) = queue.dead_letters()
    assert letter.reason == "malformed event: missing field 'event_id'"
    (alert,) = alerts.results
    assert not alert.success
    assert alert.dagster_run.tags["zoho/event_target"] == "refresh-dead-letters"
