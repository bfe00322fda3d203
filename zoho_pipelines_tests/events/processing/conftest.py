"""A private sandbox (small, so it starts in a blink) and our Zoho client pointed at it; a real
PostgreSQL database for the staging tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from zoho_pipelines.sandbox.server import RunningSandbox
from zoho_pipelines.settings import load_settings
from zoho_pipelines.zoho.client import ZohoClient

# The warehouse tests' real PostgreSQL server (initdb in a temp dir), reused rather than copied.
from zoho_pipelines_tests.warehouse.conftest import postgres_server, postgres_url

__all__ = ["postgres_server", "postgres_url"]


@pytest.fixture
def small_sandbox(sandbox_factory: Callable[..., RunningSandbox]) -> RunningSandbox:
    return sandbox_factory(records_per_module=300)


@pytest.fixture
def zoho(small_sandbox: RunningSandbox) -> Iterator[ZohoClient]:
    with ZohoClient.from_settings(load_settings(**small_sandbox.env())) as client:
        yield client
