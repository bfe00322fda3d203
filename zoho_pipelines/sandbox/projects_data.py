"""Deterministic Zoho Projects data: one portal, projects linked to CRM accounts, their tasks,
rendered lazily by index; plus the projects created through the API at run time.

Generated records are pure functions of (seed, anchor, history, time zone, sizes, CRM account ids);
created ones are kept as rendered dicts (there are few of them).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from zoho_pipelines.sandbox.lazy_records import (
    Timeline,
    epoch_ms,
    from_epoch_ms,
    later_times,
    record_rng,
    sequential_ids,
    spread_times,
)

# The portal's custom project fields; UDF_CHAR3 carries a caller's idempotency key, which Zoho
# Projects, like any custom field, does not keep unique.
CUSTOM_FIELDS = {
    "UDF_CHAR1": "CRM Account ID",
    "UDF_CHAR2": "CRM Deal ID",
    "UDF_CHAR3": "External Key",
}

USERS = (
    ("2060758", "Patricia Boyle"),
    ("2063270", "Amritha Agrawal"),
    ("2071123", "Marco Bianchi"),
    ("2079951", "Keiko Tanaka"),
)
_TASK_STATUSES = (
    ("Open", "open", "#74cb80"),
    ("In Progress", "open", "#08aeea"),
    ("Closed", "closed", "#f56b62"),
)
_PRIORITIES = ("None", "Low", "Medium", "High")
_PROJECT_KINDS = ("Onboarding", "Implementation", "Migration", "Rollout", "Renewal", "Audit")
_TASK_VERBS = ("Plan", "Configure", "Review", "Migrate", "Train", "Test", "Document", "Sign off")
_TASK_OBJECTS = ("workspace", "data import", "user roles", "integrations", "reports", "go-live")
_CUSTOM_STATUSES = ("Active", "In Progress", "On Hold", "Completed")


@dataclass(frozen=True)
class ProjectsSizes:
    projects: int
    max_tasks_per_project: int

    @classmethod
    def for_records(cls, records_per_module: int) -> ProjectsSizes:
        """About one project per ten CRM records and ten tasks per project (so tasks ~ records)."""
        return cls(projects=max(1, records_per_module // 10), max_tasks_per_project=20)


def projects_date(moment_ms: int, zone: ZoneInfo) -> str:
    return from_epoch_ms(moment_ms).astimezone(zone).strftime("%m-%d-%Y")


def projects_datetime(moment_ms: int, zone: ZoneInfo) -> str:
    return from_epoch_ms(moment_ms).astimezone(zone).strftime("%m-%d-%Y %I:%M:%S %p")


def _stamp(prefix: str, moment_ms: int, zone: ZoneInfo) -> dict[str, Any]:
    """Projects' triple rendering of one instant: date, date-time in the portal zone, epoch ms."""
    return {
        prefix: projects_date(moment_ms, zone),
        f"{prefix}_format": projects_datetime(moment_ms, zone),
        f"{prefix}_long": moment_ms,
    }


class ProjectsDataset:
    """The portal's projects and tasks; thread-safe for the rare create."""

    def __init__(
        self,
        *,
        seed: int,
        anchor: datetime,
        history_days: int,
        timezone: str,
        sizes: ProjectsSizes,
        account_ids: np.ndarray,
    ) -> None:
        self.seed = seed
        self.zone = ZoneInfo(timezone)
        self.timezone = timezone
        self.portal_id = 2_063_927 + seed * 10
        self.anchor_ms = epoch_ms(anchor)
        self.account_ids = np.asarray(account_ids, dtype=np.int64)
        rng = np.random.default_rng([seed, 0x960])
        start_ms = self.anchor_ms - history_days * 86_400_000
        count = sizes.projects
        created = spread_times(rng, count, start_ms, self.anchor_ms)
        ids = sequential_ids(rng, count, 170_876_000_000_000_000)
        self.projects = Timeline(ids, created, later_times(rng, created, self.anchor_ms))
        self.project_archived = rng.random(count) < 0.15
        self.project_account = (
            rng.integers(0, self.account_ids.size, size=count)
            if self.account_ids.size
            else np.full(count, -1, dtype=np.int64)
        )
        self._build_tasks(rng, sizes)
        self._lock = threading.Lock()
        self._created: dict[int, dict[str, Any]] = {}

    def _build_tasks(self, rng: np.random.Generator, sizes: ProjectsSizes) -> None:
        per_project = rng.integers(0, sizes.max_tasks_per_project + 1, size=len(self.projects))
        owner = np.repeat(np.arange(len(self.projects)), per_project)
        created = later_times(rng, self.projects.created_ms[owner], self.anchor_ms)
        order = np.argsort(created, kind="stable")
        owner, created = owner[order], created[order]
        ids = sequential_ids(rng, owner.shape[0], 170_876_000_500_000_000)
        self.tasks = Timeline(ids, created, later_times(rng, created, self.anchor_ms))
        self.task_project = owner
        self.task_completed = rng.random(owner.shape[0]) < 0.4
        # Tasks grouped by project: project p owns tasks_by_project[offsets[p]:offsets[p + 1]].
        self.tasks_by_project = np.argsort(owner, kind="stable")
        self.task_offsets = np.searchsorted(owner[self.tasks_by_project], np.arange(len(self.projects) + 1))
        self.task_rank = np.empty(owner.shape[0], dtype=np.int64)
        self.task_rank[self.tasks_by_project] = (
            np.arange(owner.shape[0]) - self.task_offsets[owner[self.tasks_by_project]]
        )
        self.closed_tasks = np.bincount(owner, weights=self.task_completed, minlength=len(self.projects))
        self.all_tasks = np.bincount(owner, minlength=len(self.projects))

    # ---- portal --------------------------------------------------------------------------

    def portal(self, base_url: str) -> dict[str, Any]:
        archived = int(self.project_archived.sum())
        return {
            "id": self.portal_id,
            "id_string": str(self.portal_id),
            "name": "sandbox",
            "default": True,
            "role": "admin",
            "gmt_time_zone": self.timezone,
            "project_count": {"active": len(self.projects) - archived, "archived": archived},
            "settings": {"timezone": self.timezone, "date_format": "MM-dd-yyyy hh:mm aaa"},
            "locale": {"code": "en_US", "language": "English", "country": "United States"},
            "link": {"project": {"url": f"{base_url}/restapi/portal/{self.portal_id}/projects/"}},
        }

    # ---- projects ------------------------------------------------------------------------

    def project_tasks(self, project_index: int) -> np.ndarray:
        if project_index >= self.task_offsets.shape[0] - 1:
            return np.zeros(0, dtype=np.int64)  # created through the API: no tasks yet
        return self.tasks_by_project[self.task_offsets[project_index] : self.task_offsets[project_index + 1]]

    def is_archived(self, project_index: int) -> bool:
        return project_index < self.project_archived.shape[0] and bool(self.project_archived[project_index])

    def archived_mask(self) -> np.ndarray:
        """Archived flag of every project, those created through the API (active) included."""
        mask = np.zeros(len(self.projects), dtype=bool)
        mask[: self.project_archived.shape[0]] = self.project_archived
        return mask

    def render_project(self, index: int, base_url: str) -> dict[str, Any]:
        created = self._created.get(index)
        if created is not None:
            return created
        rng = record_rng(self.seed, "projects-project", index)
        owner_id, owner_name = rng.choice(USERS)
        project_id = int(self.projects.ids[index])
        account = int(self.project_account[index])
        custom = {"UDF_CHAR1": str(int(self.account_ids[account])) if account >= 0 else ""}
        name = f"{rng.choice(_PROJECT_KINDS)} {index + 1:05d}"
        record = self._project_shape(
            index=index,
            project_id=project_id,
            name=name,
            description=f"<div>{name} for account {custom['UDF_CHAR1'] or 'n/a'}</div>",
            owner=(owner_id, owner_name),
            status="archived" if self.is_archived(index) else "active",
            custom_status=rng.choice(_CUSTOM_STATUSES),
            custom=custom,
            base_url=base_url,
        )
        record["task_count"] = {
            "open": int(self.all_tasks[index] - self.closed_tasks[index]),
            "closed": int(self.closed_tasks[index]),
        }
        return record

    def _project_shape(
        self,
        *,
        index: int,
        project_id: int,
        name: str,
        description: str,
        owner: tuple[str, str],
        status: str,
        custom_status: str,
        custom: dict[str, str],
        base_url: str,
    ) -> dict[str, Any]:
        created_ms, modified_ms = int(self.projects.created_ms[index]), int(self.projects.modified_ms[index])
        self_url = f"{base_url}/restapi/portal/{self.portal_id}/projects/{project_id}/"
        return {
            "id": project_id,
            "id_string": str(project_id),
            "key": f"PR-{index + 1}",
            "name": name,
            "description": description,
            "status": status,
            "custom_status_name": custom_status,
            "owner_id": owner[0],
            "owner_name": owner[1],
            "is_public": "no",
            "billing_status": "Billable",
            **_stamp("created_date", created_ms, self.zone),
            **_stamp("updated_date", modified_ms, self.zone),
            "task_count": {"open": 0, "closed": 0},
            "custom_fields": [
                {"column_name": column, "label_name": label, "value": custom[column]}
                for column, label in CUSTOM_FIELDS.items()
                if custom.get(column)
            ],
            "link": {"self": {"url": self_url}, "task": {"url": f"{self_url}tasks/"}},
        }

    def create_project(self, fields: dict[str, str], now_ms: int, base_url: str) -> dict[str, Any]:
        """Create a project from form fields. Every create makes a new project, as in Zoho: a
        repeated External Key (UDF_CHAR3) is a duplicate, not a look-up."""
        with self._lock:
            rng = record_rng(self.seed, "projects-created", len(self.projects))
            project_id = int(self.projects.ids[-1]) + rng.randint(1, 63) if len(self.projects) else 1
            index = self.projects.append(project_id, now_ms, now_ms)
            owner = next((user for user in USERS if user[0] == fields.get("owner")), USERS[0])
            record = self._project_shape(
                index=index,
                project_id=project_id,
                name=fields["name"],
                description=fields.get("description", ""),
                owner=owner,
                status="active",
                custom_status="Active",
                custom={column: fields.get(column, "") for column in CUSTOM_FIELDS},
                base_url=base_url,
            )
            self._created[index] = record
            return record

    # ---- tasks ---------------------------------------------------------------------------

    def render_task(self, index: int, base_url: str) -> dict[str, Any]:
        rng = record_rng(self.seed, "projects-task", index)
        project_index = int(self.task_project[index])
        project_id = int(self.projects.ids[project_index])
        project_name = self.render_project(project_index, base_url)["name"]
        task_id = int(self.tasks.ids[index])
        completed = bool(self.task_completed[index])
        status_name, status_type, color = _TASK_STATUSES[2] if completed else rng.choice(_TASK_STATUSES[:2])
        owner_id, owner_name = rng.choice(USERS)
        creator_id, creator_name = rng.choice(USERS)
        created_ms, modified_ms = int(self.tasks.created_ms[index]), int(self.tasks.modified_ms[index])
        start_ms = created_ms + rng.randint(0, 5) * 86_400_000
        end_ms = start_ms + rng.randint(1, 20) * 86_400_000
        project_url = f"{base_url}/restapi/portal/{self.portal_id}/projects/{project_id}/"
        return {
            "id": task_id,
            "id_string": str(task_id),
            "key": f"PR{project_index + 1}-T{int(self.task_rank[index]) + 1}",
            "name": f"{rng.choice(_TASK_VERBS)} {rng.choice(_TASK_OBJECTS)}",
            "completed": completed,
            "status": {"name": status_name, "type": status_type, "color_code": color},
            "priority": rng.choice(_PRIORITIES),
            "percent_complete": "100" if completed else str(rng.choice((0, 10, 30, 50, 70, 90))),
            "created_by": creator_id,
            "created_person": creator_name,
            **_stamp("created_time", created_ms, self.zone),
            **_stamp("last_updated_time", modified_ms, self.zone),
            "start_date": projects_date(start_ms, self.zone),
            "start_date_long": start_ms,
            "end_date": projects_date(end_ms, self.zone),
            "end_date_long": end_ms,
            "details": {"owners": [{"id": owner_id, "name": owner_name}]},
            "tasklist": {"id": str(project_id + 1), "id_string": str(project_id + 1), "name": "General"},
            "project": {"id": project_id, "id_string": str(project_id), "name": project_name},
            "link": {"self": {"url": f"{project_url}tasks/{task_id}/"}},
        }
