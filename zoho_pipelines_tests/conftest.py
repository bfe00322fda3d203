"""Shared fixtures: a session-wide sandbox and a factory for sandboxes with custom settings."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from zoho_pipelines.clock import Clock
from zoho_pipelines.sandbox.server import RunningSandbox, SandboxConfig, start_sandbox

SANDBOX_ANCHOR = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)
"""The fixed end of generated history for the shared sandbox: same data on every run."""


@pytest.fixture(scope="session")
def sandbox() -> Iterator[RunningSandbox]:
    """The default sandbox (2,000 records a module, fixed anchor), shared by the whole session.

    Tests that change data or faults must use `sandbox_factory` instead, so they cannot leak
    state into other tests.
    """
    with start_sandbox(SandboxConfig(anchor=SANDBOX_ANCHOR)) as running:
        yield running


@pytest.fixture
def sandbox_factory() -> Iterator[Callable[..., RunningSandbox]]:
    """`sandbox_factory(clock=None, **config_overrides)` starts a private sandbox, stopped at teardown.

    Its clock starts at the anchor unless `clock` says otherwise (e.g. a day later, so that
    mutations land on a day of their own).
    """
    started: list[RunningSandbox] = []

    def start(clock: Clock | None = None, **overrides: Any) -> RunningSandbox:
        overrides.setdefault("anchor", SANDBOX_ANCHOR)
        running = start_sandbox(SandboxConfig(**overrides), clock=clock)
        started.append(running)
        return running

    yield start
    for running in reversed(started):
        running.stop()
