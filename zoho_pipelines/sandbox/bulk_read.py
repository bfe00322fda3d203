"""Bulk Read: asynchronous export jobs that end in a ZIP holding one CSV.

Jobs run one at a time on a worker thread (ADDED -> IN PROGRESS -> COMPLETED, or FAILURE); the
CSV is streamed into the ZIP on disk a few thousand rows at a time, so a 200,000-row page never
sits in memory as text.
"""

from __future__ import annotations

import base64
import csv
import io
import itertools
import queue
import threading
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route

from zoho_pipelines.sandbox.crm_catalog import API_USER, MODULES, ModuleSpec
from zoho_pipelines.sandbox.crm_filter import (
    Condition,
    FilterOperatorError,
    FilterValueError,
    Group,
    Predicate,
    evaluate,
    field_spec,
    validate,
)
from zoho_pipelines.sandbox.crm_store import CrmStore
from zoho_pipelines.sandbox.errors import crm_error, json_response
from zoho_pipelines.sandbox.stats import SandboxStats

ROWS_PER_PAGE = 200_000
WRITE_CHUNK = 5_000
JOB_ID_BASE = 5_725_767_000_002_000_000
COMPARATORS = {
    "equal": "=",
    "not_equal": "!=",
    "in": "in",
    "not_in": "not in",
    "less_than": "<",
    "less_equal": "<=",
    "greater_than": ">",
    "greater_equal": ">=",
    "between": "between",
    "not_between": "not between",
    "contains": "contains",
    "not_contains": "not_contains",
    "starts_with": "starts_with",
    "ends_with": "ends_with",
}


class BulkReadError(Exception):
    def __init__(
        self, code: str, message: str, details: dict[str, Any] | None = None, status: int = 400
    ) -> None:
        super().__init__(message)
        self.code, self.message, self.details, self.status = code, message, details or {}, status


@dataclass
class BulkJob:
    id: str
    module: ModuleSpec
    fields: list[str]
    predicate: Predicate | None
    query: dict[str, Any]
    page: int
    created_ms: int
    state: str = "ADDED"
    count: int = 0
    more_records: bool = False
    path: Path | None = None
    done: threading.Event = field(default_factory=threading.Event)


def _criterion(module: ModuleSpec, raw: Any, path: str) -> Predicate:
    if not isinstance(raw, dict):
        raise BulkReadError("INVALID_CRITERIA", "invalid criteria", {"json_path": path})
    if "group" in raw:
        operator = str(raw.get("group_operator", "")).lower()
        if operator not in ("and", "or") or not isinstance(raw["group"], list) or not raw["group"]:
            raise BulkReadError(
                "INVALID_CRITERIA",
                "group_operator must be and/or over a non-empty group",
                {"json_path": f"{path}.group_operator"},
            )
        children = tuple(
            _criterion(module, child, f"{path}.group[{n}]") for n, child in enumerate(raw["group"])
        )
        return Group(operator, children)
    api_name = (
        (raw.get("field") or {}).get("api_name")
        if isinstance(raw.get("field"), dict)
        else raw.get("api_name")
    )
    spec = field_spec(module, str(api_name))
    if spec is None:
        raise BulkReadError(
            "FIELD_IN_CRITERIA_NOT_AVAILABLE",
            "the field given in the criteria is not available",
            {"api_name": str(api_name), "module": module.api_name},
        )
    comparator = str(raw.get("comparator", ""))
    if comparator not in COMPARATORS:
        raise BulkReadError(
            "FIELD_AND_COMPARATOR_IN_CRITERIA_NOT_COMPATIBLE",
            "comparator is not supported",
            {"comparator": comparator, "api_name": spec.api_name, "supported": sorted(COMPARATORS)},
        )
    value = raw.get("value")
    operator = COMPARATORS[comparator]
    if operator in ("in", "not in", "between", "not between"):
        values = tuple(value) if isinstance(value, list) else (value,)
        if operator.endswith("between") and len(values) != 2:
            raise BulkReadError(
                "COMPARATOR_AND_VALUE_IN_CRITERIA_NOT_COMPATIBLE",
                "between needs two values",
                {"comparator": comparator, "api_name": spec.api_name},
            )
    else:
        values = (value,)
    if value is None and operator in ("=", "!="):
        return Condition(spec, "is null" if operator == "=" else "is not null")
    return Condition(spec, operator, values)


def _cell(value: Any) -> str:
    """How Bulk Read writes a value in CSV: lookups as their id, multiselects joined by ';'.

    Zoho documents the lookup cell (its id; `Account_Name.Account_Name` asks for the name) but not
    how a list of objects (Tag, multi-select lookups) is written, and its Get Records page returns
    subform and multi-select lookup values only for a single record
    (https://www.zoho.com/crm/developer/docs/api/v8/get-records.html). Our choice, until Zoho says
    otherwise: the items' names (ids where they have none) joined by ';' like a multiselect, never
    a programming language's rendering of the object. The reader keeps such a cell as text, which
    the normalizer stores losslessly (`_unfitted`) where the column wants a list.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return str(value.get("id", ""))
    if isinstance(value, list):
        return ";".join(_item_name(item) for item in value)
    return str(value)


def _item_name(item: Any) -> str:
    if isinstance(item, dict):
        return str(item.get("name") or item.get("id") or "")
    return str(item)


def page_token_for(page: int) -> str:
    return base64.urlsafe_b64encode(f"bulk-page:{page}".encode()).decode().rstrip("=")


def page_from_token(token: str) -> int:
    text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    prefix, _, number = text.partition(":")
    if prefix != "bulk-page" or not number.isdigit():
        raise ValueError("not a bulk page token")
    return int(number)


class BulkReadJobs:
    def __init__(self, store: CrmStore, workdir: Path, stats: SandboxStats) -> None:
        self.store = store
        self.workdir = workdir
        self.stats = stats
        self.jobs: dict[str, BulkJob] = {}
        self._ids = itertools.count(1)
        self._queue: queue.Queue[BulkJob | None] = queue.Queue()
        self._worker = threading.Thread(target=self._run_forever, name="sandbox-bulk-read", daemon=True)
        self._worker.start()

    def create(self, body: Any) -> BulkJob:
        if not isinstance(body, dict) or not body:
            raise BulkReadError("REQUEST_BODY_IS_EMPTY", "the request body is empty")
        query = body.get("query")
        if not isinstance(query, dict):
            raise BulkReadError("INVALID_REQUEST", "query is mandatory", {"api_name": "query"})
        raw_module = query.get("module")
        module_name = raw_module.get("api_name") if isinstance(raw_module, dict) else raw_module
        module = MODULES.get(str(module_name))
        if module is None:
            raise BulkReadError(
                "MODULE_NOT_AVAILABLE",
                "the module given is not available",
                {"api_name": "module", "module": str(module_name)},
            )
        fields = query.get("fields") or [spec.api_name for spec in module.fields]
        for name in fields:
            if name != "id" and name not in module.by_name:
                raise BulkReadError(
                    "FIELD_NOT_AVAILABLE",
                    "the field given is not available",
                    {"api_name": str(name), "module": module.api_name},
                )
        page = query.get("page", 1)
        if token := query.get("page_token"):
            try:
                page = page_from_token(str(token))
            except ValueError:
                raise BulkReadError(
                    "INVALID_REQUEST", "invalid page_token", {"api_name": "page_token"}
                ) from None
        if not isinstance(page, int) or isinstance(page, bool) or page < 1:
            raise BulkReadError("PAGE_NOT_SUPPORTED", "page must be a positive integer", {"api_name": "page"})
        predicate = (
            _criterion(module, query["criteria"], "$.query.criteria") if query.get("criteria") else None
        )
        if predicate is not None:
            try:
                validate(predicate)
            except (FilterValueError, FilterOperatorError) as error:
                raise BulkReadError(
                    "FIELD_AND_VALUE_IN_CRITERIA_NOT_COMPATIBLE",
                    str(error),
                    {"api_name": error.spec.api_name, "module": module.api_name},
                ) from None
        job = BulkJob(
            id=str(JOB_ID_BASE + next(self._ids) * 7),
            module=module,
            fields=[name for name in fields if name != "id"],
            predicate=predicate,
            query={
                "module": {"api_name": module.api_name, "id": module.module_id},
                "fields": list(fields),
                "page": page,
                "criteria": query.get("criteria"),
                "cvid": None,
            },
            page=page,
            created_ms=self.store.now_ms(),
        )
        self.jobs[job.id] = job
        self._queue.put(job)
        return job

    def _run_forever(self) -> None:
        while (job := self._queue.get()) is not None:
            job.state = "IN PROGRESS"
            try:
                self._export(job)
                job.state = "COMPLETED"
                self.stats.count("bulk_jobs_completed")
            except Exception:  # a job must fail as FAILURE, never kill the worker
                job.state = "FAILURE"
                self.stats.count("bulk_jobs_failed")
            finally:
                job.done.set()

    def _export(self, job: BulkJob) -> None:
        module = job.module.api_name
        rows = self.store.live_indices(module)
        if job.predicate is not None:
            rows = evaluate(self.store, module, job.predicate, rows)
        start = (job.page - 1) * ROWS_PER_PAGE
        chosen = rows[start : start + ROWS_PER_PAGE]
        job.count = len(chosen)
        job.more_records = len(rows) > start + ROWS_PER_PAGE
        path = self.workdir / f"{job.id}.zip"
        with (
            zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive,
            archive.open(f"{job.id}.csv", "w") as raw,
            io.TextIOWrapper(raw, encoding="utf-8", newline="") as text,
        ):
            writer = csv.writer(text)
            writer.writerow(["Id", *job.fields])
            for offset in range(0, len(chosen), WRITE_CHUNK):
                block = np.asarray(chosen[offset : offset + WRITE_CHUNK])
                ids = self.store.columns[module].ids[block].tolist()
                columns = self.store.render_columns(module, block, job.fields)
                cells = [[_cell(value) for value in columns[name]] for name in job.fields]
                writer.writerows(zip(map(str, ids), *cells, strict=True))
        job.path = path

    def describe(self, job: BulkJob) -> dict[str, Any]:
        detail: dict[str, Any] = {
            "id": job.id,
            "operation": "read",
            "state": job.state,
            "query": job.query,
            "created_by": {"id": API_USER["id"], "name": API_USER["name"]},
            "created_time": self.store.times.format_ms(job.created_ms),
            "file_type": "csv",
        }
        if job.state == "COMPLETED":
            detail["result"] = {
                "page": job.page,
                "count": job.count,
                "download_url": f"/crm/bulk/v8/read/{job.id}/result",
                "per_page": ROWS_PER_PAGE,
                "more_records": job.more_records,
                "next_page_token": page_token_for(job.page + 1) if job.more_records else None,
            }
        return detail

    def close(self) -> None:
        self._queue.put(None)
        self._worker.join(timeout=30)


def bulk_routes(jobs: BulkReadJobs) -> list[BaseRoute]:
    async def create(request: Request) -> Response:
        request.state.zoho_credits = 50
        try:
            body = orjson.loads(await request.body() or b"{}")
            job = jobs.create(body)
        except orjson.JSONDecodeError:
            return crm_error(400, "REQUEST_BODY_NOT_READABLE", "the request body is not valid JSON")
        except BulkReadError as error:
            return crm_error(error.status, error.code, error.message, error.details)
        details = {
            key: value for key, value in jobs.describe(job).items() if key not in ("query", "file_type")
        }
        payload = {
            "data": [
                {
                    "status": "success",
                    "code": "ADDED_SUCCESSFULLY",
                    "message": "Added successfully.",
                    "details": details,
                }
            ],
            "info": {},
        }
        return json_response(payload, 201)

    def _job(request: Request) -> BulkJob | Response:
        job = jobs.jobs.get(request.path_params["job_id"])
        if job is None:
            return crm_error(
                404, "RESOURCE_NOT_FOUND", "the requested resource doesn't exist", {"resource": "job_id"}
            )
        return job

    async def status(request: Request) -> Response:
        job = _job(request)
        return job if isinstance(job, Response) else json_response({"data": [jobs.describe(job)]})

    async def result(request: Request) -> Response:
        job = _job(request)
        if isinstance(job, Response):
            return job
        if job.state != "COMPLETED" or job.path is None:
            return crm_error(400, "RESOURCE_NOT_FOUND", "the job has not completed", {"resource": "job_id"})
        return FileResponse(job.path, media_type="application/zip", filename=f"{job.id}.zip")

    return [
        Route("/crm/bulk/{version}/read", create, methods=["POST"]),
        Route("/crm/bulk/{version}/read/{job_id}", status, methods=["GET"]),
        Route("/crm/bulk/{version}/read/{job_id}/result", result, methods=["GET"]),
    ]
