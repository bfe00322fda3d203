"""The same sensor on SQS (moto's server, queues provisioned from the routes, DLQ by redrive):
batches requested, messages deleted once the runs succeeded, the events of failed runs shown
again and moved to the dead-letter queue by SQS's own redrive after maxReceiveCount, poison moved
there with its reason. And a deployment with one queue on SQS but the other unset fails loudly
instead of idling."""

from __future__ import annotations

import json
from collections.abc import Iterator

import dagster as dg
import pytest

from zoho_pipelines.defs.events import EventQueuesResource, events_definitions
from zoho_pipelines.defs.resources import default_resources
from zoho_pipelines.events.model import parse_notification
from zoho_pipelines.events.routing import Target, envelope
from zoho_pipelines.settings import ConfigurationError
from zoho_pipelines_tests.events.conftest import RoutedBus
from zoho_pipelines_tests.events.processing.dagster_support import RECEIVED_AT, SensorDaemon

REDRIVE_MAX_RECEIVE_COUNT = 3  # what `routed_bus` provisions


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as test_instance:
        yield test_instance


def test_the_refresh_sensor_drains_sqs_and_dead_letters_poison(
    routed_bus: RoutedBus, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ZOHO_MODULES", raising=False)
    queue_url = routed_bus.queue_urls[Target.REFRESH]
    payload = {"server_time": 1_750_000_000_000, "module": "Deals", "operation": "update", "channel_id": "7"}
    events = [
        event
        for number in range(25)
        for event in parse_notification({**payload, "ids": [str(100 + number)]}, received_at=RECEIVED_AT)
    ]
    for event in events:
        routed_bus.sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(envelope(event)))
    routed_bus.sqs.send_message(QueueUrl=queue_url, MessageBody="{not json")
    queues = EventQueuesResource(
        refresh_queue_url=queue_url,
        lead_qualification_queue_url=routed_bus.queue_urls[Target.LEAD_QUALIFICATION],
    )
    daemon = SensorDaemon(
        instance,
        events_definitions({**default_resources(), "event_queues": queues}),
        "refresh_events_sensor",
        execute=False,
        finish_as=dg.DagsterRunStatus.SUCCESS,
    )

    first = daemon.tick()
    daemon.tick()

    (request,) = first.run_requests
    assert request.tags["zoho/module"] == "deals"
    assert len(request.run_config["ops"]["refresh_changed_records"]["config"]["events"]) == 25
    assert routed_bus.count(Target.REFRESH) == 0
    (dead,) = routed_bus.sqs.receive_message(
        QueueUrl=routed_bus.dlq_urls[Target.REFRESH], MessageAttributeNames=["All"]
    )["Messages"]
    assert dead["Body"] == "{not json"
    assert (
        dead["MessageAttributes"]["reason"]["StringValue"] == "malformed event: body is not valid UTF-8 JSON"
    )


def test_events_of_failing_runs_are_redriven_to_the_dlq_by_sqs_after_max_receive_count(
    routed_bus: RoutedBus, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ZOHO_MODULES", raising=False)
    queue_url = routed_bus.queue_urls[Target.REFRESH]
    payload = {"server_time": 1_750_000_000_000, "module": "Deals", "operation": "update", "channel_id": "7"}
    (event,) = parse_notification({**payload, "ids": ["300"]}, received_at=RECEIVED_AT)
    routed_bus.sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(envelope(event)))
    queues = EventQueuesResource(
        refresh_queue_url=queue_url,
        lead_qualification_queue_url=routed_bus.queue_urls[Target.LEAD_QUALIFICATION],
        retry_delay_s=0,
    )
    daemon = SensorDaemon(
        instance,
        events_definitions({**default_resources(), "event_queues": queues}),
        "refresh_events_sensor",
        execute=False,
        finish_as=dg.DagsterRunStatus.FAILURE,
    )

    daemon.tick_until(lambda: routed_bus.count(Target.REFRESH) == 0)

    attempts = sorted(run.tags["dagster/run_key"].rsplit(":", 1)[1] for run in daemon.runs())
    assert attempts == [str(n) for n in range(1, REDRIVE_MAX_RECEIVE_COUNT + 1)]
    assert all(run.status == dg.DagsterRunStatus.FAILURE for run in daemon.runs())
    (dead,) = routed_bus.sqs.receive_message(QueueUrl=routed_bus.dlq_urls[Target.REFRESH])["Messages"]
    assert json.loads(dead["Body"])["detail"]["event_id"] == event.event_id


def test_one_queue_on_sqs_and_the_other_unset_fails_the_tick_with_the_variable_to_set(
    routed_bus: RoutedBus, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVENTS_QUEUE_URL", routed_bus.queue_urls[Target.REFRESH])
    monkeypatch.delenv("LEAD_QUALIFICATION_QUEUE_URL", raising=False)
    defs = events_definitions({**default_resources(), "event_queues": EventQueuesResource()})

    with pytest.raises(ConfigurationError, match="set LEAD_QUALIFICATION_QUEUE_URL"):
        SensorDaemon(instance, defs, "lead_qualification_sensor", execute=False).tick()
