"""Zoho Projects endpoints of the sandbox (the `restapi` generation): portals, projects and tasks
listed with index/range, 204 past the end, and project creation.

Each listing takes only the query parameters Projects documents for it (`LIST_PARAMETERS`, pages
cited there), and project creation only its documented form fields (`CREATE_PROJECT_FIELDS`);
tasks are listed project by project, as `restapi` documents, never portal-wide. `restapi` task
creation ("Create a Task", tasks-api.html) is not modelled: nothing here creates tasks.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl

import numpy as np
import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from zoho_pipelines.clock import SYSTEM_CLOCK, Clock, epoch_ms
from zoho_pipelines.sandbox.lazy_records import Timeline, resolve_anchor
from zoho_pipelines.sandbox.projects_data import CUSTOM_FIELDS, ProjectsDataset, ProjectsSizes

MAX_RANGE = 200
DEFAULT_RANGE = 100
SORT_COLUMNS = ("created_time", "last_modified_time")
SORT_ORDERS = ("ascending", "descending")
LIST_PARAMETERS = {
    # "All Projects": https://www.zoho.com/projects/help/rest-api/projects-api.html
    "projects": frozenset(
        {
            "index",
            "range",
            "status",
            "sort_column",
            "sort_order",
            "last_modified_time",
            "reverse_order",
            "json_string",
        }
    ),
    # "All Tasks" of a project: https://www.zoho.com/projects/help/rest-api/tasks-api.html
    "tasks": frozenset({"index", "range", "owner", "status", "time", "priority", "tasklist_id"}),
    # "Project Details", "Task Details": no parameters.
    "details": frozenset(),
}
# The form fields "Create a Project" takes
# (https://www.zoho.com/projects/help/rest-api/projects-api.html#alink2): name (required),
# description, owner, start_date and end_date (MM-DD-YYYY), and custom fields by their column name
# as "Get Project Custom Fields" lists them for the portal (`CUSTOM_FIELDS`). The UDF_CHAR* names
# could not be confirmed against Zoho's page from here (the stored copies cut the section off):
# they are the portal's columns as the sandbox models them, not a documented list.
CREATE_PROJECT_FIELDS = frozenset({"name", "description", "owner", "start_date", "end_date", *CUSTOM_FIELDS})


class ProjectsError(Exception):
    """A Projects-shaped failure: {"error": {"code": n, "message": ...}}."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def response(self) -> Response:
        return projects_json({"error": {"code": self.code, "message": self.message}}, self.status)


def projects_json(payload: dict[str, Any], status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json;charset=utf-8")


def _not_found() -> ProjectsError:
    return ProjectsError(404, 6404, "Resource Not Found")


def _bad_parameter(name: str) -> ProjectsError:
    return ProjectsError(400, 6832, f"Input Parameter Does not Match the Pattern Specified: {name}")


def _refuse_undocumented(names: Iterable[str], documented: frozenset[str]) -> None:
    """Projects documents no answer to a parameter (query or form field) it does not list; the
    sandbox gives its documented answer to a malformed one (6832), a choice of ours."""
    for name in names:
        if name not in documented:
            raise _bad_parameter(name)


def _int_param(request: Request, name: str, default: int | None, minimum: int) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _bad_parameter(name) from None
    if value < minimum:
        raise _bad_parameter(name)
    return value


def _choice_param(request: Request, name: str, allowed: tuple[str, ...], default: str) -> str:
    value = request.query_params.get(name) or default
    if value not in allowed:
        raise _bad_parameter(name)
    return value


def _page(request: Request, order: np.ndarray) -> np.ndarray:
    """The `index` (1-based, as Zoho Projects counts) / `range` slice of an ordered selection."""
    index = _int_param(request, "index", 1, 0) or 1
    size = min(_int_param(request, "range", DEFAULT_RANGE, 1) or DEFAULT_RANGE, MAX_RANGE)
    return order[index - 1 : index - 1 + size]


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


class ProjectsApi:
    """The handlers, bound to the portal's data set."""

    def __init__(self, data: ProjectsDataset, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self.data = data
        self.clock = clock

    def routes(self) -> list[BaseRoute]:
        routes = [
            Route("/portals/", self.list_portals),
            Route("/portal/{portal_id}/projects/", self.list_projects, methods=["GET"]),
            Route("/portal/{portal_id}/projects/", self.create_project, methods=["POST"]),
            Route("/portal/{portal_id}/projects/{project_id}/", self.get_project),
            Route("/portal/{portal_id}/projects/{project_id}/tasks/", self.list_project_tasks),
            Route("/portal/{portal_id}/projects/{project_id}/tasks/{task_id}/", self.get_task),
        ]
        return [Mount("/restapi", routes=routes)]

    def _check_portal(self, request: Request) -> None:
        if request.path_params["portal_id"] != str(self.data.portal_id):
            raise _not_found()

    def _project_index(self, request: Request) -> int:
        self._check_portal(request)
        raw = request.path_params["project_id"]
        index = self.data.projects.index_of(int(raw)) if raw.isdigit() else None
        if index is None:
            raise _not_found()
        return index

    @staticmethod
    def _modified_order(request: Request, timeline: Timeline) -> np.ndarray:
        """Apply last_modified_time (epoch ms, inclusive), sort_column and sort_order."""
        since_ms = _int_param(request, "last_modified_time", None, 0)
        sort_column = _choice_param(request, "sort_column", SORT_COLUMNS, "created_time")
        sort_order = _choice_param(request, "sort_order", SORT_ORDERS, "descending")
        return timeline.select(
            modified_since_ms=since_ms,
            sort_by_modified=sort_column == "last_modified_time",
            descending=sort_order == "descending",
        )

    def _listing(self, key: str, records: list[dict[str, Any]]) -> Response:
        if not records:
            return Response(status_code=204)
        return projects_json({key: records})

    async def list_portals(self, request: Request) -> Response:
        return projects_json({"login_id": "2060758", "portals": [self.data.portal(_base_url(request))]})

    async def list_projects(self, request: Request) -> Response:
        try:
            _refuse_undocumented(request.query_params, LIST_PARAMETERS["projects"])
            self._check_portal(request)
            status = request.query_params.get("status")
            if status not in (None, "", "active", "archived", "template"):
                raise _bad_parameter("status")
            order = self._modified_order(request, self.data.projects)
            if status == "template":
                order = order[:0]  # the sandbox portal has no templates
            elif status:
                archived = self.data.archived_mask()[order]
                order = order[archived] if status == "archived" else order[~archived]
            window = _page(request, order)
        except ProjectsError as error:
            return error.response()
        base = _base_url(request)
        return self._listing("projects", [self.data.render_project(int(i), base) for i in window])

    async def get_project(self, request: Request) -> Response:
        try:
            _refuse_undocumented(request.query_params, LIST_PARAMETERS["details"])
            index = self._project_index(request)
        except ProjectsError as error:
            return error.response()
        return projects_json({"projects": [self.data.render_project(index, _base_url(request))]})

    async def create_project(self, request: Request) -> Response:
        # restapi takes url-encoded forms; stdlib parsing spares a multipart dependency.
        fields = dict(parse_qsl((await request.body()).decode("utf-8"), keep_blank_values=True))
        try:
            _refuse_undocumented(request.query_params, LIST_PARAMETERS["details"])
            _refuse_undocumented(fields, CREATE_PROJECT_FIELDS)
            self._check_portal(request)
        except ProjectsError as error:
            return error.response()
        if not fields.get("name", "").strip():
            return ProjectsError(400, 6831, "Input Parameter Missing: name").response()
        record = self.data.create_project(fields, epoch_ms(self.clock), _base_url(request))
        return projects_json({"projects": [record]}, 201)

    async def list_project_tasks(self, request: Request) -> Response:
        try:
            _refuse_undocumented(request.query_params, LIST_PARAMETERS["tasks"])
            index = self._project_index(request)
            window = _page(request, np.sort(self.data.project_tasks(index)))
        except ProjectsError as error:
            return error.response()
        base = _base_url(request)
        return self._listing("tasks", [self.data.render_task(int(i), base) for i in window])

    async def get_task(self, request: Request) -> Response:
        try:
            _refuse_undocumented(request.query_params, LIST_PARAMETERS["details"])
            project_index = self._project_index(request)
        except ProjectsError as error:
            return error.response()
        raw = request.path_params["task_id"]
        index = self.data.tasks.index_of(int(raw)) if raw.isdigit() else None
        if index is None or int(self.data.task_project[index]) != project_index:
            return _not_found().response()
        return projects_json({"tasks": [self.data.render_task(index, _base_url(request))]})


def dataset_for(config: Any, crm: Any) -> ProjectsDataset:
    """The portal data a sandbox with this config and CRM serves (also the tests' ground truth)."""
    return ProjectsDataset(
        seed=config.seed,
        anchor=resolve_anchor(config.anchor),
        history_days=config.history_days,
        timezone=config.timezone,
        sizes=ProjectsSizes.for_records(config.records_per_module),
        account_ids=np.asarray(crm.ids("Accounts")),
    )


def routes(state: Any) -> list[BaseRoute]:
    """Projects routes over the sandbox state; projects point at the CRM's accounts."""
    return ProjectsApi(dataset_for(state.config, state.crm), clock=state.clock).routes()
