"""Fixtures of the batch pipeline tests: a lake folder, a DuckDB file and the real PostgreSQL server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from zoho_pipelines.lake import LocalLake
from zoho_pipelines.warehouse import SqlWarehouse, open_warehouse

# The warehouse tests' real PostgreSQL server (initdb in a temp dir), reused rather than copied.
from zoho_pipelines_tests.warehouse.conftest import postgres_server, postgres_url

__all__ = ["postgres_server", "postgres_url"]


@pytest.fixture
def lake(tmp_path: Path) -> LocalLake:
    return LocalLake(tmp_path / "lake")


@pytest.fixture
def duckdb_warehouse(tmp_path: Path) -> Iterator[SqlWarehouse]:
    with open_warehouse(f"duckdb://{tmp_path / 'warehouse.duckdb'}") as warehouse:
        yield warehouse
