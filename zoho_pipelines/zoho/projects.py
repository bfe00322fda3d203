"""Zoho Projects (restapi): portal discovery, modified-time windows of projects and tasks, and
project creation for the onboarding flow.

Projects lives on its own host (projectsapi.zoho.<dc>, or the sandbox's single origin), so URLs
are built from `projects_url`, not the CRM API domain. Listings page with `index` (1-based) and
`range` (at most 200) and answer 204 past the end.

Projects are listed sorted by last_modified_time from the window's start, which Projects documents,
so a window is read with the cursor re-query of `ascending_window`. Tasks have no documented
modified-time filter per project: a project's tasks are read in full and filtered here. The
portal-wide task listing (`/portal/{id}/tasks/`) is used when it exists and replaced by a walk
over every project when it answers 404.
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

    def _all(self, url: str, key: str) -> Iterator[list[Record]]:
        """Every record of an index/range listing, one batch per call."""
        index = 1
        while True:
            records = self._listing(url, key, {"index": index, "range": RANGE})
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

    def get_project(self, project_id: str | int) -> Record:
        records = self._listing(f"{self._portal}/projects/{project_id}/", "projects", {})
        if not records:
            raise ZohoNotFoundError(f"project {project_id} not found", method="GET", path="/restapi/portal")
        return records[0]

    def iter_tasks(
        self, project_id: str | int | None, modified_from: datetime, modified_to: datetime
    ) -> Iterator[list[Record]]:
        """Batches of the tasks last updated in [from, to): of one project, or of the whole portal."""
        start = require_aware(modified_from, "modified_from")
        end = require_aware(modified_to, "modified_to")
        if project_id is not None:
            yield from self._project_tasks(str(project_id), start, end)
            return
        url = f"{self._portal}/tasks/"
        emitted = False
        try:
            for batch in read_ascending(
                lambda since, page: self._sorted_page(url, "tasks", since, page),
                start=start,
                end=end,
                modified=task_modified,
                record_id=_record_id,
            ):
                emitted = True
                yield batch
        except ZohoNotFoundError:
            if emitted:
                raise
            for projects in self._all(f"{self._portal}/projects/", "projects"):
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

        `external_key` goes into the portal's "External Key" custom field; the sandbox answers a
        repeated key with the project it created the first time. Zoho itself enforces no such
        uniqueness, so the POST is never retried blindly (the transport retries it only when Zoho
        surely did not receive it).
        """
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
