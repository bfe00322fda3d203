"""Fixtures shared by the Dagster-layer tests."""

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from zoho_pipelines_tests.events.processing.dagster_support import EventHome, private_event_home


@pytest.fixture
def event_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[EventHome]:
    """A private ZOHO_PIPELINES_HOME (queues, lake, DuckDB) for one event test."""
    with private_event_home(tmp_path, monkeypatch) as home:
        yield home


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as test_instance:
        yield test_instance
