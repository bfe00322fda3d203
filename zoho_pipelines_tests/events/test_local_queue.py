"""The local durable queue: real SQLite files, real processes and threads; a settable clock
stands in for waiting out visibility timeouts where the test is about the rule, not the wait."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from zoho_pipelines.clock import ManualClock
from zoho_pipelines.events.local_queue import LocalQueue
from zoho_pipelines.events.queues import EventQueue, open_event_queue


def seconds(value: float) -> timedelta:
    return timedelta(seconds=value)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 11, 27, 12, 0, tzinfo=UTC))


@pytest.fixture
def queue(tmp_path: Path, clock: ManualClock):
    with LocalQueue(tmp_path / "refresh.sqlite3", max_receive_count=3, clock=clock) as opened:
        yield opened


def test_it_is_an_event_queue(tmp_path: Path) -> None:
    opened = open_event_queue(None, local_dir=tmp_path, name="refresh")
    assert isinstance(opened, LocalQueue)
    assert isinstance(opened, EventQueue)
    assert opened.path == tmp_path / "refresh.sqlite3"
    opened.close()


def test_messages_come_in_order_with_attributes(queue: LocalQueue) -> None:
    first = queue.send("one", {"route": "record-changes"})
    rest = queue.send_batch(["two", "three"])
    received = queue.receive(max_messages=10)
    assert [message.body for message in received] == ["one", "two", "three"]
    assert [message.message_id for message in received] == [first, *rest]
    assert received[0].attributes == {"route": "record-changes"}
    assert all(message.receive_count == 1 for message in received)


def test_a_received_message_is_hidden_until_its_visibility_timeout(
    queue: LocalQueue, clock: ManualClock
) -> None:
    queue.send("event")
    (held,) = queue.receive(visibility_timeout=30)
    assert queue.receive() == []
    assert queue.depth() == 1  # in flight still counts
    clock.advance(seconds(29.9))
    assert queue.receive() == []
    clock.advance(seconds(0.2))
    (again,) = queue.receive(visibility_timeout=30)
    assert again.message_id == held.message_id
    assert again.receive_count == 2
    assert again.receipt != held.receipt


def test_delete_acknowledges_and_a_stale_receipt_deletes_nothing(
    queue: LocalQueue, clock: ManualClock
) -> None:
    queue.send("event")
    (first,) = queue.receive(visibility_timeout=10)
    clock.advance(seconds(11))
    (second,) = queue.receive(visibility_timeout=10)
    queue.delete(first.receipt)  # the slow consumer's late ack must not drop the new holder's copy
    assert queue.depth() == 1
    queue.delete(second.receipt)
    assert queue.depth() == 0
    clock.advance(seconds(100))
    assert queue.receive() == []


def test_max_receive_count_moves_a_message_to_the_dead_letters(queue: LocalQueue, clock: ManualClock) -> None:
    queue.send("poison")
    queue.send("fine")
    for attempt in range(1, 4):
        received = queue.receive(max_messages=1, visibility_timeout=5)
        assert [(message.body, message.receive_count) for message in received] == [("poison", attempt)]
        clock.advance(seconds(6))
    # Fourth receive: the poison message is buried and the next one is served in the same call.
    (served,) = queue.receive(max_messages=1)
    assert served.body == "fine"
    assert (queue.depth(), queue.dlq_depth()) == (1, 1)
    (dead,) = queue.dead_letters()
    assert dead.body == "poison"
    assert dead.receive_count == 3
    assert "received 3 times" in dead.reason


def test_visibility_can_be_extended_or_ended_by_the_current_holder_only(
    queue: LocalQueue, clock: ManualClock
) -> None:
    queue.send("slow work")
    queue.send("failed work")
    slow, failed = queue.receive(max_messages=2, visibility_timeout=10)
    clock.advance(seconds(8))
    assert queue.change_visibility([slow.receipt], 10) == 1  # still working: hide it 10 s more
    assert queue.change_visibility([failed.receipt], 0) == 1  # failed: show it again now
    (again,) = queue.receive(max_messages=5, visibility_timeout=60)
    assert (again.message_id, again.receive_count) == (failed.message_id, 2)
    clock.advance(seconds(9))  # 17 s after the first receive: past its first timeout
    assert queue.receive(max_messages=5) == []
    assert queue.change_visibility([failed.receipt], 0) == 0  # a stale receipt changes nothing
    clock.advance(seconds(2))
    assert [message.message_id for message in queue.receive(max_messages=5)] == [slow.message_id]


def test_messages_shown_again_reach_the_dead_letters_after_max_receive_count(queue: LocalQueue) -> None:
    queue.send("always fails")
    for _ in range(3):
        (message,) = queue.receive(visibility_timeout=300)
        queue.change_visibility([message.receipt], 0)  # each run failed: no waiting for a timeout
    assert queue.receive() == []
    (dead,) = queue.dead_letters()
    assert (dead.body, dead.receive_count) == ("always fails", 3)


def test_consumer_dead_letters_with_a_redacted_reason(queue: LocalQueue) -> None:
    queue.send("bad event", {"route": "lead-inserted"})
    (message,) = queue.receive()
    queue.dead_letter(message, "Zoho said 400 for refresh_token=1000.abcdef0123 while updating")
    assert (queue.depth(), queue.dlq_depth()) == (0, 1)
    (dead,) = queue.dead_letters()
    assert dead.message_id == message.message_id
    assert dead.attributes == {"route": "lead-inserted"}
    assert "1000.abcdef0123" not in dead.reason
    assert dead.reason.startswith("Zoho said 400 for refresh_token=***")


def test_sent_and_in_flight_messages_survive_reopening(tmp_path: Path, clock: ManualClock) -> None:
    path = tmp_path / "q.sqlite3"
    with LocalQueue(path, clock=clock) as first:
        first.send_batch(["a", "b"])
        (held,) = first.receive(max_messages=1, visibility_timeout=60)
    with LocalQueue(path, clock=clock) as reopened:
        assert reopened.depth() == 2
        (other,) = reopened.receive(max_messages=5)
        assert other.body == "b"
        reopened.delete(other.receipt)
        clock.advance(seconds(61))
        (back,) = reopened.receive(max_messages=5)
        assert (back.message_id, back.receive_count) == (held.message_id, 2)


def test_visibility_timeout_expires_in_real_time(tmp_path: Path) -> None:
    with LocalQueue(tmp_path / "q.sqlite3") as real:
        real.send("event")
        (held,) = real.receive(visibility_timeout=0.2)
        assert real.receive() == []
        again = real.receive(visibility_timeout=5, wait=5)  # long poll until it reappears
        assert [message.message_id for message in again] == [held.message_id]


def test_long_poll_wakes_for_a_send_from_another_process(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite3"
    with LocalQueue(path) as consumer:
        assert consumer.receive(wait=0) == []
        sender = subprocess.Popen(
            [
                sys.executable,
                "-c",
                textwrap.dedent(
                    f"""
                    from pathlib import Path
                    from zoho_pipelines.events.local_queue import LocalQueue
                    with LocalQueue(Path({str(path)!r})) as producer:
                        producer.send("from another process")
                    """
                ),
            ]
        )
        started = time.monotonic()
        received = consumer.receive(wait=20)
        assert sender.wait(timeout=30) == 0
        assert [message.body for message in received] == ["from another process"]
        assert time.monotonic() - started < 20


def test_concurrent_consumers_never_share_a_message(tmp_path: Path) -> None:
    path = tmp_path / "busy.sqlite3"
    with LocalQueue(path, synchronous="NORMAL") as producer:
        producer.send_batch([f"m{n}" for n in range(200)])
    seen: list[list[str]] = [[], [], [], []]

    def consume(index: int) -> None:
        with LocalQueue(path) as consumer:  # one connection per consumer, as separate processes have
            while batch := consumer.receive(max_messages=7, visibility_timeout=60):
                seen[index].extend(message.body for message in batch)
                for message in batch:
                    consumer.delete(message.receipt)

    threads = [threading.Thread(target=consume, args=(index,)) for index in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    everything = [body for bodies in seen for body in bodies]
    assert sorted(everything) == sorted(f"m{n}" for n in range(200))
    with LocalQueue(path) as check:
        assert check.depth() == 0


def test_invalid_settings_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="max_receive_count"):
        LocalQueue(tmp_path / "a.sqlite3", max_receive_count=0)
    with pytest.raises(ValueError, match="synchronous"):
        LocalQueue(tmp_path / "b.sqlite3", synchronous="FULL; DROP TABLE messages")
    with LocalQueue(tmp_path / "c.sqlite3") as opened, pytest.raises(ValueError, match="max_messages"):
        opened.receive(max_messages=0)
