"""SqsQueue against moto's SQS server: batches, long polling, visibility, redrive and the
explicit dead-letter path."""

from __future__ import annotations

import json
import time
import uuid

import boto3
import pytest

from zoho_pipelines.events.queues import EventQueue, QueueMessage, open_event_queue
from zoho_pipelines.events.sqs_queue import QueueError, SqsQueue


@pytest.fixture
def queue_pair(aws_env: str) -> tuple[SqsQueue, str]:
    sqs = boto3.client("sqs")
    suffix = uuid.uuid4().hex[:8]
    dlq_url = sqs.create_queue(QueueName=f"events-dlq-{suffix}")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    url = sqs.create_queue(
        QueueName=f"events-{suffix}",
        Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})},
    )["QueueUrl"]
    return SqsQueue(url), dlq_url


def test_open_event_queue_picks_sqs_for_queue_urls(queue_pair: tuple[SqsQueue, str], tmp_path) -> None:
    queue, _ = queue_pair
    opened = open_event_queue(queue.queue_url, local_dir=tmp_path)
    assert isinstance(opened, SqsQueue)
    assert isinstance(opened, EventQueue)
    assert not any(tmp_path.iterdir())


def test_batches_of_more_than_ten_go_and_come_back(queue_pair: tuple[SqsQueue, str]) -> None:
    queue, _ = queue_pair
    bodies = [json.dumps({"n": n}) for n in range(25)]
    ids = queue.send_batch(bodies)
    assert len(set(ids)) == 25
    received: list[QueueMessage] = []
    deadline = time.monotonic() + 10
    while len(received) < 25 and time.monotonic() < deadline:
        received.extend(queue.receive(max_messages=25, visibility_timeout=30, wait=1))
    assert sorted(message.body for message in received) == sorted(bodies)
    assert {message.message_id for message in received} == set(ids)
    assert queue.depth() == 25  # all in flight
    for message in received:
        queue.delete(message.receipt)
    assert queue.depth() == 0


def test_long_poll_returns_empty_when_nothing_arrives(queue_pair: tuple[SqsQueue, str]) -> None:
    queue, _ = queue_pair
    started = time.monotonic()
    assert queue.receive(wait=1) == []
    assert time.monotonic() - started >= 0.9


def test_unacknowledged_messages_come_back_then_redrive_to_the_dlq(queue_pair: tuple[SqsQueue, str]) -> None:
    queue, _ = queue_pair
    queue.send("poison", {"route": "record-changes"})
    counts = []
    deadline = time.monotonic() + 15
    while queue.dlq_depth() == 0 and time.monotonic() < deadline:
        for message in queue.receive(visibility_timeout=0, wait=1):
            counts.append(message.receive_count)
            assert message.attributes == {"route": "record-changes"}
    assert counts == [1, 2]
    assert (queue.depth(), queue.dlq_depth()) == (0, 1)


def test_messages_shown_again_redrive_to_the_dlq_after_max_receive_count(
    queue_pair: tuple[SqsQueue, str],
) -> None:
    queue, _ = queue_pair
    queue.send("always fails")
    counts = []
    for _ in range(2):
        (message,) = queue.receive(visibility_timeout=300, wait=1)
        counts.append(message.receive_count)
        assert queue.change_visibility([message.receipt], 0) == 1  # its run failed: show it again now
    assert queue.receive(wait=1) == []  # the third receive finds it over maxReceiveCount (2)
    assert counts == [1, 2]
    assert (queue.depth(), queue.dlq_depth()) == (0, 1)


def test_a_held_message_stays_hidden_while_its_visibility_is_extended(
    queue_pair: tuple[SqsQueue, str],
) -> None:
    queue, _ = queue_pair
    queue.send("slow work")
    (message,) = queue.receive(visibility_timeout=1, wait=1)
    assert queue.change_visibility([message.receipt], 300) == 1
    started = time.monotonic()
    assert queue.receive(wait=2) == []  # long past its first timeout of 1 s
    assert time.monotonic() - started >= 1.5
    queue.delete(message.receipt)
    assert queue.depth() == 0


def test_dead_letter_sends_to_the_redrive_dlq_with_the_reason(queue_pair: tuple[SqsQueue, str]) -> None:
    queue, dlq_url = queue_pair
    queue.send("unprocessable", {"route": "lead-inserted"})
    (message,) = queue.receive(wait=1)
    queue.dead_letter(message, "INVALID_DATA from Zoho; access_token=1000.secretvalue")
    assert queue.dead_letter_queue_url == dlq_url
    assert (queue.depth(), queue.dlq_depth()) == (0, 1)
    (dead,) = SqsQueue(dlq_url).receive(wait=1)
    assert dead.body == "unprocessable"
    assert dead.attributes["route"] == "lead-inserted"
    assert dead.attributes["source_queue"] == queue.queue_url
    assert dead.attributes["receive_count"] == "1"
    assert dead.attributes["reason"] == "INVALID_DATA from Zoho; access_token=***"


def test_a_queue_without_redrive_policy_needs_an_explicit_dlq(aws_env: str) -> None:
    url = boto3.client("sqs").create_queue(QueueName=f"plain-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    with pytest.raises(QueueError, match="redrive policy"):
        SqsQueue(url).dlq_depth()
