"""The demo's sandbox port: the default when free, a free one when the default is taken, at once."""

from __future__ import annotations

import errno
import socket
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from zoho_pipelines.demo_port import DEFAULT_PORT, PortInUseError, start_demo_sandbox
from zoho_pipelines.sandbox.server import RunningSandbox, SandboxConfig, start_sandbox

SMALL = {"records_per_module": 20, "history_days": 2}


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def test_a_subprocess_sandbox_on_a_taken_port_fails_in_the_caller(taken_port: int) -> None:
    with pytest.raises(OSError, match="in use") as raised:
        start_sandbox(SandboxConfig(port=taken_port, **SMALL), subprocess=True)
    assert raised.value.errno == errno.EADDRINUSE


def test_a_taken_port_asked_for_explicitly_is_an_actionable_error(taken_port: int) -> None:
    with pytest.raises(PortInUseError, match=f"port {taken_port} is in use.*--port 0"):
        start_demo_sandbox(SandboxConfig(port=taken_port, **SMALL), print)


def test_two_demos_started_together_each_get_a_sandbox_of_their_own() -> None:
    """Both aim at the default port: one may get it, the other falls back; neither fails."""
    barrier = threading.Barrier(2)
    started: list[RunningSandbox] = []
    notices: list[str] = []
    failures: list[BaseException] = []

    def demo() -> None:
        barrier.wait()
        try:
            started.append(start_demo_sandbox(SandboxConfig(port=DEFAULT_PORT, **SMALL), notices.append))
        except BaseException as error:  # reported below, with the sandboxes stopped
            failures.append(error)

    threads = [threading.Thread(target=demo) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert failures == []
        ports = {urlsplit(sandbox.url).port for sandbox in started}
        assert len(ports) == 2
        assert len(notices) >= 1
        assert all(f"Port {DEFAULT_PORT} is in use" in notice for notice in notices)
        for sandbox in started:
            assert httpx.get(f"{sandbox.url}/__sandbox/stats", timeout=10).status_code == 200
    finally:
        for sandbox in started:
            sandbox.stop()
