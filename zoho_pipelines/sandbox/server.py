"""The sandbox HTTP server: app assembly, in-process and subprocess runners, and `serve`."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import subprocess as sp
import sys
import threading
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from types import TracebackType
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from zoho_pipelines.clock import Clock
from zoho_pipelines.sandbox import books, projects
from zoho_pipelines.sandbox.attachments import attachment_routes
from zoho_pipelines.sandbox.auth import token_routes
from zoho_pipelines.sandbox.bulk_read import bulk_routes
from zoho_pipelines.sandbox.config import SandboxConfig
from zoho_pipelines.sandbox.control import control_routes
from zoho_pipelines.sandbox.coql import coql_routes
from zoho_pipelines.sandbox.crm_metadata import metadata_routes
from zoho_pipelines.sandbox.crm_notes import notes_routes
from zoho_pipelines.sandbox.crm_org import org_routes
from zoho_pipelines.sandbox.crm_records import records_routes
from zoho_pipelines.sandbox.errors import api_error
from zoho_pipelines.sandbox.guard import ABORT_EXTENSION, ApiGuard
from zoho_pipelines.sandbox.mutator import PeriodicMutator
from zoho_pipelines.sandbox.notifications import watch_routes
from zoho_pipelines.sandbox.state import SandboxState, default_clock

__all__ = ["RunningSandbox", "SandboxConfig", "SandboxState", "build_app", "serve", "start_sandbox"]

STARTUP_TIMEOUT_S = 120.0


class AbortableHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol that lets the app drop a connection without any response.

    ASGI offers no way to close a socket silently; the sandbox needs it to imitate a proxy or
    load balancer dropping a call, so each request's scope carries the transport's abort().
    """

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.scope["extensions"] = {ABORT_EXTENSION: self.transport.abort}  # type: ignore[typeddict-unknown-key]


async def _not_found(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status == 405:
        return api_error(
            request.url.path, 405, "INVALID_REQUEST_METHOD", "The http request method type is not a valid one"
        )
    return api_error(
        request.url.path,
        status,
        "INVALID_URL_PATTERN",
        "Please check if the URL trying to access is a correct one",
    )


def build_app(state: SandboxState) -> Starlette:
    """All routes behind the API guard; Books and Projects come from their own modules."""
    routes = [
        *token_routes(state.config, state.tokens),
        *control_routes(state),
        *watch_routes(state.notifications),
        *bulk_routes(state.bulk),
        *coql_routes(state.crm),
        *org_routes(state),
        *metadata_routes(),
        *books.routes(state),
        *projects.routes(state),
        *attachment_routes(state),  # before records: /crm/{version}/files
        *notes_routes(state),
        *records_routes(state),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        mutator = None
        if state.config.mutate_every_s > 0:
            mutator = PeriodicMutator(state.crm, state.config.mutate_every_s, state.config.seed)
            mutator.start()
        try:
            yield
        finally:
            if mutator is not None:
                mutator.stop()

    return Starlette(
        routes=routes,
        middleware=[Middleware(ApiGuard, state=state, routes=routes)],
        exception_handlers={HTTPException: _not_found},
        lifespan=lifespan,
    )


def _listening_socket(host: str, port: int) -> socket.socket:
    """Bound and listening before uvicorn starts, so the port is known and connects queue up."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()  # a taken port is routine for the demo, which then binds another
        raise
    sock.set_inheritable(True)
    return sock


def _uvicorn_config(app: Starlette) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        http=AbortableHttpToolsProtocol,
        loop="uvloop",
        lifespan="on",
        log_level="warning",
        access_log=False,
        timeout_keep_alive=30,
    )


def _url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


class _SignallingServer(uvicorn.Server):
    """A uvicorn server that reports readiness through an Event (no polling, no sleeps)."""

    def __init__(self, config: uvicorn.Config, ready: threading.Event) -> None:
        super().__init__(config)
        self._ready = ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self._ready.set()


class RunningSandbox:
    """A started sandbox; a context manager that stops it on exit."""

    def __init__(
        self,
        url: str,
        config: SandboxConfig,
        state: SandboxState | None,
        stopper: Callable[[], None],
        clock: Clock,
    ) -> None:
        self.url = url
        self.config = config
        self.state = state
        self.clock = clock
        """The sandbox's "now": code under test that must agree with the sandbox on the time takes it."""
        self._stopper = stopper
        self._stopped = False

    def env(self) -> dict[str, str]:
        return {
            "ZOHO_ACCOUNTS_URL": self.url,
            "ZOHO_API_URL": self.url,
            "ZOHO_CLIENT_ID": self.config.client_id,
            "ZOHO_CLIENT_SECRET": self.config.client_secret,
            "ZOHO_REFRESH_TOKEN": self.config.refresh_token,
        }

    def stats(self) -> dict[str, Any]:
        if self.state is not None:
            return self.state.stats_snapshot()
        return httpx.get(f"{self.url}/__sandbox/stats", timeout=10).json()

    def stop(self) -> None:
        if not self._stopped:
            self._stopped = True
            self._stopper()

    def __enter__(self) -> RunningSandbox:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"RunningSandbox(url={self.url!r}, in_process={self.state is not None})"


def _start_in_process(config: SandboxConfig, clock: Clock | None) -> RunningSandbox:
    state = SandboxState(config, clock)
    sock = _listening_socket(config.host, config.port)
    url = _url(sock)
    state.base_url = state.notifications.base_url = url
    ready = threading.Event()
    server = _SignallingServer(_uvicorn_config(build_app(state)), ready)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as error:  # reported to the starting thread below
            failure.append(error)
            ready.set()

    thread = threading.Thread(target=run, name=f"zoho-sandbox-{url}", daemon=True)
    thread.start()
    if not ready.wait(STARTUP_TIMEOUT_S) or failure:
        server.should_exit = True
        sock.close()
        state.close()
        raise RuntimeError(f"the sandbox did not start: {failure[0] if failure else 'timeout'}")

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
        state.close()

    return RunningSandbox(url, state.config, state, stop, state.clock)


LISTEN_FD_FLAG = "--listen-fd"
"""The command-line flag that hands a bound socket to a sandbox subprocess (see _start_subprocess)."""


def config_arguments(config: SandboxConfig) -> list[str]:
    """Command-line flags for `python -m zoho_pipelines.sandbox` that reproduce `config`."""
    arguments: list[str] = []
    defaults = SandboxConfig()
    for item in dataclasses.fields(SandboxConfig):
        value = getattr(config, item.name)
        if value == getattr(defaults, item.name) and item.name not in ("host", "port"):
            continue
        flag = "--" + item.name.replace("_", "-")
        arguments += [flag, value.isoformat() if isinstance(value, datetime) else str(value)]
    return arguments


def _start_subprocess(config: SandboxConfig) -> RunningSandbox:
    """The port is bound here and the socket handed down, so a taken port is an OSError
    (EADDRINUSE) in the caller, at once, and nothing can take the port between a check and a bind."""
    with contextlib.closing(_listening_socket(config.host, config.port)) as sock:
        fd = sock.fileno()
        command = [
            sys.executable,
            "-m",
            "zoho_pipelines.sandbox",
            *config_arguments(config),
            *(LISTEN_FD_FLAG, str(fd)),
        ]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        process = sp.Popen(command, stdout=sp.PIPE, text=True, env=env, pass_fds=(fd,))  # noqa: S603
        assert process.stdout is not None
        try:
            first_line = process.stdout.readline().strip()
        except BaseException:  # Ctrl-C while it starts: the child must not keep the port
            _kill(process)
            raise
    if not first_line.startswith("http"):
        _kill(process)
        raise RuntimeError(f"the sandbox subprocess did not start (exit code {process.poll()})")

    def stop() -> None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except sp.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()

    running = RunningSandbox(first_line, config, None, stop, default_clock(config))
    running.pid = process.pid  # type: ignore[attr-defined]
    return running


def _kill(process: sp.Popen[str]) -> None:
    process.kill()
    process.wait()
    if process.stdout is not None:
        process.stdout.close()


def start_sandbox(
    config: SandboxConfig, *, subprocess: bool = False, clock: Clock | None = None
) -> RunningSandbox:
    """Start a sandbox and return once it accepts connections.

    In-process (default) the server runs uvicorn on its own event loop in a background thread and
    `state` gives direct access to the ground truth; `subprocess=True` runs it in its own Python
    process (for benchmarks and memory measurements), ground truth then over /__sandbox/*.
    `clock` (in-process only) is the sandbox's "now"; by default it starts at the anchor, so a
    subprocess given the same anchor keeps the same time.
    """
    if subprocess:
        if clock is not None:
            raise ValueError("a subprocess sandbox keeps its own clock: it starts at config.anchor")
        return _start_subprocess(config)
    return _start_in_process(config, clock)


def serve(
    config: SandboxConfig,
    *,
    announce: Callable[[str], None] | None = None,
    listen_fd: int | None = None,
) -> None:
    """Run the sandbox in the foreground until interrupted (the CLI's `zoho-pipelines sandbox`).

    `announce` receives the URL once the socket listens (the subprocess runner reads it from
    the first line of stdout). `listen_fd` is a listening socket inherited from that runner,
    served instead of binding `config.port`.
    """
    state = SandboxState(config)
    if listen_fd is None:
        sock = _listening_socket(config.host, config.port)
    else:
        sock = socket.socket(fileno=listen_fd)
    url = _url(sock)
    state.base_url = state.notifications.base_url = url
    (announce or _print_url)(url)
    try:
        uvicorn.Server(_uvicorn_config(build_app(state))).run(sockets=[sock])
    finally:
        sock.close()
        state.close()


def _print_url(url: str) -> None:
    print(url, flush=True)
