"""ProjectsClient over the real transport against the sandbox on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from zoho_pipelines.clock import ManualClock
from zoho_pipelines.sandbox.lazy_records import Timeline, epoch_ms
from zoho_pipelines.sandbox.projects import dataset_for
from zoho_pipelines.sandbox.projects_data import ProjectsDataset
from zoho_pipelines.sandbox.server import RunningSandbox, SandboxConfig, start_sandbox
from zoho_pipelines.settings import load_settings
from zoho_pipelines.zoho.errors import ZohoNotFoundError
from zoho_pipelines.zoho.projects import RANGE, ProjectsClient
from zoho_pipelines.zoho.retry import RetryPolicy
from zoho_pipelines.zoho.transport import ZohoTransport
from zoho_pipelines_tests.conftest import own_org

ANCHOR = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
HISTORY_START = ANCHOR - timedelta(days=31)


@pytest.fixture(scope="module")
def running() -> Iterator[RunningSandbox]:
    with start_sandbox(own_org(SandboxConfig(seed=17, records_per_module=2_500, anchor=ANCHOR))) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def transport(running: RunningSandbox) -> Iterator[ZohoTransport]:
    with ZohoTransport.from_settings(load_settings(**running.env())) as zoho:
        yield zoho


@pytest.fixture(scope="module")
def truth(running: RunningSandbox) -> ProjectsDataset:
    assert running.state is not None
    return dataset_for(running.state.config, running.state.crm)


def expected(
    timeline: Timeline, start: datetime, end: datetime, subset: np.ndarray | None = None
) -> list[int]:
    inside = (timeline.modified_ms >= epoch_ms(start)) & (timeline.modified_ms < epoch_ms(end))
    if subset is not None:
        inside &= np.isin(np.arange(len(timeline)), subset)
    return sorted(int(value) for value in timeline.ids[inside])


def ids(batches: Iterator[list[dict]]) -> list[int]:
    return sorted(record["id"] for batch in batches for record in batch)


def test_discovers_the_default_portal(transport: ZohoTransport, running: RunningSandbox) -> None:
    client = ProjectsClient(transport, running.url)
    portals = client.portals()
    assert client.portal_id == next(portal["id_string"] for portal in portals if portal["default"])


def test_a_wrong_portal_is_not_found(transport: ZohoTransport, running: RunningSandbox) -> None:
    client = ProjectsClient(transport, running.url, portal_id="1")
    with pytest.raises(ZohoNotFoundError):
        next(client.iter_projects(HISTORY_START, ANCHOR))


def test_project_windows_match_ground_truth(
    transport: ZohoTransport, running: RunningSandbox, truth: ProjectsDataset
) -> None:
    client = ProjectsClient(transport, running.url)
    whole = ids(client.iter_projects(HISTORY_START, ANCHOR + timedelta(hours=1)))
    assert whole == sorted(int(value) for value in truth.projects.ids)
    assert len(whole) > 200
    for days_back in (1, 5, 9):
        start, end = ANCHOR - timedelta(days=days_back), ANCHOR - timedelta(days=days_back - 1)
        assert ids(client.iter_projects(start, end)) == expected(truth.projects, start, end)


def test_portal_task_windows_match_ground_truth(
    transport: ZohoTransport, running: RunningSandbox, truth: ProjectsDataset
) -> None:
    client = ProjectsClient(transport, running.url)
    start, end = ANCHOR - timedelta(days=6), ANCHOR - timedelta(hours=7)
    read = ids(client.iter_tasks(None, start, end))
    assert read == expected(truth.tasks, start, end)
    assert len(read) > 3 * 200


def test_one_projects_task_window(
    transport: ZohoTransport, running: RunningSandbox, truth: ProjectsDataset
) -> None:
    client = ProjectsClient(transport, running.url)
    project = int(np.bincount(truth.task_project).argmax())
    start, end = HISTORY_START, ANCHOR - timedelta(days=2)
    read = ids(client.iter_tasks(int(truth.projects.ids[project]), start, end))
    assert read == expected(truth.tasks, start, end, truth.project_tasks(project))


def test_a_project_is_found_by_its_external_key_whatever_its_age_and_page(sandbox_factory) -> None:
    clock = ManualClock(ANCHOR)
    running = sandbox_factory(records_per_module=2_500, anchor=ANCHOR, clock=clock)  # 250 projects
    with ZohoTransport.from_settings(load_settings(**running.env())) as transport:
        client = ProjectsClient(transport, running.url)
        assert client.find_by_external_key("deal-42") == []
        first = client.create_project(
            "Onboarding: Initech", crm_account_id="5000000000000000042", external_key="deal-42"
        )
        clock.advance(timedelta(days=400))
        # Zoho keeps no custom field unique: a second create makes a duplicate, not a look-up.
        again = client.create_project("Onboarding: Initech", external_key="deal-42")
        assert again["id"] != first["id"]
        assert client.get_project(first["id_string"]) == first
        fields = {field["column_name"]: field["value"] for field in first["custom_fields"]}
        assert fields == {"UDF_CHAR1": "5000000000000000042", "UDF_CHAR3": "deal-42"}

        found = client.find_by_external_key("deal-42")

        assert [project["id"] for project in found] == [first["id"], again["id"]]  # oldest first
        active = [project for batch in client.iter_all_projects("active") for project in batch]
        assert len(active) > RANGE  # the created ones sit past the first page
        assert [project["id"] for project in active[-2:]] == [first["id"], again["id"]]


def test_task_windows_stay_exact_through_injected_faults(sandbox_factory) -> None:
    faulty = sandbox_factory(
        seed=17,
        records_per_module=2_000,
        fault_rate=0.15,
        rate_limit_rate=0.1,
        drop_rate=0.05,
        retry_after_s=0.01,
    )
    assert faulty.state is not None
    truth = dataset_for(faulty.state.config, faulty.state.crm)
    policy = RetryPolicy(max_attempts=12, initial_backoff_s=0.01, max_backoff_s=0.05)
    with ZohoTransport.from_settings(load_settings(**faulty.env()), retry_policy=policy) as transport:
        client = ProjectsClient(transport, faulty.url)
        start, end = ANCHOR - timedelta(days=8), ANCHOR - timedelta(days=1)
        assert ids(client.iter_tasks(None, start, end)) == expected(truth.tasks, start, end)
        assert transport.stats.snapshot()["retries"] > 0
