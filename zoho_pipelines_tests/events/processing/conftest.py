"""A private sandbox (small, so it starts in a blink) and our Zoho client pointed at it; a real
PostgreSQL database for the staging tests."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest

from zoho_pipelines.sandbox.server import RunningSandbox
from zoho_pipelines.settings import load_settings
from zoho_pipelines.zoho.client import ZohoClient
from zoho_pipelines_tests.postgres_server import PostgresServer, PostgresUnavailable, running_postgres


@pytest.fixture
def small_sandbox(sandbox_factory: Callable[..., RunningSandbox]) -> RunningSandbox:
    return sandbox_factory(records_per_module=300)


@pytest.fixture
def zoho(small_sandbox: RunningSandbox) -> Iterator[ZohoClient]:
    with ZohoClient.from_settings(load_settings(**small_sandbox.env())) as client:
        yield client


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    try:
        with running_postgres() as server:
            yield server
    except PostgresUnavailable as missing:
        pytest.fail(str(missing), pytrace=False)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database per test, dropped afterwards."""
    name = f"events_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server.url(), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield postgres_server.url(name)
    finally:
        with (
            psycopg.connect(postgres_server.url(), autocommit=True) as admin,
            contextlib.suppress(psycopg.Error),
        ):
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
