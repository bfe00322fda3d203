"""PutEvents partial failures. moto never fails part of a batch, so at this one edge the real
boto3 events client is driven by botocore's Stubber, which also checks that each retry carries
exactly the entries that failed."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import ANY, Stubber

from zoho_pipelines.clock import ManualClock
from zoho_pipelines.events.ingress import IngressConfig, make_handler
from zoho_pipelines.events.model import ZohoEvent, parse_webhook
from zoho_pipelines.events.publisher import (
    MAX_CALL_BYTES,
    EventBridgePublisher,
    EventTooLarge,
    PublishError,
    batches,
    entry_size,
    eventbridge_entry,
)
from zoho_pipelines_tests.events.conftest import api_event

BUS = "zoho-integration-bus"
SECRET = "stubbed-secret-1234"


def make_events(count: int) -> list[ZohoEvent]:
    received = datetime(2025, 6, 15, tzinfo=UTC)
    return [
        parse_webhook({"module": "Leads", "operation": "update", "id": str(n)}, received_at=received)[0]
        for n in range(count)
    ]


@pytest.fixture
def events_client(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    return boto3.client("events", region_name="us-east-1", endpoint_url="http://127.0.0.1:9")


def ok(count: int) -> dict:
    return {"FailedEntryCount": 0, "Entries": [{"EventId": f"e{n}"} for n in range(count)]}


def expect_entries(stubber: Stubber, events: list[ZohoEvent], response: dict) -> None:
    entries = [{**eventbridge_entry(event, BUS), "Time": ANY} for event in events]
    stubber.add_response("put_events", response, {"Entries": entries})


def test_partial_failure_retries_only_the_failed_entries(events_client) -> None:
    events = make_events(3)
    delays: list[float] = []
    with Stubber(events_client) as stubber:
        expect_entries(
            stubber,
            events,
            {
                "FailedEntryCount": 2,
                "Entries": [
                    {"ErrorCode": "ThrottlingException", "ErrorMessage": "slow down"},
                    {"EventId": "e1"},
                    {"ErrorCode": "InternalFailure", "ErrorMessage": "oops"},
                ],
            },
        )
        expect_entries(
            stubber,
            [events[0], events[2]],
            {"FailedEntryCount": 1, "Entries": [{"EventId": "e0"}, {"ErrorCode": "InternalFailure"}]},
        )
        expect_entries(stubber, [events[2]], ok(1))
        EventBridgePublisher(events_client, BUS, sleep=delays.append).publish(events)
        stubber.assert_no_pending_responses()
    assert len(delays) == 2
    # Jittered below growing ceilings (base 0.05 s, doubling).
    assert 0 <= delays[0] <= 0.05
    assert 0 <= delays[1] <= 0.1


def test_persistent_failure_is_bounded_and_becomes_503(events_client) -> None:
    failing_events = make_events(1)
    failing = {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure"}]}
    delays: list[float] = []
    body = json.dumps({"module": "Leads", "operation": "update", "id": "0"})
    with Stubber(events_client) as stubber:
        for _ in range(4):
            expect_entries(stubber, failing_events, failing)
        handler = make_handler(
            IngressConfig(webhook_secrets=(SECRET,), event_bus_name=BUS),
            events_client=events_client,
            sleep=delays.append,
            clock=ManualClock(datetime(2025, 6, 15, tzinfo=UTC)),
        )
        answer = handler(api_event(body, {"x-zoho-secret": SECRET, "content-type": "application/json"}))
        stubber.assert_no_pending_responses()
    assert answer["statusCode"] == 503
    assert answer["headers"]["retry-after"] == "5"
    assert json.loads(answer["body"]) == {"message": "Service unavailable"}
    assert len(delays) == 3


def test_a_failing_call_is_retried_like_failed_entries(events_client) -> None:
    events = make_events(2)
    with Stubber(events_client) as stubber:
        stubber.add_client_error("put_events", service_error_code="InternalException", http_status_code=500)
        expect_entries(stubber, events, ok(2))
        EventBridgePublisher(events_client, BUS, sleep=lambda _: None).publish(events)
        stubber.assert_no_pending_responses()
    with Stubber(events_client) as stubber:
        for _ in range(2):
            stubber.add_client_error(
                "put_events", service_error_code="AccessDeniedException", http_status_code=400
            )
        with pytest.raises(PublishError, match="2 of 2 events"):
            EventBridgePublisher(events_client, BUS, max_attempts=2, sleep=lambda _: None).publish(events)


def test_batches_respect_both_the_count_and_the_size_limit() -> None:
    small = [eventbridge_entry(event, BUS) for event in make_events(25)]
    assert [len(batch) for batch in batches(small)] == [10, 10, 5]

    (big_event,) = parse_webhook(
        {"module": "Leads", "operation": "update", "id": "1", "note": "x" * 100_000},
        received_at=datetime(2025, 6, 15, tzinfo=UTC),
    )
    big = eventbridge_entry(big_event, BUS)
    grouped = list(batches([big, big, big, small[0]]))
    assert [len(batch) for batch in grouped] == [2, 2]
    assert all(sum(entry_size(entry) for entry in batch) <= MAX_CALL_BYTES for batch in grouped)

    (huge_event,) = parse_webhook(
        {"module": "Leads", "operation": "update", "id": "1", "note": "x" * MAX_CALL_BYTES},
        received_at=datetime(2025, 6, 15, tzinfo=UTC),
    )
    with pytest.raises(EventTooLarge):
        list(batches([eventbridge_entry(huge_event, BUS)]))


def test_a_body_that_grows_past_the_entry_limit_once_normalised_gets_413(events_client) -> None:
    # %01 is 3 bytes in a form body and 6 (\u0001) in the event's JSON: under the body limit,
    # over EventBridge's entry limit. Nothing may be sent.
    body = "module=Leads&operation=update&id=1&note=" + "%01" * 60_000
    with Stubber(events_client) as stubber:
        handler = make_handler(
            IngressConfig(webhook_secrets=(SECRET,), event_bus_name=BUS), events_client=events_client
        )
        answer = handler(
            api_event(body, {"x-zoho-secret": SECRET, "content-type": "application/x-www-form-urlencoded"})
        )
        stubber.assert_no_pending_responses()
    assert answer["statusCode"] == 413
