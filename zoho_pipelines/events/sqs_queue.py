"""The event queue on SQS: long polling, batched calls, and a dead-letter queue.

SQS itself moves a message to the dead-letter queue after the redrive policy's maxReceiveCount.
When a consumer gives up on a message earlier, `dead_letter` sends it to that same queue
explicitly (found from the redrive policy unless given) with the reason as a message attribute,
then deletes the original, so both paths end in one place an operator watches.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from zoho_pipelines.events.queues import MAX_REASON_CHARS, QueueMessage
from zoho_pipelines.redaction import redact

_MAX_BATCH = 10  # SQS's limit per ReceiveMessage, SendMessageBatch and DeleteMessageBatch
_MAX_BATCH_BYTES = 256 * 1024
_MAX_WAIT_S = 20  # SQS's long-polling ceiling
_MAX_VISIBILITY_S = 43_200  # SQS's visibility ceiling (12 hours)


class QueueError(Exception):
    """SQS refused part of a request."""


class SqsQueue:
    def __init__(
        self, queue_url: str, *, client: Any = None, dead_letter_queue_url: str | None = None
    ) -> None:
        if client is None:
            import boto3

            client = boto3.client("sqs")
        self.queue_url = queue_url
        self._client = client
        self._dead_letter_queue_url = dead_letter_queue_url

    def close(self) -> None:
        self._client.close()

    def send(self, body: str, attributes: Mapping[str, str] | None = None) -> str:
        response = self._client.send_message(
            QueueUrl=self.queue_url, MessageBody=body, MessageAttributes=_string_attributes(attributes or {})
        )
        return response["MessageId"]

    def send_batch(self, bodies: Sequence[str]) -> list[str]:
        ids: list[str] = []
        for chunk in _chunks_within_limits(bodies):
            response = self._client.send_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(index), "MessageBody": body} for index, body in enumerate(chunk)],
            )
            if response.get("Failed"):
                codes = sorted({failure.get("Code", "?") for failure in response["Failed"]})
                raise QueueError(f"{len(response['Failed'])} of {len(chunk)} messages not sent: {codes}")
            by_index = {int(entry["Id"]): entry["MessageId"] for entry in response["Successful"]}
            ids.extend(by_index[index] for index in range(len(chunk)))
        return ids

    def receive(
        self, max_messages: int = 10, visibility_timeout: float = 30.0, wait: float = 0.0
    ) -> list[QueueMessage]:
        """Only the first call long-polls; later calls (for more than 10) take what is there."""
        messages: list[QueueMessage] = []
        wait_seconds = min(_MAX_WAIT_S, max(0, math.ceil(wait)))
        while len(messages) < max_messages:
            wanted = min(_MAX_BATCH, max_messages - len(messages))
            response = self._client.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=wanted,
                VisibilityTimeout=max(0, math.ceil(visibility_timeout)),
                WaitTimeSeconds=wait_seconds if not messages else 0,
                MessageSystemAttributeNames=["ApproximateReceiveCount"],
                MessageAttributeNames=["All"],
            )
            batch = response.get("Messages", [])
            messages.extend(_message(item) for item in batch)
            if len(batch) < wanted:
                break
        return messages

    def delete(self, receipt: str) -> None:
        self._client.delete_message(QueueUrl=self.queue_url, ReceiptHandle=receipt)

    def change_visibility(self, receipts: Sequence[str], timeout: float) -> int:
        """ChangeMessageVisibilityBatch, 10 a call. A receipt SQS refuses (the message was
        received again since, or it passed its 12-hour limit) is left alone: the message is, or
        will be, visible to the next receive anyway."""
        if timeout < 0:
            raise ValueError("timeout must not be negative")
        seconds = min(_MAX_VISIBILITY_S, math.ceil(timeout))
        changed = 0
        for start in range(0, len(receipts), _MAX_BATCH):
            chunk = receipts[start : start + _MAX_BATCH]
            response = self._client.change_message_visibility_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": receipt, "VisibilityTimeout": seconds}
                    for index, receipt in enumerate(chunk)
                ],
            )
            changed += len(response.get("Successful", []))
        return changed

    def dead_letter(self, message: QueueMessage, reason: str) -> None:
        attributes = dict(message.attributes)
        attributes.update(
            reason=redact(reason)[:MAX_REASON_CHARS] or "unspecified",
            source_queue=self.queue_url,
            receive_count=str(message.receive_count),
        )
        self._client.send_message(
            QueueUrl=self.dead_letter_queue_url,
            MessageBody=message.body,
            MessageAttributes=_string_attributes(attributes),
        )
        self.delete(message.receipt)

    def depth(self) -> int:
        return self._count(self.queue_url)

    def dlq_depth(self) -> int:
        return self._count(self.dead_letter_queue_url)

    @property
    def dead_letter_queue_url(self) -> str:
        """From the queue's redrive policy, looked up once."""
        if self._dead_letter_queue_url is None:
            attributes = self._client.get_queue_attributes(
                QueueUrl=self.queue_url, AttributeNames=["RedrivePolicy"]
            ).get("Attributes", {})
            if "RedrivePolicy" not in attributes:
                raise QueueError("the queue has no redrive policy: pass dead_letter_queue_url")
            arn = json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"]
            _, _, _, _, account, name = arn.split(":", 5)
            self._dead_letter_queue_url = self._client.get_queue_url(
                QueueName=name, QueueOwnerAWSAccountId=account
            )["QueueUrl"]
        return self._dead_letter_queue_url

    def _count(self, queue_url: str) -> int:
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        attributes = self._client.get_queue_attributes(QueueUrl=queue_url, AttributeNames=names)["Attributes"]
        return sum(int(attributes.get(name, 0)) for name in names)


def _message(item: Mapping[str, Any]) -> QueueMessage:
    return QueueMessage(
        message_id=item["MessageId"],
        body=item["Body"],
        receipt=item["ReceiptHandle"],
        receive_count=int(item.get("Attributes", {}).get("ApproximateReceiveCount", 1)),
        attributes={
            name: value["StringValue"]
            for name, value in item.get("MessageAttributes", {}).items()
            if "StringValue" in value
        },
    )


def _string_attributes(attributes: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """SQS refuses empty attribute values, so those are left out."""
    return {name: {"DataType": "String", "StringValue": value} for name, value in attributes.items() if value}


def _chunks_within_limits(bodies: Sequence[str]) -> list[list[str]]:
    chunks: list[list[str]] = []
    current: list[str] = []
    current_bytes = 0
    for body in bodies:
        size = len(body.encode("utf-8"))
        if current and (len(current) == _MAX_BATCH or current_bytes + size > _MAX_BATCH_BYTES):
            chunks.append(current)
            current, current_bytes = [], 0
        current.append(body)
        current_bytes += size
    if current:
        chunks.append(current)
    return chunks
