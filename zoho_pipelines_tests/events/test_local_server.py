"""The local ingress over real HTTP on loopback, into real local queues (and the CLI command)."""

from __future__ import annotations

import http.client
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest

from zoho_pipelines.events.ingress import ConfigurationError
from zoho_pipelines.events.local_queue import LocalQueue
from zoho_pipelines.events.local_server import IngressServer, api_gateway_event, build_handler, events_target
from zoho_pipelines.events.model import event_from_message
from zoho_pipelines.events.routing import Target
from zoho_pipelines.settings import Settings, load_settings
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


def local_settings(home: Path, **values: Any) -> Settings:
    """The settings of an ingress publishing to the local queues under `home`."""
    return load_settings(ZOHO_PIPELINES_HOME=str(home), EVENTS_TARGET="local", **values)


@pytest.fixture
def server(tmp_path: Path):
    settings = local_settings(tmp_path, ZOHO_WEBHOOK_SECRETS=SECRET, ZOHO_CHANNEL_TOKENS=TOKEN)
    with IngressServer(build_handler(settings)) as running:
        yield running, settings.local_queue_dir


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
    now = datetime(2026, 11, 27, 12, 0, 1, 250_000, tzinfo=UTC)
    event = api_gateway_event(
        "POST",
        "/zoho/events?workflow=a&workflow=b&x=",
        [("Content-Type", "application/json"), ("X-Custom", "1"), ("x-custom", "2")],
        b'{"a": 1}',
        "127.0.0.1",
        now=now,
    )
    assert event["requestContext"]["timeEpoch"] == 1_795_780_801_250
    assert event["requestContext"]["time"] == "27/Nov/2026:12:00:01 +0000"
    assert event["version"] == "2.0"
    assert event["rawPath"] == "/zoho/events"
    assert event["queryStringParameters"] == {"workflow": "a,b", "x": ""}
    assert event["headers"] == {"content-type": "application/json", "x-custom": "1,2"}
    assert (event["body"], event["isBase64Encoded"]) == ('{"a": 1}', False)
    assert event["requestContext"]["http"]["method"] == "POST"
    binary = api_gateway_event(
        "POST", "/", [("Content-Type", "application/octet-stream")], b"\xff", "::1", now=now
    )
    assert (binary["body"], binary["isBase64Encoded"]) == ("/w==", True)
    assert "body" not in api_gateway_event("GET", "/", [], b"", "::1", now=now)


@pytest.mark.parametrize(
    ("explicit", "endpoint", "expected"),
    [
        (None, None, "local"),
        (None, "http://127.0.0.1:5000", "eventbridge"),
        ("local", "http://127.0.0.1:5000", "local"),
        ("EventBridge", None, "eventbridge"),
    ],
)
def test_events_target_rule(explicit: str | None, endpoint: str | None, expected: str) -> None:
    assert events_target(explicit, endpoint) == expected


def test_unknown_events_target_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        events_target("kafka", None)


def test_cli_ingress_takes_its_settings_from_dot_env_like_everything_else(tmp_path: Path) -> None:
    environ = {
        key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "ZOHO_", "EVENTS_"))
    }
    dot_env = {
        "ZOHO_PIPELINES_HOME": tmp_path / "home",
        "ZOHO_WEBHOOK_SECRETS": SECRET,
        "ZOHO_CHANNEL_TOKENS": TOKEN,
    }
    (tmp_path / ".env").write_text("".join(f"{name}={value}\n" for name, value in dot_env.items()))
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
        # A Notification API delivery is accepted by its channel token, read from .env too.
        channel = json.dumps(notification_payload(TOKEN, module="Deals")).encode()
        assert post(match.group(1), channel, {"Content-Type": "application/json"})[0] == 200
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
    with LocalQueue(tmp_path / "home" / "queue" / "lead-qualification.sqlite3") as queue:
        assert queue.depth() == 1
    with LocalQueue(tmp_path / "home" / "queue" / "refresh.sqlite3") as queue:
        assert queue.depth() == 2


HALF_SENT = (
    b"",  # connected, then silent
    b"POST /zoho/events HTTP/1.1\r\nHost: ingress\r\nContent-Ty",  # headers cut short
    b'POST / HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n{"mod',  # body cut
)


def connection_threads() -> set[threading.Thread]:
    """The server's per-connection threads (socketserver names them after their target)."""
    return {thread for thread in threading.enumerate() if "process_request_thread" in thread.name}


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def closed_by_server(sock: socket.socket) -> bool:
    """True once the server has closed its end (EOF, or a reset); a timeout here is a failure."""
    try:
        return sock.recv(1024) == b""
    except ConnectionResetError:
        return True


def test_half_sent_requests_lose_their_connection_and_free_their_threads(tmp_path: Path) -> None:
    settings = local_settings(tmp_path, ZOHO_WEBHOOK_SECRETS=SECRET)
    body = json.dumps({"module": "Leads", "operation": "update", "id": "1"}).encode()
    headers = {"X-Zoho-Secret": SECRET, "Content-Type": "application/json"}
    with IngressServer(build_handler(settings), request_timeout_s=0.5) as running:
        parts = urlsplit(running.url)
        assert post(running.url, body, headers)[0] == 200  # queues opened before the baseline
        threads_before, descriptors_before = connection_threads(), open_descriptors()

        stalled = []
        for number in range(150):
            sock = socket.create_connection((parts.hostname, parts.port), timeout=5)
            sock.sendall(HALF_SENT[number % len(HALF_SENT)])
            stalled.append(sock)
        assert post(running.url, body, headers)[0] == 200  # served while they hang

        assert all(closed_by_server(sock) for sock in stalled)
        for sock in stalled:
            sock.close()
        for thread in connection_threads() - threads_before:
            thread.join(timeout=5)
        assert not [thread for thread in connection_threads() - threads_before if thread.is_alive()]
        assert open_descriptors() <= descriptors_before
        assert post(running.url, body, headers)[0] == 200


def test_a_request_dripped_byte_by_byte_is_cut_off_at_the_request_deadline(tmp_path: Path) -> None:
    """Each byte arrives well within the read timeout; the request as a whole does not."""
    settings = local_settings(tmp_path, ZOHO_WEBHOOK_SECRETS=SECRET)
    head = b"POST /zoho/webhooks HTTP/1.1\r\nHost: x\r\nContent-Length: 200\r\n\r\n"
    with IngressServer(build_handler(settings), request_timeout_s=1.0) as running:
        parts = urlsplit(running.url)
        sock = socket.create_connection((parts.hostname, parts.port), timeout=5)
        sock.sendall(head)
        started, cut_off = time.monotonic(), False
        for _ in range(200):  # 200 bytes at 0.1 s: 20 s if the server let it run
            try:
                sock.sendall(b"x")
            except (BrokenPipeError, ConnectionResetError):
                cut_off = True
                break
            readable, _, _ = select.select([sock], [], [], 0.1)  # pacing the client, and watching for EOF
            if readable and closed_by_server(sock):
                cut_off = True
                break
        sock.close()
        assert cut_off
        assert time.monotonic() - started < 5


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
    settings = local_settings(tmp_path, ZOHO_WEBHOOK_SECRETS=SECRET)
    settings.local_queue_dir.write_text("a file where the queue directory should be")
    with IngressServer(build_handler(settings)) as running:
        body = json.dumps({"module": "Leads", "operation": "update", "id": "1"}).encode()
        status, headers, answer = post(
            running.url, body, {"X-Zoho-Secret": SECRET, "Content-Type": "application/json"}
        )
    assert (status, answer) == (503, {"message": "Service unavailable"})
    assert headers["retry-after"] == "5"


def test_with_an_aws_endpoint_the_local_ingress_publishes_to_eventbridge(routed_bus, tmp_path: Path) -> None:
    settings = load_settings(
        ZOHO_PIPELINES_HOME=str(tmp_path),
        ZOHO_WEBHOOK_SECRETS=SECRET,
        AWS_ENDPOINT_URL=os.environ["AWS_ENDPOINT_URL"],
        EVENT_BUS_NAME=routed_bus.bus_name,
    )
    with IngressServer(build_handler(settings)) as running:
        body = json.dumps({"module": "Leads", "operation": "insert", "id": "31"}).encode()
        status, _, answer = post(
            running.url, body, {"X-Zoho-Secret": SECRET, "Content-Type": "application/json"}
        )
    assert status == 200
    (message,) = routed_bus.drain(Target.LEAD_QUALIFICATION, expected=1)
    assert message["detail"]["event_id"] == answer["event_ids"][0]
    assert not settings.local_queue_dir.exists()
