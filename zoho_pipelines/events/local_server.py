"""`zoho-pipelines ingress`: the Lambda handler served over plain HTTP on a laptop.

Each HTTP request becomes the API Gateway HTTP API (payload v2) event that AWS would build, goes
through the very same `IngressHandler`, and its answer goes back as the HTTP response, so local
runs exercise the deployed code path. Its configuration is the product's `Settings` (environment
and `.env`, like every other command), turned into the `IngressConfig` the Lambda builds from its
own environment. Where events go:

    EVENTS_TARGET=eventbridge   PutEvents to EVENT_BUS_NAME (AWS, or AWS_ENDPOINT_URL if set)
    EVENTS_TARGET=local         the local router -> durable queues under <ZOHO_PIPELINES_HOME>/queue
    EVENTS_TARGET unset         eventbridge when AWS_ENDPOINT_URL is set (moto, LocalStack), else
                                local: pointing the SDK at an endpoint is a clear sign the bus is
                                meant, and a laptop with no AWS needs nothing configured.

One thread serves each connection, so every socket read and write has a timeout
(`request_timeout_s`), and so does the whole request: a client that opens a connection and sends
half a request (or nothing, or keeps an idle keep-alive connection, or drips a byte now and then)
loses it after that long instead of holding a thread and a socket for ever. API Gateway gives the
deployed Lambda the same protection.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import socket
import threading
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from zoho_pipelines.clock import SYSTEM_CLOCK, Clock
from zoho_pipelines.events.ingress import ConfigurationError, IngressConfig, IngressHandler, make_handler
from zoho_pipelines.events.local_router import LocalRouter
from zoho_pipelines.settings import Settings

logger = logging.getLogger(__name__)

# API Gateway's own request limit; larger requests are refused without reading them.
MAX_REQUEST_BYTES = 10 * 1024 * 1024
_SHUTDOWN_POLL_S = 0.05  # how soon serve_forever notices a shutdown request
# API Gateway waits 30 s for a whole request; a webhook body arrives in well under a second.
DEFAULT_REQUEST_TIMEOUT_S = 10.0
_TEXT_TYPES = ("text/", "application/json", "application/x-www-form-urlencoded", "application/xml")

LambdaHandler = Callable[[Mapping[str, Any], Any], Mapping[str, Any]]


def events_target(explicit: str | None, aws_endpoint_url: str | None) -> str:
    """ "eventbridge" or "local" (see the module docstring for the rule)."""
    choice = (explicit or "").strip().lower()
    if choice in {"eventbridge", "local"}:
        return choice
    if choice:
        raise ConfigurationError("EVENTS_TARGET must be eventbridge or local")
    return "eventbridge" if (aws_endpoint_url or "").strip() else "local"


def ingress_config(settings: Settings) -> IngressConfig:
    """What the Lambda's `IngressConfig.from_env` reads, taken from the product's settings."""
    return IngressConfig(
        webhook_secrets=tuple(secret.get_secret_value() for secret in settings.zoho_webhook_secrets),
        webhook_secrets_secret_id=settings.zoho_webhook_secrets_secret_id,
        webhook_secrets_ttl_s=settings.zoho_webhook_secrets_ttl_seconds,
        channel_tokens=tuple(token.get_secret_value() for token in settings.zoho_channel_tokens),
        channel_tokens_secret_id=settings.zoho_channel_tokens_secret_id,
        event_bus_name=settings.event_bus_name,
    )


def build_handler(settings: Settings, *, clock: Clock = SYSTEM_CLOCK) -> IngressHandler:
    """The ingress handler `settings` describe, publishing where `events_target` says."""
    config = ingress_config(settings)
    if events_target(settings.events_target, settings.aws_endpoint_url) == "eventbridge":
        import boto3

        client = boto3.client("events", endpoint_url=settings.aws_endpoint_url)
        return make_handler(config, events_client=client, clock=clock)
    return make_handler(config, publisher=LocalRouter(settings.local_queue_dir), clock=clock)


def destination(settings: Settings) -> str:
    """Where the handler `build_handler(settings)` sends events, for the start-up line."""
    if events_target(settings.events_target, settings.aws_endpoint_url) == "eventbridge":
        return f"EventBridge bus {settings.event_bus_name}"
    return f"local queues in {settings.local_queue_dir}"


def serve_ingress(
    host: str, port: int, *, settings: Settings, request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S
) -> None:
    """Serve until interrupted (the `zoho-pipelines ingress` command)."""
    handler = build_handler(settings)
    server = IngressServer(handler, host, port, request_timeout_s=request_timeout_s)
    print(f"zoho-pipelines ingress listening on {server.url} -> {destination(settings)}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


def api_gateway_event(
    method: str,
    target: str,
    headers: list[tuple[str, str]],
    body: bytes,
    source_ip: str,
    *,
    now: datetime,
) -> dict[str, Any]:
    """The payload v2 event API Gateway would build for this request, received at `now`."""
    url = urlsplit(target)
    joined: dict[str, str] = {}
    for name, value in headers:
        key = name.lower()
        joined[key] = f"{joined[key]},{value}" if key in joined else value
    query: dict[str, str] = {}
    for name, value in parse_qsl(url.query, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": url.path or "/",
        "rawQueryString": url.query,
        "headers": joined,
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "http": {
                "method": method,
                "path": url.path or "/",
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": joined.get("user-agent", ""),
            },
            "time": now.astimezone(UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": False,
    }
    if query:
        event["queryStringParameters"] = query
    if body:
        event["body"], event["isBase64Encoded"] = _event_body(body, joined.get("content-type", ""))
    return event


def _event_body(body: bytes, content_type: str) -> tuple[str, bool]:
    """Text types travel as text when they are valid UTF-8; anything else as base64."""
    if content_type.lower().startswith(_TEXT_TYPES) or not content_type:
        try:
            return body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(body).decode("ascii"), True


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as API Gateway clients get
    # Headers and body leave in two writes; with Nagle on, delayed ACKs add ~40 ms per answer.
    disable_nagle_algorithm = True
    server: _IngressHTTPServer

    def setup(self) -> None:
        # StreamRequestHandler.setup applies `timeout` to the socket; BaseHTTPRequestHandler then
        # drops a connection whose read or write times out (handle_one_request's TimeoutError).
        self.timeout = self.server.request_timeout_s
        super().setup()
        self._deadline: threading.Timer | None = None

    def handle_one_request(self) -> None:
        # The per-read timeout alone lets a client that drips a byte now and then hold its
        # thread for ever; the whole request (line, headers, body) must arrive within the limit.
        self._deadline = threading.Timer(self.server.request_timeout_s, self._cut_off)
        self._deadline.daemon = True
        self._deadline.start()
        try:
            super().handle_one_request()
        finally:
            self._request_read()

    def _request_read(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _cut_off(self) -> None:
        """Shut the socket down: the handler's blocked read returns and the thread ends."""
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_GET(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            self._respond(411, {}, b'{"message":"Length required"}', close=True)
            return
        try:
            length = int(self.headers.get("content-length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self._respond(400, {}, b'{"message":"Bad request"}', close=True)
            return
        if length > MAX_REQUEST_BYTES:
            self._respond(413, {}, b'{"message":"Payload too large"}', close=True)
            return
        body = self.rfile.read(length) if length else b""
        self._request_read()  # the rest (routing, the answer) is the handler's time, not the client's
        event = api_gateway_event(
            self.command,
            self.path,
            list(self.headers.items()),
            body,
            self.client_address[0],
            now=self.server.clock.now(),
        )
        answer = self.server.lambda_handler(event, None)
        payload = answer.get("body") or ""
        raw = base64.b64decode(payload) if answer.get("isBase64Encoded") else payload.encode("utf-8")
        self._respond(int(answer.get("statusCode", 200)), answer.get("headers") or {}, raw)

    def _respond(self, status: int, headers: Mapping[str, str], body: bytes, *, close: bool = False) -> None:
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() not in {"content-length", "connection"}:
                self.send_header(name, value)
        if not any(name.lower() == "content-type" for name in headers):
            self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        if close:
            self.send_header("connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        # The request line may carry query parameters; keep it out of default stderr logging.
        logger.debug("%s %s", self.client_address[0], format % args)


class _IngressHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog of 5 makes a burst's extra connections wait for a SYN retry.
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        lambda_handler: LambdaHandler,
        *,
        request_timeout_s: float,
        clock: Clock,
    ) -> None:
        self.lambda_handler = lambda_handler
        self.request_timeout_s = request_timeout_s
        self.clock = clock
        super().__init__(address, _RequestHandler)


class IngressServer:
    """A local HTTP front for a Lambda-style handler; `port=0` picks a free port.

    `request_timeout_s` bounds every socket read and write of a connection (see the module doc);
    `clock` stamps the API Gateway events' request time.
    """

    def __init__(
        self,
        lambda_handler: LambdaHandler,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        if request_timeout_s <= 0:
            raise ValueError("request_timeout_s must be positive")
        self._server = _IngressHTTPServer(
            (host, port), lambda_handler, request_timeout_s=request_timeout_s, clock=clock
        )
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def serve_forever(self) -> None:
        self._server.serve_forever(poll_interval=_SHUTDOWN_POLL_S)

    def start(self) -> IngressServer:
        self._thread = threading.Thread(target=self.serve_forever, name="ingress", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()

    def __enter__(self) -> IngressServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
