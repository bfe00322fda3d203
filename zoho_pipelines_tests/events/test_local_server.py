"""The local ingress over real HTTP on loopback, into real local queues (and the CLI command)."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest

from zoho_pipelines.events.ingress import ConfigurationError
from zoho_pipelines.events.local_queue import LocalQueue
from zoho_pipelines.events.local_server import IngressServer, api_gateway_event, build_handler, events_target
from zoho_pipelines.events.model import event_from_message
from zoho_pipelines.events.routing import Target
from zoho_pipelines_tests.events.conftest import notification_payload

SECRET = "local-secret-8d1f"
TOKEN = "local-channel-token"


def post(
    url: str, body: bytes, headers: dict[str, str], path: str = "/zoho/events"
) -> tuple[int, dict, dict]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        payload = response.read()
        return response.status, dict(response.getheaders()), json.loads(payload) if payload else {}
    finally:
        connection.close()


@pytest.fixture
def server(tmp_path: Path):
    environ = {"ZOHO_WEBHOOK_SECRETS": SECRET, "ZOHO_CHANNEL_TOKENS": TOKEN, "EVENTS_TARGET": "local"}
    handler = build_handler(environ, tmp_path / "queue")
    with IngressServer(handler) as running:
        yield running, tmp_path / "queue"


def test_webhooks_over_http_land_in_the_local_queues(server) -> None:
    running, queue_dir = server
    status, headers, answer = post(
        running.url,
        json.dumps({"module": "Deals", "operation": "update", "id": "77", "stage": "Closed Won"}).encode(),
        {"X-Zoho-Secret": SECRET, "Content-Type": "application/json"},
    )
    assert (status, answer["accepted"]) == (200, 1)
    assert headers["content-type"] == "application/json"
    form = urlencode({"module": "Leads", "operation": "create", "id": "78"}).encode()
    assert (
        post(
            running.url, form, {"X-Zoho-Secret": SECRET, "Content-Type": "application/x-www-form-urlencoded"}
        )[0]
        == 200
    )
    channel = json.dumps(notification_payload(TOKEN, module="Contacts")).encode()
    assert post(running.url, channel, {"Content-Type": "application/json"})[0] == 200

    depths = {}
    for name in ("refresh", "lead-qualification", "onboarding"):
        with LocalQueue(queue_dir / f"{name}.sqlite3") as queue:
            depths[name] = queue.depth()
            if name == "onboarding":
                (message,) = queue.receive()
                onboarding = event_from_message(message.body)
    assert depths == {"refresh": 3, "lead-qualification": 1, "onboarding": 1}
    assert (onboarding.module, onboarding.record_ids, onboarding.stage) == ("Deals", ("77",), "Closed Won")
    assert onboarding.event_id == answer["event_ids"][0]


def test_rejections_over_http(server) -> None:
    running, queue_dir = server
    body = json.dumps({"module": "Leads", "operation": "update", "id": "1"}).encode()
    assert post(running.url, body, {"X-Zoho-Secret": "guess", "Content-Type": "application/json"})[:3:2] == (
        401,
        {"message": "Unauthorized"},
    )
    assert post(running.url, b"{", {"X-Zoho-Secret": SECRET, "Content-Type": "application/json"})[0] == 400
    big = b"{" + b" " * (300 * 1024) + b"}"
    assert post(running.url, big, {"X-Zoho-Secret": SECRET, "Content-Type": "application/json"})[0] == 413
    # Binary bodies travel base64-encoded, as API Gateway sends them; still not a webhook.
    assert post(running.url, b"\x00\xff", {"X-Zoho-Secret": SECRET, "Content-Type": "image/png"})[0] == 400
    assert not (queue_dir / "refresh.sqlite3").exists()


def test_requests_become_api_gateway_v2_events() -> None:
    event = api_gateway_event(
        "POST",
        "/zoho/events?workflow=a&workflow=b&x=",
        [("Content-Type", "application/json"), ("X-Custom", "1"), ("x-custom", "2")],
        b'{"a": 1}',
        "127.0.0.1",
    )
    assert event["version"] == "2.0"
    assert event["rawPath"] == "/zoho/events"
    assert event["queryStringParameters"] == {"workflow": "a,b", "x": ""}
    assert event["headers"] == {"content-type": "application/json", "x-custom": "1,2"}
    assert (event["body"], event["isBase64Encoded"]) == ('{"a": 1}', False)
    assert event["requestContext"]["http"]["method"] == "POST"
    binary = api_gateway_event("POST", "/", [("Content-Type", "application/octet-stream")], b"\xff", "::1")
    assert (binary["body"], binary["isBase64Encoded"]) == ("/w==", True)
    assert "body" not in api_gateway_event("GET", "/", [], b"", "::1")


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "local"),
        ({"AWS_ENDPOINT_URL": "http://127.0.0.1:5000"}, "eventbridge"),
        ({"AWS_ENDPOINT_URL": "http://127.0.0.1:5000", "EVENTS_TARGET": "local"}, "local"),
        ({"EVENTS_TARGET": "EventBridge"}, "eventbridge"),
    ],
)
def test_events_target_rule(environ: dict, expected: str) -> None:
    assert events_target(environ) == expected


def test_unknown_events_target_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        events_target({"EVENTS_TARGET": "kafka"})


def test_cli_ingress_serves_until_interrupted(tmp_path: Path) -> None:
    environ = {
        key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "ZOHO_", "EVENTS_"))
    }
    environ.update(ZOHO_PIPELINES_HOME=str(tmp_path / "home"), ZOHO_WEBHOOK_SECRETS=SECRET)
    command = [sys.executable, "-c", "from zoho_pipelines.cli import app; app()", "ingress", "--port", "0"]
    process = subprocess.Popen(
        command,
        cwd=tmp_path,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        line = process.stdout.readline()
        match = re.search(r"listening on (http://\S+) -> local queues in (\S+)", line)
        assert match, line + process.stderr.read()
        assert Path(match.group(2)) == (tmp_path / "home" / "queue").resolve()
        body = json.dumps({"module": "Leads", "operation": "insert", "id": "5"}).encode()
        status, _, answer = post(
            match.group(1), body, {"X-Zoho-Secret": SECRET, "Content-Type": "application/json"}
        )
        assert (status, answer["accepted"]) == (200, 1)
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
    with LocalQueue(tmp_path / "home" / "queue" / "lead-qualification.sqlite3") as queue:
        assert queue.depth() == 1


def test_server_answers_many_requests_on_one_connection(server) -> None:
    running, _ = server
    parts = urlsplit(running.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    started = time.monotonic()
    for n in range(20):
        connection.request(
            "POST",
            "/",
            body=json.dumps({"module": "Leads", "operation": "update", "id": str(n)}),
            headers={"X-Zoho-Secret": SECRET, "Content-Type": "application/json"},
        )
        response = connection.getresponse()
        response.read()
        assert response.status == 200
    connection.close()
    assert time.monotonic() - started < 20


def test_an_unwritable_local_queue_answers_503(tmp_path: Path) -> None:
    blocker = tmp_path / "queue"
    blocker.write_text("a file where the queue directory should be")
    handler = build_handler({"ZOHO_WEBHOOK_SECRETS": SECRET, "EVENTS_TARGET": "local"}, blocker)
    with IngressServer(handler) as running:
        body = json.dumps({"module": "Leads", "operation": "update", "id": "1"}).encode()
        status, headers, answer = post(
            running.url, body, {"X-Zoho-Secret": SECRET, "Content-Type": "application/json"}
        )
    assert (status, answer) == (503, {"message": "Service unavailable"})
    assert headers["retry-after"] == "5"


def test_with_an_aws_endpoint_the_local_ingress_publishes_to_eventbridge(routed_bus) -> None:
    environ = {
        "ZOHO_WEBHOOK_SECRETS": SECRET,
        "AWS_ENDPOINT_URL": os.environ["AWS_ENDPOINT_URL"],
        "EVENT_BUS_NAME": routed_bus.bus_name,
    }
    with IngressServer(build_handler(environ, Path("unused-when-publishing-to-eventbridge"))) as running:
        body = json.dumps({"module": "Leads", "operation": "insert", "id": "31"}).encode()
        status, _, answer = post(
            running.url, body, {"X-Zoho-Secret": SECRET, "Content-Type": "application/json"}
        )
    assert status == 200
    (message,) = routed_bus.drain(Target.LEAD_QUALIFICATION, expected=1)
    assert message["detail"]["event_id"] == answer["event_ids"][0]
    assert not Path("unused-when-publishing-to-eventbridge").exists()
