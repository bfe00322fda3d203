"""Shared fixtures: a session-wide sandbox and a factory for sandboxes with custom settings."""

from __future__ import annotations

import dataclasses
import itertools
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from zoho_pipelines.clock import Clock
from zoho_pipelines.sandbox.server import RunningSandbox, SandboxConfig, start_sandbox

SANDBOX_ANCHOR = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)
"""The fixed end of generated history for the shared sandbox: same data on every run."""

_org_numbers = itertools.count(1)


def own_org(config: SandboxConfig) -> SandboxConfig:
    """`config` with a client id no other sandbox of this test process (xdist worker) has.

    The worker's token cache (`shared_token_cache`) and the process's org limiters are keyed by
    the accounts/API URL and the client id, and the kernel often gives a stopped sandbox's port
    to a later one: with the published client id, the later sandbox would get the earlier one's
    dead token (a 401 the test did not ask for, one more mint) and its concurrency limiter.
    """
    return dataclasses.replace(config, client_id=f"{config.client_id}{next(_org_numbers)}")


@pytest.fixture(scope="session", autouse=True)
def shared_token_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One Zoho token cache for the whole session, like any set of processes sharing a home.

    Tests point ZOHO_PIPELINES_HOME at their own temporary directories; without this, each would
    mint its own access token and the sandbox's mint limit (10 per 10 minutes, as Zoho's) would
    lock the session out. Child processes inherit the variable.
    """
    directory = str(tmp_path_factory.mktemp("zoho-tokens"))
    previous = os.environ.get("ZOHO_TOKEN_CACHE_DIR")
    os.environ["ZOHO_TOKEN_CACHE_DIR"] = directory
    yield directory
    if previous is None:
        os.environ.pop("ZOHO_TOKEN_CACHE_DIR", None)
    else:
        os.environ["ZOHO_TOKEN_CACHE_DIR"] = previous


@pytest.fixture(scope="session")
def sandbox() -> Iterator[RunningSandbox]:
    """The default sandbox (2,000 records a module, fixed anchor), shared by the whole session.

    Tests that change data or faults must use `sandbox_factory` instead, so they cannot leak
    state into other tests.
    """
    with start_sandbox(own_org(SandboxConfig(anchor=SANDBOX_ANCHOR))) as running:
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
        running = start_sandbox(own_org(SandboxConfig(**overrides)), clock=clock)
        started.append(running)
        return running

    yield start
    for running in reversed(started):
        running.stop()
