from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from zoho_pipelines.events.model import (
    MAX_FUTURE_SKEW,
    MAX_IDS_PER_EVENT,
    Channel,
    MalformedEventError,
    Operation,
    TimeSource,
    ZohoEvent,
    event_from_message,
    is_notification_payload,
    parse_notification,
    parse_webhook,
)
from zoho_pipelines.events.routing import envelope
from zoho_pipelines_tests.events.conftest import notification_payload

RECEIVED = datetime(2025, 6, 15, 16, 0, 0, tzinfo=UTC)  # after every Zoho time below


def test_notification_payload_is_normalised_without_its_token() -> None:
    payload = notification_payload("TOKEN_FOR_VERIFICATION_OF_1000000068001")
    assert is_notification_payload(payload)
    (event,) = parse_notification(payload, received_at=RECEIVED)
    assert event.app == "crm"
    assert event.source == "zoho.crm"
    assert event.module == "Leads"
    assert event.operation is Operation.UPDATE
    assert event.record_ids == ("5725767000000524157",)
    assert event.affected_fields == ("Email", "Last_Name")
    assert event.occurred_at == datetime(2025, 6, 15, 15, 6, 40, 123000, tzinfo=UTC)
    assert event.channel is Channel.NOTIFICATION_API
    assert event.channel_id == "1000000068001"
    assert event.params == {"org": "acme"}
    assert "TOKEN_FOR_VERIFICATION" not in event.to_json()


def test_large_deliveries_split_into_bounded_events_with_their_own_fields() -> None:
    ids = [str(1_000_000 + n) for n in range(2 * MAX_IDS_PER_EVENT + 5)]
    payload = notification_payload(
        "t", ids=ids, affected_fields=[{ids[0]: ["Stage"]}, {ids[-1]: ["Amount"]}, "Owner"]
    )
    events = parse_notification(payload, received_at=RECEIVED)
    assert [len(event.record_ids) for event in events] == [MAX_IDS_PER_EVENT, MAX_IDS_PER_EVENT, 5]
    assert [record_id for event in events for record_id in event.record_ids] == ids
    assert events[0].affected_fields == ("Owner", "Stage")
    assert events[1].affected_fields == ("Owner",)
    assert events[2].affected_fields == ("Amount", "Owner")
    assert len({event.event_id for event in events}) == 3


def test_redelivery_gives_the_same_event_id_and_a_different_change_does_not() -> None:
    payload = notification_payload("t")
    first = parse_notification(payload, received_at=RECEIVED)[0]
    again = parse_notification(dict(payload), received_at=RECEIVED + timedelta(minutes=5))[0]
    later = parse_notification({**payload, "server_time": 1_750_000_000_124}, received_at=RECEIVED)[0]
    other_token = parse_notification({**payload, "token": "another"}, received_at=RECEIVED)[0]
    assert first.event_id == again.event_id == other_token.event_id
    assert later.event_id != first.event_id
    assert len(first.event_id) == 64


def test_webhook_without_a_time_keeps_its_id_across_redeliveries() -> None:
    fields = {"module": "Deals", "operation": "edit", "id": "42", "stage": "Closed Won"}
    first = parse_webhook(fields, received_at=RECEIVED)[0]
    again = parse_webhook(fields, received_at=RECEIVED + timedelta(seconds=30))[0]
    assert first.event_id == again.event_id
    assert first.occurred_at == RECEIVED
    moved_on = parse_webhook({**fields, "stage": "Negotiation"}, received_at=RECEIVED)[0]
    assert moved_on.event_id != first.event_id


def test_a_bare_webhook_says_its_id_cannot_tell_changes_apart() -> None:
    fields = {"module": "Deals", "operation": "update", "id": "42"}
    (bare,) = parse_webhook(fields, received_at=RECEIVED)
    (timed,) = parse_webhook({**fields, "occurred_at": "2025-06-15T11:00:00Z"}, received_at=RECEIVED)
    assert (bare.time_source, bare.identifies_change) == (TimeSource.RECEIVED, False)
    assert (timed.time_source, timed.identifies_change) == (TimeSource.ZOHO, True)


def test_a_snapshot_modified_time_names_the_change() -> None:
    def change(at: str) -> ZohoEvent:
        record = {"id": "42", "Modified_Time": at}
        (event,) = parse_webhook(
            {"module": "Deals", "operation": "update", "id": "42", "record": record}, received_at=RECEIVED
        )
        return event

    first, second = change("2025-06-15T10:00:00+05:30"), change("2025-06-15T10:05:00+05:30")
    assert first.occurred_at == datetime(2025, 6, 15, 4, 30, tzinfo=UTC)
    assert first.time_source is TimeSource.ZOHO
    assert first.event_id != second.event_id
    assert change("15/06/2025 10:00 AM").time_source is TimeSource.RECEIVED  # a user-format time


@pytest.mark.parametrize(
    ("parse", "field"),
    [
        (
            lambda moment, received: parse_webhook(
                {"module": "Deals", "operation": "delete", "id": "7", "occurred_at": moment.isoformat()},
                received_at=received,
            ),
            "occurred_at",
        ),
        (
            lambda moment, received: parse_notification(
                notification_payload("t", operation="delete", server_time=int(moment.timestamp() * 1000)),
                received_at=received,
            ),
            "server_time",
        ),
    ],
)
def test_a_change_time_far_ahead_of_the_receive_time_is_clamped_to_it(parse, field: str) -> None:
    next_year = RECEIVED + timedelta(days=365)
    (clamped,) = parse(next_year, RECEIVED)
    (redelivered,) = parse(next_year, RECEIVED + timedelta(minutes=3))
    (skewed,) = parse(RECEIVED + MAX_FUTURE_SKEW, RECEIVED)

    assert (clamped.occurred_at, clamped.time_source) == (RECEIVED, TimeSource.CLAMPED), field
    assert clamped.identifies_change  # the raw time still names the change...
    assert redelivered.event_id == clamped.event_id  # ...so a later redelivery keeps its id
    assert (skewed.occurred_at, skewed.time_source) == (RECEIVED + MAX_FUTURE_SKEW, TimeSource.ZOHO)


def test_the_time_source_survives_the_queue_and_older_messages_are_judged_by_their_times() -> None:
    (bare,) = parse_webhook({"module": "Leads", "operation": "update", "id": "1"}, received_at=RECEIVED)
    (timed,) = parse_notification(notification_payload("t"), received_at=RECEIVED)
    assert ZohoEvent.from_json(bare.to_json()).time_source is TimeSource.RECEIVED
    older = {key: value for key, value in bare.to_dict().items() if key != "time_source"}
    assert ZohoEvent.from_dict(older).time_source is TimeSource.RECEIVED
    older = {key: value for key, value in timed.to_dict().items() if key != "time_source"}
    assert ZohoEvent.from_dict(older).time_source is TimeSource.ZOHO
    with pytest.raises(MalformedEventError, match="time_source"):
        ZohoEvent.from_dict({**timed.to_dict(), "time_source": "tomorrow"})


def test_form_style_webhook_fields_and_custom_params() -> None:
    fields = {
        "app": "CRM",
        "module": "Leads",
        "operation": "created",
        "ids": "11, 12,11",
        "affected_fields": "Email,Company",
        "occurred_at": "2025-06-15T17:30:00+05:30",
        "campaign": "spring",
    }
    (event,) = parse_webhook(fields, received_at=RECEIVED)
    assert event.app == "crm"
    assert event.operation is Operation.INSERT
    assert event.record_ids == ("11", "12")
    assert event.affected_fields == ("Company", "Email")
    assert event.occurred_at == datetime(2025, 6, 15, 12, 0, tzinfo=UTC)
    assert event.params == {"campaign": "spring"}
    assert event.channel is Channel.WORKFLOW_WEBHOOK


def test_stage_comes_from_the_record_snapshot_when_not_sent_apart() -> None:
    record = {"id": "42", "Deal_Name": "Big one", "Stage": "Closed Won", "Amount": 1200.5}
    (event,) = parse_webhook(
        {"module": "Deals", "operation": "update", "id": 42, "record": json.dumps(record)},
        received_at=RECEIVED,
    )
    assert event.stage == "Closed Won"
    assert event.record == record
    assert event.record_ids == ("42",)


def test_json_round_trip_and_queue_message_shapes() -> None:
    (event,) = parse_webhook(
        {
            "module": "Deals",
            "operation": "update",
            "id": "42",
            "occurred_at": 1_750_000_000_999,
            "record": {"Stage": "Closed Won", "Owner": {"id": "9", "name": "Ana Lúcia"}},
            "note": "ünïcode ✓",
        },
        received_at=RECEIVED,
    )
    assert ZohoEvent.from_json(event.to_json()) == event
    assert ZohoEvent.from_json(event.to_json().encode("utf-8")) == event
    wrapped = json.dumps(envelope(event, region="eu-west-1"))
    assert event_from_message(wrapped) == event
    assert event_from_message(event.to_json()) == event
    assert event.to_dict()["occurred_at"] == "2025-06-15T15:06:40.999Z"


def test_optional_fields_are_omitted_rather_than_null() -> None:
    (event,) = parse_webhook({"module": "Leads", "operation": "insert", "id": "1"}, received_at=RECEIVED)
    detail = event.to_dict()
    assert "stage" not in detail
    assert "record" not in detail
    assert "channel_id" not in detail


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"operation": "update", "id": "1"}, "missing field 'module'"),
        ({"module": "Leads", "id": "1"}, "missing field 'operation'"),
        ({"module": "Leads", "operation": "update"}, "missing field 'id'"),
        ({"module": "Leads", "operation": "merge-SECRETVALUE", "id": "1"}, "operation must be"),
        ({"module": "Le ads; DROP", "operation": "update", "id": "1"}, "module must be"),
        ({"module": "Leads", "operation": "update", "id": "1", "app": "desk"}, "app must be"),
        ({"module": "Leads", "operation": "update", "id": "1 2"}, "record ids"),
        ({"module": "Leads", "operation": "update", "id": True}, "record ids"),
        ({"module": "Deals", "operation": "update", "ids": "1,2", "stage": "Closed Won"}, "exactly one id"),
        ({"module": "Deals", "operation": "update", "id": "1", "record": "[1]"}, "JSON object"),
        ({"module": "Deals", "operation": "update", "id": "1", "record": "{"}, "JSON"),
        (
            {"module": "Deals", "operation": "update", "id": "1", "occurred_at": "2025-06-15 10:00"},
            "UTC offset",
        ),
        ({"module": "Deals", "operation": "update", "id": "1", "occurred_at": "yesterday"}, "ISO 8601"),
        ({"module": "Deals", "operation": "update", "id": "1", "occurred_at": 10**17}, "out of range"),
        ({"module": "Deals", "operation": "update", "id": "1", "affected_fields": 3}, "list"),
    ],
)
def test_malformed_webhooks_name_the_field_but_not_the_value(fields: dict, message: str) -> None:
    with pytest.raises(MalformedEventError, match=message) as caught:
        parse_webhook(fields, received_at=RECEIVED)
    assert "SECRETVALUE" not in str(caught.value)
    assert "DROP" not in str(caught.value)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"server_time": "1750000000123"}, "server_time must be epoch milliseconds"),
        ({"server_time": True}, "server_time must be epoch milliseconds"),
        ({"server_time": -1}, "out of range"),
        ({"ids": []}, "ids must be a non-empty list"),
        ({"ids": "123"}, "ids must be a non-empty list"),
        ({"operation": "create"}, "operation must be"),
        ({"channel_id": {"id": 1}}, "channel_id"),
        ({"affected_fields": {"1": ["x"]}}, "affected_fields must be a list"),
        ({"affected_fields": [7]}, "affected_fields items"),
        ({"query_params": ["a"]}, "query_params must be an object"),
        ({"token": 5}, "token must be a string"),
    ],
)
def test_malformed_notifications_are_refused(overrides: dict, message: str) -> None:
    with pytest.raises(MalformedEventError, match=message):
        parse_notification({**notification_payload("t"), **overrides}, received_at=RECEIVED)


@pytest.mark.parametrize(
    "text",
    ["[]", '"x"', "{", '{"a": NaN}', '{"a": "\\ud800"}', "\xff", '{"a":' * 5000 + "1" + "}" * 5000],
)
def test_queue_messages_that_are_not_events_are_refused(text: str) -> None:
    with pytest.raises(MalformedEventError):
        event_from_message(text)


def test_event_from_message_checks_every_field() -> None:
    (event,) = parse_webhook({"module": "Leads", "operation": "insert", "id": "1"}, received_at=RECEIVED)
    detail = event.to_dict()
    for key, bad in [("event_id", "abc"), ("schema_version", 2), ("channel", "email"), ("record_ids", [])]:
        with pytest.raises(MalformedEventError):
            ZohoEvent.from_dict({**detail, key: bad})


def test_affected_values_give_one_record_events_a_snapshot() -> None:
    values = [{"id": "7", "Stage": "Closed Won", "Amount": 10}]
    (event,) = parse_notification(
        notification_payload("t", module="Deals", ids=["7"], affected_values=values), received_at=RECEIVED
    )
    assert event.record == values[0]
    assert event.stage == "Closed Won"
    several = parse_notification(
        notification_payload("t", module="Deals", ids=["7", "8"], affected_values=values),
        received_at=RECEIVED,
    )
    assert [(item.record, item.stage) for item in several] == [(None, None)]


@pytest.mark.parametrize(
    "values", [{"7": {"Stage": "Won"}}, ["x"], [{"record_id": "7", "values": {}}], [{"id": True}], "text"]
)
def test_unrecognised_affected_values_are_skipped_not_refused(values: object) -> None:
    (event,) = parse_notification(
        notification_payload("t", ids=["7"], affected_values=values), received_at=RECEIVED
    )
    assert (event.record, event.stage) == (None, None)
