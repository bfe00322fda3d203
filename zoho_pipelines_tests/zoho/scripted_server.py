"""A real HTTP server on loopback that answers Zoho calls from a script, for precise transport tests.

The sandbox shows that the client works against a realistic Zoho; this server shows exactly what
the client does on one precise sequence (a 429 then a 200, a dropped connection, a token rejected
mid-flight), which random fault injection cannot pin down. It speaks real HTTP/1.1 with
keep-alive, mints access tokens at /oauth/v2/token and rejects unknown or expired ones with
Zoho's 401 INVALID_TOKEN before consulting the script.
"""

from __future__ import annotations

import itertools
import json
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pydantic import SecretStr

from zoho_pipelines.zoho.credentials import ZohoCredentials
from zoho_pipelines.zoho.datacenters import endpoints
from zoho_pipelines.zoho.retry import RetryPolicy
from zoho_pipelines.zoho.transport import ZohoTransport

CLIENT_ID = "1000.SCRIPTEDCLIENT"
CLIENT_SECRET = "scripted-client-secret-5f1d2c"
REFRESH_TOKEN = "1000.scripted-refresh-token-9a8b7c"
_server_numbers = itertools.count(1)


INVALID_TOKEN_BODY = {
    "code": "INVALID_TOKEN",
    "details": {},
    "message": "invalid oauth token",
    "status": "error",
}
BOOKS_REFUSED_TOKEN_BODY = {"code": 57, "message": "You are not authorized to perform this operation"}
PROJECTS_REFUSED_TOKEN_BODY = {"error": {"code": 6401, "message": "Invalid OAuth access token"}}


def _refused_token_body(path: str) -> dict[str, Any]:
    """What each product answers an unknown access token with, by the request's path."""
    if path.startswith("/books/"):
        return BOOKS_REFUSED_TOKEN_BODY
    if path.startswith(("/restapi/", "/api/v3/")):
        return PROJECTS_REFUSED_TOKEN_BODY
    return INVALID_TOKEN_BODY


@dataclass(frozen=True)
class Canned:
    """One scripted answer: a status and JSON (or raw) body, optionally late or never sent."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    drop: bool = False


@dataclass(frozen=True)
class SeenRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


class _QuietServer(ThreadingHTTPServer):
    request_queue_size = 128  # twenty threads connecting at once must not overflow the backlog

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (timeout tests) breaks the pipe; that is expected, not news."""


class ScriptedZoho:
    """Accounts server and API on one loopback origin; API calls pop `Canned` answers in order."""

    def __init__(self, *, default: Canned | None = None) -> None:
        self.default = default or Canned(200, {"data": [], "info": {"more_records": False}})
        # An org of its own: the process keeps one limiter per API origin and client id
        # (zoho.limits.org_limiter), and the kernel hands a closed server's port to a later one, so
        # a shared client id would give this server an earlier test's limiter and its limit.
        self.client_id = f"{CLIENT_ID}{next(_server_numbers)}"
        self.requests: list[SeenRequest] = []
        self.token_requests: list[dict[str, list[str]]] = []
        self.token_script: queue.Queue[Canned] = queue.Queue()
        self._script: queue.Queue[Canned] = queue.Queue()
        self._valid_tokens: set[str] = set()
        self._serial = itertools.count(1)
        self._lock = threading.Lock()
        self._in_flight = 0
        self.peak_in_flight = 0
        self.on_api_call: Callable[[SeenRequest], Canned | None] | None = None
        self._server = _QuietServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def enqueue(self, *answers: Canned) -> None:
        for answer in answers:
            self._script.put(answer)

    def expire_tokens(self) -> None:
        with self._lock:
            self._valid_tokens.clear()

    def api_requests(self) -> list[SeenRequest]:
        with self._lock:
            return [request for request in self.requests if request.path != "/oauth/v2/token"]

    def __enter__(self) -> ScriptedZoho:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _mint(self) -> dict[str, Any]:
        token = f"1000.scripted-access-{next(self._serial)}-c0ffee"
        with self._lock:
            self._valid_tokens.add(token)
        return {"access_token": token, "api_domain": self.url, "token_type": "Bearer", "expires_in": 3600}

    def _answer(self, request: SeenRequest) -> Canned:
        if request.path == "/oauth/v2/token":
            form = parse_qs(request.body.decode())
            with self._lock:
                self.token_requests.append(form)
            try:
                return self.token_script.get_nowait()
            except queue.Empty:
                return Canned(200, self._mint())
        token = request.headers.get("authorization", "").removeprefix("Zoho-oauthtoken ")
        with self._lock:
            known = token in self._valid_tokens
        if not known:
            return Canned(401, _refused_token_body(request.path))
        if self.on_api_call is not None:
            answer = self.on_api_call(request)
            if answer is not None:
                return answer
        try:
            return self._script.get_nowait()
        except queue.Empty:
            return self.default

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        scripted = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                """Keep test output quiet."""

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                parts = urlsplit(self.path)
                request = SeenRequest(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query),
                    headers={key.lower(): value for key, value in self.headers.items()},
                    body=self.rfile.read(length) if length else b"",
                )
                with scripted._lock:
                    scripted.requests.append(request)
                    scripted._in_flight += 1
                    scripted.peak_in_flight = max(scripted.peak_in_flight, scripted._in_flight)
                try:
                    answer = scripted._answer(request)
                    if answer.delay_s:
                        threading.Event().wait(answer.delay_s)  # a slow server, not synchronisation
                finally:
                    # Done before the answer goes out: once the client has it, it may send the next
                    # call at once, and this call must no longer count as in flight when that lands.
                    with scripted._lock:
                        scripted._in_flight -= 1
                if answer.drop:
                    self.close_connection = True
                    return
                self._write(answer)

            def _write(self, answer: Canned) -> None:
                if isinstance(answer.body, bytes):
                    payload, content_type = answer.body, "application/octet-stream"
                elif answer.body is None:
                    payload, content_type = b"", "application/json"
                else:
                    payload, content_type = json.dumps(answer.body).encode(), "application/json"
                self.send_response(answer.status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                for key, value in answer.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        return Handler


FAST_RETRIES = RetryPolicy(max_attempts=4, initial_backoff_s=0.01, max_backoff_s=0.05, max_retry_after_s=5.0)


def scripted_credentials(client_id: str = CLIENT_ID) -> ZohoCredentials:
    return ZohoCredentials(
        client_id=client_id, client_secret=SecretStr(CLIENT_SECRET), refresh_token=SecretStr(REFRESH_TOKEN)
    )


def transport_for(server: ScriptedZoho, **options: Any) -> ZohoTransport:
    """A transport whose accounts server and API are `server`, with quick retries unless overridden."""
    options.setdefault("retry_policy", FAST_RETRIES)
    return ZohoTransport(
        scripted_credentials(server.client_id),
        endpoints("com", accounts_url=server.url, api_url=server.url),
        **options,
    )
