"""The demo's sandbox port: the default when free, a free one when the default is taken, at once."""

from __future__ import annotations

import contextlib
import errno
import gc
import os
import socket
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from zoho_pipelines.demo_port import DEFAULT_PORT, PortInUseError, start_demo_sandbox
from zoho_pipelines.sandbox.__main__ import main as sandbox_main
from zoho_pipelines.sandbox.server import LISTEN_FD_FLAG, RunningSandbox, SandboxConfig, start_sandbox

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
        assert set(notices) == {
            f"Port {DEFAULT_PORT} is in use (the README's background sandbox?): using a free port; "
            f"demo.env and the next steps below point at it, not at {DEFAULT_PORT}."
        }
        for sandbox in started:
            assert httpx.get(f"{sandbox.url}/__sandbox/stats", timeout=10).status_code == 200
    finally:
        for sandbox in started:
            sandbox.stop()


def _resource_warnings(start: Callable[[], object], expected: type[BaseException]) -> list[str]:
    """What `start` left for the garbage collector to close when it failed with `expected`."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        with pytest.raises(expected):
            start()
        gc.collect()
    return [str(warning.message) for warning in caught if issubclass(warning.category, ResourceWarning)]


def test_a_taken_port_leaves_no_socket_open(taken_port: int) -> None:
    config = SandboxConfig(port=taken_port, **SMALL)
    assert _resource_warnings(lambda: start_sandbox(config, subprocess=True), OSError) == []


def test_a_sandbox_process_that_dies_before_its_url_is_an_error_that_leaves_no_pipe_open() -> None:
    config = SandboxConfig(port=0, seed=-1, **SMALL)  # numpy refuses the seed in the child
    assert _resource_warnings(lambda: start_sandbox(config, subprocess=True), RuntimeError) == []


@pytest.mark.parametrize("kind", ["file", "closed", "not_listening"])
def test_listen_fd_that_is_no_listening_socket_is_a_usage_error(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with contextlib.ExitStack() as stack:
        if kind == "file":
            fd = stack.enter_context((tmp_path / "not-a-socket").open("w")).fileno()
        elif kind == "not_listening":
            fd = stack.enter_context(socket.socket()).fileno()
        else:
            fd = os.open(tmp_path, os.O_RDONLY)
            os.close(fd)
        with pytest.raises(SystemExit) as exited:
            sandbox_main(["--port", "0", LISTEN_FD_FLAG, str(fd)], prog="zoho-pipelines sandbox")
    assert exited.value.code == 2
    assert f"{LISTEN_FD_FLAG} {fd} is not a listening socket" in capsys.readouterr().err
