"""Zoho Projects (restapi): portal discovery, modified-time windows of projects and tasks, and
project creation for the onboarding flow.

Projects lives on its own host (projectsapi.zoho.<dc>, or the sandbox's single origin), so URLs
are built from `projects_url`, not the CRM API domain. Listings page with `index` (1-based) and
`range` (at most 200) and answer 204 past the end.

Projects are listed sorted by last_modified_time from the window's start, which "All Projects"
documents (index, range, status, sort_column created_time/last_modified_time, sort_order
ascending/descending, last_modified_time in ms: https://www.zoho.com/projects/help/rest-api/projects-api.html),
so a window is read with the cursor re-query of `ascending_window`. Tasks are listed only project
by project ("All Tasks": index, range, owner, status, time, priority, tasklist_id:
https://www.zoho.com/projects/help/rest-api/tasks-api.html), with no modified-time filter or sort,
so a task window reads every project's tasks and filters here; `restapi` documents no
portal-wide task listing.

Zoho Projects keeps no uniqueness of its own on a custom field, and its project listing filters
only by status, time and group/assignee (https://www.zoho.com/projects/help/rest-api/projects-api.html,
"All Projects"), so a project is found by its idempotency key (`find_by_external_key`) by reading
every project of every status, oldest first: whatever its age or state, it is found.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

from zoho_pipelines.zoho.ascending_window import Page, Record, from_epoch_ms, in_window, read_ascending
from zoho_pipelines.zoho.errors import ZohoAPIError, ZohoNotFoundError
from zoho_pipelines.zoho.transport import ZohoTransport
from zoho_pipelines.zoho.windows import require_aware

RANGE = 200
# The portal's custom project field that carries a caller's idempotency key (see create_project).
EXTERNAL_KEY_COLUMN = "UDF_CHAR3"
# The statuses "All Projects" documents for real projects (templates are not projects anyone made).
PROJECT_STATUSES = ("active", "archived")
CRM_ACCOUNT_COLUMN = "UDF_CHAR1"
CRM_DEAL_COLUMN = "UDF_CHAR2"


def project_modified(record: Record) -> datetime:
    return from_epoch_ms(record["updated_date_long"])


def task_modified(record: Record) -> datetime:
    return from_epoch_ms(record["last_updated_time_long"])


def _record_id(record: Record) -> str:
    return str(record.get("id_string") or record["id"])


def _epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class ProjectsClient:
    """Reads and creates Zoho Projects records of one portal; thread-safe."""

    def __init__(self, transport: ZohoTransport, projects_url: str, portal_id: str | None = None) -> None:
        self._transport = transport
        self._root = f"{projects_url.rstrip('/')}/restapi"
        self._portal_id = portal_id or None
        self._discovery = threading.Lock()

    def portals(self) -> list[Record]:
        """Every portal the token's user belongs to."""
        response = self._transport.request("GET", f"{self._root}/portals/")
        return [] if response.status_code == 204 else list(response.json().get("portals") or [])

    @property
    def portal_id(self) -> str:
        """The configured portal (ZOHO_PROJECTS_PORTAL_ID), else the default one, else the only one."""
        if self._portal_id is None:
            with self._discovery:
                if self._portal_id is None:
                    self._portal_id = self._discover()
        return self._portal_id

    def _discover(self) -> str:
        portals = self.portals()
        defaults = [portal for portal in portals if portal.get("default")]
        chosen = defaults if defaults else portals
        if len(chosen) != 1:
            names = ", ".join(f"{_record_id(portal)} ({portal.get('name')})" for portal in portals)
            raise ZohoAPIError(
                f"cannot choose a Projects portal among [{names or 'none'}]: set ZOHO_PROJECTS_PORTAL_ID",
                method="GET",
                path="/restapi/portals/",
            )
        return _record_id(chosen[0])

    @property
    def _portal(self) -> str:
        return f"{self._root}/portal/{self.portal_id}"

    def _listing(self, url: str, key: str, params: dict[str, Any]) -> list[Record]:
        response = self._transport.request("GET", url, params=params)
        return [] if response.status_code == 204 else list(response.json().get(key) or [])

    def _sorted_page(self, url: str, key: str, since: datetime, page: int) -> Page:
        records = self._listing(
            url,
            key,
            {
                "index": (page - 1) * RANGE + 1,
                "range": RANGE,
                "sort_column": "last_modified_time",
                "sort_order": "ascending",
                "last_modified_time": _epoch_ms(since),
            },
        )
        return Page(records, len(records) == RANGE)

    def _all(self, url: str, key: str, params: dict[str, Any] | None = None) -> Iterator[list[Record]]:
        """Every record of an index/range listing, one batch per call."""
        index = 1
        while True:
            records = self._listing(url, key, {**(params or {}), "index": index, "range": RANGE})
            if records:
                yield records
            if len(records) < RANGE:
                return
            index += RANGE

    def iter_projects(self, modified_from: datetime, modified_to: datetime) -> Iterator[list[Record]]:
        """Batches of the projects last modified in [from, to), each once."""
        url = f"{self._portal}/projects/"
        yield from read_ascending(
            lambda since, page: self._sorted_page(url, "projects", since, page),
            start=modified_from,
            end=modified_to,
            modified=project_modified,
            record_id=_record_id,
        )

    def iter_all_projects(self, status: str) -> Iterator[list[Record]]:
        """Every project of one status (`PROJECT_STATUSES`), oldest first, one batch per call.

        Sorted by creation, ascending: a project created while the listing runs lands after
        the pages already read, so none is skipped or repeated.
        """
        if status not in PROJECT_STATUSES:
            raise ValueError(f"status must be one of {', '.join(PROJECT_STATUSES)}")
        params = {"status": status, "sort_column": "created_time", "sort_order": "ascending"}
        yield from self._all(f"{self._portal}/projects/", "projects", params)

    def find_by_external_key(self, key: str) -> list[Record]:
        """The projects whose External Key field holds `key`, oldest first, of any age or status.

        More than one means Zoho accepted a repeated create (it enforces no uniqueness); the
        first is the original.
        """
        return [
            project
            for status in PROJECT_STATUSES
            for batch in self.iter_all_projects(status)
            for project in batch
            if custom_field(project, EXTERNAL_KEY_COLUMN) == key
        ]

    def get_project(self, project_id: str | int) -> Record:
        records = self._listing(f"{self._portal}/projects/{project_id}/", "projects", {})
        if not records:
            raise ZohoNotFoundError(f"project {project_id} not found", method="GET", path="/restapi/portal")
        return records[0]

    def iter_tasks(
        self, project_id: str | int | None, modified_from: datetime, modified_to: datetime
    ) -> Iterator[list[Record]]:
        """Batches of the tasks last updated in [from, to): of one project, or of every project."""
        start = require_aware(modified_from, "modified_from")
        end = require_aware(modified_to, "modified_to")
        if project_id is not None:
            yield from self._project_tasks(str(project_id), start, end)
            return
        for status in PROJECT_STATUSES:
            for projects in self.iter_all_projects(status):
                for project in projects:
                    yield from self._project_tasks(_record_id(project), start, end)

    def _project_tasks(self, project_id: str, start: datetime, end: datetime) -> Iterator[list[Record]]:
        for tasks in self._all(f"{self._portal}/projects/{project_id}/tasks/", "tasks"):
            rows = [task for task in tasks if in_window(task_modified(task), start, end)]
            if rows:
                yield rows

    def create_project(
        self,
        name: str,
        *,
        description: str | None = None,
        owner_id: str | None = None,
        start_date: date | None = None,
        end_date: date | None = None,
        crm_account_id: str | None = None,
        crm_deal_id: str | None = None,
        external_key: str | None = None,
    ) -> Record:
        """Create a project and return it as Projects renders it.

        `external_key` goes into the portal's "External Key" custom field. Zoho enforces no
        uniqueness on it: a repeated create makes a second project, so a caller that must create
        once looks first (`find_by_external_key`), and the POST is never retried blindly (the
        transport retries it only when Zoho surely did not receive it).
        """
        # "Create a Project" (https://www.zoho.com/projects/help/rest-api/projects-api.html): a form
        # with name (required), description, owner, start_date and end_date (MM-DD-YYYY); custom
        # fields go by their column name (UDF_CHAR1...), as "Get Project Custom Fields" lists them.
        # Nothing else is sent (the sandbox refuses any other field). The UDF_CHAR* form names are
        # the portal's column names; Zoho's page could not be re-read here to confirm them as form
        # fields (see `sandbox.projects.CREATE_PROJECT_FIELDS`).
        form: dict[str, str] = {"name": name}
        optional = {
            "description": description,
            "owner": owner_id,
            "start_date": start_date.strftime("%m-%d-%Y") if start_date else None,
            "end_date": end_date.strftime("%m-%d-%Y") if end_date else None,
            CRM_ACCOUNT_COLUMN: crm_account_id,
            CRM_DEAL_COLUMN: crm_deal_id,
            EXTERNAL_KEY_COLUMN: external_key,
        }
        form.update({key: value for key, value in optional.items() if value})
        response = self._transport.request("POST", f"{self._portal}/projects/", data=form)
        return dict(response.json()["projects"][0])


def custom_field(project: Record, column: str) -> str | None:
    """A custom field's value as Projects renders it (`custom_fields` by column name)."""
    for field in project.get("custom_fields") or ():
        if isinstance(field, dict) and field.get("column_name") == column:
            return str(field.get("value") or "")
    return None
