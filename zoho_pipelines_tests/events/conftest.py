"""Real AWS parts for the event tests: moto's server on a loopback port, and the routes of
`routing.py` provisioned on it as EventBridge rules targeting SQS queues with dead-letter queues."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import boto3
import pytest
from moto.server import ThreadedMotoServer

from zoho_pipelines.events.routing import ROUTES, Target

REGION = "us-east-1"


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one access line per AWS call is noise
    # Port 0: moto binds a free port itself (a port probed here and bound later could be taken by
    # another xdist worker in between, and moto's start() would then wait forever).
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws_env(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point every boto3 client made in the test at moto, with dummy credentials."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "ZOHO_WEBHOOK_SECRETS_SECRET_ID", "ZOHO_CHANNEL_TOKENS"):
        monkeypatch.delenv(name, raising=False)
    return moto_endpoint


@dataclass
class RoutedBus:
    """A bus whose rules come from ROUTES, each target an SQS queue with a DLQ."""

    bus_name: str
    queue_urls: dict[Target, str]
    dlq_urls: dict[Target, str]
    sqs: object

    def drain(self, target: Target, expected: int, timeout_s: float = 5.0) -> list[dict]:
        """Receive (and delete) messages until `expected` arrived or the deadline passed."""
        bodies: list[dict] = []
        deadline = time.monotonic() + timeout_s
        while len(bodies) < expected and time.monotonic() < deadline:
            response = self.sqs.receive_message(
                QueueUrl=self.queue_urls[target], MaxNumberOfMessages=10, WaitTimeSeconds=1
            )
            for message in response.get("Messages", []):
                bodies.append(json.loads(message["Body"]))
                self.sqs.delete_message(
                    QueueUrl=self.queue_urls[target], ReceiptHandle=message["ReceiptHandle"]
                )
        return bodies

    def count(self, target: Target) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_urls[target],
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return sum(int(value) for value in attributes.values())


@pytest.fixture
def routed_bus(aws_env: str, monkeypatch: pytest.MonkeyPatch) -> RoutedBus:
    """A fresh bus per test (unique names), provisioned FROM the routing definition, and
    EVENT_BUS_NAME pointing at it. The onboarding target is a queue here: moto cannot deliver
    to Step Functions (its PutEvents fails with such a target)."""
    suffix = uuid.uuid4().hex[:8]
    events = boto3.client("events")
    sqs = boto3.client("sqs")
    bus_name = f"zoho-test-{suffix}"
    events.create_event_bus(Name=bus_name)
    queue_urls: dict[Target, str] = {}
    dlq_urls: dict[Target, str] = {}
    for route in ROUTES:
        dlq_url = sqs.create_queue(QueueName=f"{route.target.value}-dlq-{suffix}")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        queue_url = sqs.create_queue(
            QueueName=f"{route.target.value}-{suffix}",
            Attributes={
                "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"})
            },
        )["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        rule_name = f"zoho-{route.name}-{suffix}"
        events.put_rule(
            Name=rule_name, EventBusName=bus_name, EventPattern=route.pattern_json(), State="ENABLED"
        )
        events.put_targets(
            Rule=rule_name, EventBusName=bus_name, Targets=[{"Id": route.target.value, "Arn": queue_arn}]
        )
        queue_urls[route.target] = queue_url
        dlq_urls[route.target] = dlq_url
    monkeypatch.setenv("EVENT_BUS_NAME", bus_name)
    return RoutedBus(bus_name=bus_name, queue_urls=queue_urls, dlq_urls=dlq_urls, sqs=sqs)


def api_event(
    body: str | None,
    headers: dict[str, str] | None = None,
    *,
    base64_encoded: bool = False,
    query: dict[str, str] | None = None,
) -> dict:
    """An API Gateway HTTP API payload v2 event, as API Gateway builds it."""
    event: dict = {
        "version": "2.0",
        "routeKey": "POST /zoho/events",
        "rawPath": "/zoho/events",
        "rawQueryString": "",
        "headers": {name.lower(): value for name, value in (headers or {}).items()},
        "requestContext": {"requestId": uuid.uuid4().hex, "http": {"method": "POST", "path": "/zoho/events"}},
        "isBase64Encoded": base64_encoded,
    }
    if body is not None:
        event["body"] = body
    if query:
        event["queryStringParameters"] = query
    return event


def notification_payload(token: str, **overrides: object) -> dict:
    payload = {
        "server_time": 1_750_000_000_123,
        "query_params": {"org": "acme"},
        "module": "Leads",
        "resource_uri": "https://www.zohoapis.com/crm/v8/Leads",
        "ids": ["5725767000000524157"],
        "affected_fields": [{"5725767000000524157": ["Last_Name", "Email"]}],
        "operation": "update",
        "channel_id": "1000000068001",
        "token": token,
    }
    payload.update(overrides)
    return payload
