"""The sandbox's Zoho Projects (restapi) endpoints, spoken to with plain httpx over loopback."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import numpy as np
import pytest

from zoho_pipelines.sandbox.projects import dataset_for
from zoho_pipelines.sandbox.projects_data import ProjectsDataset
from zoho_pipelines.sandbox.server import RunningSandbox, SandboxConfig, start_sandbox

ANCHOR = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
RECORDS = 3_000  # 300 projects, about 3,000 tasks


def api_client(running: RunningSandbox) -> httpx.Client:
    env = running.env()
    token = httpx.post(
        f"{env['ZOHO_ACCOUNTS_URL']}/oauth/v2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": env["ZOHO_REFRESH_TOKEN"],
            "client_id": env["ZOHO_CLIENT_ID"],
            "client_secret": env["ZOHO_CLIENT_SECRET"],
        },
    ).json()["access_token"]
    return httpx.Client(base_url=running.url, headers={"Authorization": f"Zoho-oauthtoken {token}"})


@pytest.fixture(scope="module")
def running() -> Iterator[RunningSandbox]:
    with start_sandbox(SandboxConfig(seed=5, records_per_module=RECORDS, anchor=ANCHOR)) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def api(running: RunningSandbox) -> Iterator[httpx.Client]:
    with api_client(running) as client:
        yield client


@pytest.fixture(scope="module")
def truth(running: RunningSandbox) -> ProjectsDataset:
    assert running.state is not None
    return dataset_for(running.state.config, running.state.crm)


@pytest.fixture(scope="module")
def portal(api: httpx.Client) -> str:
    portals = api.get("/restapi/portals/").json()["portals"]
    assert len(portals) == 1
    assert portals[0]["default"] is True
    return portals[0]["id_string"]


def list_all(api: httpx.Client, path: str, params: dict | None = None, size: int = 200) -> list[dict]:
    rows, index = [], 1
    key = "projects" if path.endswith("/projects/") else "tasks"
    while True:
        response = api.get(path, params={**(params or {}), "index": index, "range": size})
        if response.status_code == 204:
            assert response.content == b""
            return rows
        rows.extend(response.json()[key])
        index += size


def test_portal_links_to_its_projects(api: httpx.Client, portal: str, truth: ProjectsDataset) -> None:
    body = api.get("/restapi/portals/").json()["portals"][0]
    assert body["id_string"] == str(truth.portal_id)
    counts = body["project_count"]
    assert counts["active"] + counts["archived"] == len(truth.projects)
    assert body["link"]["project"]["url"].endswith(f"/restapi/portal/{portal}/projects/")


def test_projects_page_with_index_and_range_until_204(
    api: httpx.Client, portal: str, truth: ProjectsDataset
) -> None:
    rows = list_all(api, f"/restapi/portal/{portal}/projects/", size=70)
    assert [row["id"] for row in rows] == sorted((int(value) for value in truth.projects.ids), reverse=True)
    capped = api.get(f"/restapi/portal/{portal}/projects/", params={"range": 1000}).json()["projects"]
    assert len(capped) == 200
    assert api.get(f"/restapi/portal/{portal}/projects/", params={"range": "many"}).status_code == 400


def test_projects_filter_on_last_modified_time_in_ms(
    api: httpx.Client, portal: str, truth: ProjectsDataset
) -> None:
    since_ms = int((ANCHOR - timedelta(days=6)).timestamp() * 1000)
    rows = list_all(
        api,
        f"/restapi/portal/{portal}/projects/",
        {"last_modified_time": since_ms, "sort_column": "last_modified_time", "sort_order": "ascending"},
        size=25,
    )
    modified = [row["updated_date_long"] for row in rows]
    assert modified == sorted(modified)
    assert all(value >= since_ms for value in modified)
    assert len(rows) == int((truth.projects.modified_ms >= since_ms).sum()) > 25


def test_projects_link_to_crm_accounts(api: httpx.Client, portal: str, running: RunningSandbox) -> None:
    assert running.state is not None
    accounts = {str(int(value)) for value in running.state.crm.ids("Accounts")}
    projects = api.get(f"/restapi/portal/{portal}/projects/", params={"range": 200}).json()["projects"]
    linked = [
        field["value"]
        for row in projects
        for field in row["custom_fields"]
        if field["column_name"] == "UDF_CHAR1"
    ]
    assert len(linked) == len(projects)
    assert set(linked) <= accounts


def test_archived_filter(api: httpx.Client, portal: str, truth: ProjectsDataset) -> None:
    archived = list_all(api, f"/restapi/portal/{portal}/projects/", {"status": "archived"})
    assert {row["status"] for row in archived} == {"archived"}
    assert len(archived) == int(truth.project_archived.sum())


def test_each_projects_tasks_and_204_for_none(api: httpx.Client, portal: str, truth: ProjectsDataset) -> None:
    counts = np.bincount(truth.task_project, minlength=len(truth.projects))
    busiest, idle = int(counts.argmax()), int(np.flatnonzero(counts == 0)[0]) if (counts == 0).any() else None
    project_id = int(truth.projects.ids[busiest])
    tasks = list_all(api, f"/restapi/portal/{portal}/projects/{project_id}/tasks/", size=7)
    assert len(tasks) == counts[busiest]
    assert {task["project"]["id"] for task in tasks} == {project_id}
    project = api.get(f"/restapi/portal/{portal}/projects/{project_id}/").json()["projects"][0]
    closed = sum(task["completed"] for task in tasks)
    assert project["task_count"] == {"open": len(tasks) - closed, "closed": closed}
    detail = api.get(f"/restapi/portal/{portal}/projects/{project_id}/tasks/{tasks[0]['id']}/").json()
    assert detail["tasks"][0] == tasks[0]
    if idle is not None:
        empty = api.get(f"/restapi/portal/{portal}/projects/{int(truth.projects.ids[idle])}/tasks/")
        assert empty.status_code == 204


@pytest.mark.parametrize(
    ("path", "undocumented"),
    [
        ("projects/", {"modified_since": "1"}),
        ("projects/{project}/tasks/", {"last_modified_time": "1"}),  # All Tasks documents no such filter
        ("projects/{project}/tasks/", {"sort_column": "last_modified_time"}),
        ("projects/{project}/", {"index": "1"}),
        ("projects/{project}/tasks/{task}/", {"index": "1"}),  # Task Details documents none
    ],
)
def test_undocumented_parameters_are_refused(
    api: httpx.Client, portal: str, truth: ProjectsDataset, path: str, undocumented: dict
) -> None:
    project = int(truth.projects.ids[0])
    task = int(truth.tasks.ids[np.flatnonzero(truth.task_project == 0)[0]])
    url = f"/restapi/portal/{portal}/" + path.format(project=project, task=task)
    response = api.get(url, params=undocumented)
    assert response.status_code == 400
    (name,) = undocumented
    assert response.json() == {
        "error": {"code": 6832, "message": f"Input Parameter Does not Match the Pattern Specified: {name}"}
    }


def test_tasks_are_listed_project_by_project_only(api: httpx.Client, portal: str) -> None:
    assert api.get(f"/restapi/portal/{portal}/tasks/").status_code == 404  # restapi documents none


def test_unknown_portal_project_or_task_is_404(
    api: httpx.Client, portal: str, truth: ProjectsDataset
) -> None:
    assert api.get("/restapi/portal/1/projects/").status_code == 404
    assert api.get(f"/restapi/portal/{portal}/projects/42/").status_code == 404
    project_id = int(truth.projects.ids[0])
    other_task = int(truth.tasks.ids[np.flatnonzero(truth.task_project != 0)[0]])
    assert api.get(f"/restapi/portal/{portal}/projects/{project_id}/tasks/{other_task}/").status_code == 404


def test_create_project_makes_a_new_project_every_time_as_zoho_does(sandbox_factory) -> None:
    running = sandbox_factory(records_per_module=50, anchor=ANCHOR)
    with api_client(running) as api:
        portal = api.get("/restapi/portals/").json()["portals"][0]["id_string"]
        path = f"/restapi/portal/{portal}/projects/"
        before_ms = int(running.clock.now().timestamp() * 1000)
        form = {"name": "Onboarding: Acme", "UDF_CHAR1": "5000000000000000001", "UDF_CHAR3": "deal-77"}
        first = api.post(path, data=form)
        again = api.post(path, data=form)  # Zoho keeps no custom field unique: a duplicate
        assert (first.status_code, again.status_code) == (201, 201)
        created, duplicate = first.json()["projects"][0], again.json()["projects"][0]
        assert duplicate["id"] != created["id"]
        assert {field["value"] for field in created["custom_fields"]} == {"5000000000000000001", "deal-77"}
        assert duplicate["custom_fields"] == created["custom_fields"]
        newest = api.get(
            path, params={"sort_column": "last_modified_time", "sort_order": "descending", "range": 2}
        ).json()["projects"]
        assert {row["id"] for row in newest} == {created["id"], duplicate["id"]}
        assert created["updated_date_long"] >= before_ms
        assert api.get(f"{path}{created['id']}/").json()["projects"][0] == created
        assert api.get(f"{path}{created['id']}/tasks/").status_code == 204
        missing_name = api.post(path, data={"name": " "})
        assert missing_name.status_code == 400
        assert missing_name.json()["error"]["code"] == 6831


@pytest.mark.parametrize(
    ("undocumented", "params"),
    [
        ({"UDF_CHAR9": "x"}, {}),  # not a custom field column of the portal
        ({"customer_id": "1"}, {}),
        ({}, {"modified_since": "1"}),
    ],
)
def test_create_project_refuses_undocumented_fields(
    sandbox_factory, undocumented: dict, params: dict
) -> None:
    running = sandbox_factory(records_per_module=20, anchor=ANCHOR)
    with api_client(running) as api:
        portal = api.get("/restapi/portals/").json()["portals"][0]["id_string"]
        path = f"/restapi/portal/{portal}/projects/"
        documented = {
            "name": "Onboarding: Form",
            "description": "d",
            "owner": "2060758",
            "start_date": "12-01-2026",
            "end_date": "12-31-2026",
            "UDF_CHAR2": "deal-1",
        }
        refused = api.post(path, data={**documented, **undocumented}, params=params)
        assert refused.status_code == 400
        (name,) = undocumented or params
        assert refused.json() == {
            "error": {
                "code": 6832,
                "message": f"Input Parameter Does not Match the Pattern Specified: {name}",
            }
        }
        assert api.post(path, data=documented).status_code == 201
