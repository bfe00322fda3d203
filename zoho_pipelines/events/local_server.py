"""`zoho-pipelines ingress`: the Lambda handler served over plain HTTP on a laptop.

Each HTTP request becomes the API Gateway HTTP API (payload v2) event that AWS would build, goes
through the very same `IngressHandler`, and its answer goes back as the HTTP response, so local
runs exercise the deployed code path. Where events go:

    EVENTS_TARGET=eventbridge   PutEvents to EVENT_BUS_NAME (AWS, or AWS_ENDPOINT_URL if set)
    EVENTS_TARGET=local         the local router -> durable queues under <ZOHO_PIPELINES_HOME>/queue
    EVENTS_TARGET unset         eventbridge when AWS_ENDPOINT_URL is set (moto, LocalStack), else
                                local: pointing the SDK at an endpoint is a clear sign the bus is
                                meant, and a laptop with no AWS needs nothing configured.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from zoho_pipelines.events.ingress import ConfigurationError, IngressConfig, IngressHandler, make_handler
from zoho_pipelines.events.local_router import LocalRouter

logger = logging.getLogger(__name__)

# API Gateway's own request limit; larger requests are refused without reading them.
MAX_REQUEST_BYTES = 10 * 1024 * 1024
_SHUTDOWN_POLL_S = 0.05  # how soon serve_forever notices a shutdown request
_TEXT_TYPES = ("text/", "application/json", "application/x-www-form-urlencoded", "application/xml")

LambdaHandler = Callable[[Mapping[str, Any], Any], Mapping[str, Any]]


def events_target(environ: Mapping[str, str]) -> str:
    """ "eventbridge" or "local" (see the module docstring for the rule)."""
    explicit = environ.get("EVENTS_TARGET", "").strip().lower()
    if explicit in {"eventbridge", "local"}:
        return explicit
    if explicit:
        raise ConfigurationError("EVENTS_TARGET must be eventbridge or local")
    return "eventbridge" if environ.get("AWS_ENDPOINT_URL", "").strip() else "local"


def build_handler(environ: Mapping[str, str], queue_dir: Path) -> IngressHandler:
    """The ingress handler for `environ`, publishing where `events_target` says."""
    config = IngressConfig.from_env(environ)
    if events_target(environ) == "eventbridge":
        import boto3

        endpoint = environ.get("AWS_ENDPOINT_URL", "").strip() or None
        return make_handler(config, events_client=boto3.client("events", endpoint_url=endpoint))
    return make_handler(config, publisher=LocalRouter(queue_dir))


def serve_ingress(host: str, port: int, *, environ: Mapping[str, str], queue_dir: Path) -> None:
    """Serve until interrupted (the `zoho-pipelines ingress` command)."""
    server = IngressServer(build_handler(environ, queue_dir), host, port)
    destination = "EventBridge" if events_target(environ) == "eventbridge" else f"local queues in {queue_dir}"
    print(f"zoho-pipelines ingress listening on {server.url} -> {destination}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


def api_gateway_event(
    method: str, target: str, headers: list[tuple[str, str]], body: bytes, source_ip: str
) -> dict[str, Any]:
    """The payload v2 event API Gateway would build for this request."""
    url = urlsplit(target)
    joined: dict[str, str] = {}
    for name, value in headers:
        key = name.lower()
        joined[key] = f"{joined[key]},{value}" if key in joined else value
    query: dict[str, str] = {}
    for name, value in parse_qsl(url.query, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value
    now = time.time()
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
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
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
        event = api_gateway_event(
            self.command, self.path, list(self.headers.items()), body, self.client_address[0]
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

    def __init__(self, address: tuple[str, int], lambda_handler: LambdaHandler) -> None:
        self.lambda_handler = lambda_handler
        super().__init__(address, _RequestHandler)


class IngressServer:
    """A local HTTP front for a Lambda-style handler; `port=0` picks a free port."""

    def __init__(self, lambda_handler: LambdaHandler, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = _IngressHTTPServer((host, port), lambda_handler)
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
