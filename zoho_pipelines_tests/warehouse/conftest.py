"""A real PostgreSQL server for the warehouse tests (see `zoho_pipelines_tests.postgres_server`).

A machine without PostgreSQL fails these tests loudly: CI installs it with `apt-get install -y
postgresql`.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from zoho_pipelines.lake import LocalLake
from zoho_pipelines.warehouse import SqlWarehouse, open_warehouse
from zoho_pipelines_tests.postgres_server import PostgresServer, PostgresUnavailable, running_postgres
from zoho_pipelines_tests.warehouse.support import Partitions


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
    name = f"test_{uuid.uuid4().hex[:12]}"
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


@pytest.fixture
def partitions(tmp_path: Path) -> Partitions:
    return Partitions(LocalLake(tmp_path / "lake"))


@pytest.fixture(params=["duckdb", "postgresql"])
def warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlWarehouse]:
    """Each backend that loads Arrow itself: a DuckDB file, and a database on the real server."""
    if request.param == "duckdb":
        url = f"duckdb://{tmp_path / 'warehouse.duckdb'}"
    else:
        url = request.getfixturevalue("postgres_url")
    opened = open_warehouse(url)
    try:
        yield opened
    finally:
        opened.close()
