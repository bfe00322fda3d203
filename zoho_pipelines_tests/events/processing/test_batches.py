"""Grouping events into batches: few runs for many events, keys that survive redelivery."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from zoho_pipelines.events.model import Operation, ZohoEvent, parse_notification
from zoho_pipelines.events.processing.batches import EventBatch, group_events


def notification(module: str, operation: str, ids: list[str], at_ms: int) -> list[ZohoEvent]:
    payload = {
        "server_time": at_ms,
        "module": module,
        "ids": ids,
        "operation": operation,
        "channel_id": "42",
        "token": "t",
    }
    return parse_notification(payload, received_at=datetime.now(UTC))


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
