"""Grouping events into batches: few runs for many events, keys that survive redelivery."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from zoho_pipelines.events.model import Operation, ZohoEvent, parse_notification, parse_webhook
from zoho_pipelines.events.processing.batches import EventBatch, group_events

RECEIVED = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)  # after every event time below


def notification(module: str, operation: str, ids: list[str], at_ms: int) -> list[ZohoEvent]:
    payload = {
        "server_time": at_ms,
        "module": module,
        "ids": ids,
        "operation": operation,
        "channel_id": "42",
        "token": "t",
    }
    return parse_notification(payload, received_at=RECEIVED)


def stream(count: int) -> list[ZohoEvent]:
    modules, operations = ("Leads", "Deals", "Contacts"), ("insert", "update", "delete")
    return [
        event
        for number in range(count)
        for event in notification(
            modules[number % 3],
            operations[number // 3 % 3],
            [str(10**12 + number)],
            1_750_000_000_000 + number,
        )
    ]


def test_thousands_of_events_make_one_batch_per_module_and_operation() -> None:
    events = stream(3_000)

    batches = group_events(events, target="refresh")

    assert len(batches) == 9
    assert {(batch.module, batch.operation) for batch in batches} == {
        (module, Operation(operation))
        for module in ("Leads", "Deals", "Contacts")
        for operation in ("insert", "update", "delete")
    }
    assert sorted(event_id for batch in batches for event_id in batch.event_ids) == sorted(
        event.event_id for event in events
    )
    for batch in batches:
        assert all(event.module == batch.module for event in events if event.event_id in batch.event_ids)


def test_run_keys_depend_on_the_events_alone_not_on_their_order_or_repeats() -> None:
    events = stream(300)
    shuffled = random.Random(7).sample(events, len(events))

    first = group_events(events, target="refresh")
    again = group_events(shuffled + events[:50], target="refresh")  # redelivered, reordered, doubled

    assert [batch.run_key for batch in first] == [batch.run_key for batch in again]
    assert first == again
    missing_one = group_events(events[1:], target="refresh")
    assert {batch.run_key for batch in missing_one} != {batch.run_key for batch in first}
    assert all(batch.run_key.startswith("refresh:crm:") for batch in first)


def test_a_retry_of_the_same_events_gets_its_own_run_key() -> None:
    events = stream(30)
    first = group_events(events, target="refresh")
    retried = group_events(events, target="refresh", attempts={events[0].event_id: 2})

    assert [batch.attempt for batch in first] == [1] * len(first)
    changed = [(a.run_key, b.run_key) for a, b in zip(first, retried, strict=True) if a.run_key != b.run_key]
    assert len(changed) == 1  # only the batch holding the retried event
    assert changed[0][1].endswith(":2")
    assert EventBatch.from_config(retried[0].to_config()) == retried[0]


def test_a_bare_webhooks_later_change_is_a_new_run_key_and_keeps_the_later_time() -> None:
    fields = {"module": "Deals", "operation": "update", "id": "9"}
    (earlier,) = parse_webhook(fields, received_at=RECEIVED)
    (later,) = parse_webhook(fields, received_at=RECEIVED + timedelta(minutes=4))
    assert earlier.event_id == later.event_id  # a bare webhook cannot tell its changes apart...

    (alone,) = group_events([earlier], target="refresh")
    (both,) = group_events([later, earlier], target="refresh")

    assert alone.run_key != both.run_key  # ...but its run key can: the receive time takes part
    assert both.events[0].occurred_at == later.occurred_at


def test_large_groups_split_by_record_count_the_same_way_every_time() -> None:
    events = [
        event for number in range(25) for event in notification("Leads", "update", [str(number)], number)
    ]
    bulk = notification("Leads", "update", [str(1000 + n) for n in range(100)], 99)

    batches = group_events(events + bulk, target="refresh", max_records_per_batch=40)
    reversed_batches = group_events(list(reversed(events + bulk)), target="refresh", max_records_per_batch=40)

    assert [batch.run_key for batch in batches] == [batch.run_key for batch in reversed_batches]
    assert max(len(batch.record_ids) for batch in batches if len(batch.events) > 1) <= 40
    assert sum(len(batch.record_ids) for batch in batches) == 125
    assert any(len(batch.record_ids) == 100 for batch in batches)  # one event alone is never split


def test_a_batch_survives_the_round_trip_through_run_config() -> None:
    (batch,) = group_events(notification("Deals", "delete", ["5", "6"], 1_750_000_000_123), target="refresh")

    restored = EventBatch.from_config(batch.to_config())

    assert restored == batch
    assert restored.latest_occurrence() == {
        "5": datetime(2025, 6, 15, 15, 6, 40, 123000, tzinfo=UTC),
        "6": datetime(2025, 6, 15, 15, 6, 40, 123000, tzinfo=UTC),
    }


def test_the_newest_event_gives_a_record_its_deletion_time() -> None:
    older = notification("Deals", "delete", ["5"], 1_000)
    newer = notification("Deals", "delete", ["5", "6"], 9_000)

    (batch,) = group_events(newer + older, target="refresh")

    assert sorted(batch.record_ids) == ["5", "6"]
    assert batch.latest_occurrence()["5"] == datetime.fromtimestamp(9, UTC)


def test_a_batch_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        group_events([], target="refresh", max_records_per_batch=0)
