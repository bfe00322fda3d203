"""CRM record endpoints: list (discrete pages and page tokens), one record, deleted, update.

The v8 rules apply whatever version prefix (v2..v8) the caller uses: `fields` is required and
capped at 50, `page` reaches only the first 2,000 records, `page_token` goes on to 100,000.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, TypeVar

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from zoho_pipelines.sandbox.crm_catalog import MODULES, USERS, ModuleSpec
from zoho_pipelines.sandbox.crm_store import API_USER_INDEX, SORT_FIELDS
from zoho_pipelines.sandbox.crm_validation import MAX_RECORDS_PER_UPDATE, RecordProblem, validate_record
from zoho_pipelines.sandbox.crm_values import parse_datetime_ms
from zoho_pipelines.sandbox.errors import crm_error, json_response
from zoho_pipelines.sandbox.page_tokens import PAGE_TOKEN_RECORD_LIMIT, PageTokenError, binding_digest

if TYPE_CHECKING:  # state.py imports notifications.py, which pages with page_of below
    from zoho_pipelines.sandbox.state import SandboxState

T = TypeVar("T")

MAX_FIELDS = 50
INTEGER = re.compile(r"[+-]?[0-9]{1,10}")  # int32 has at most 10 digits; int() refuses 4,300
INT32_MAX = 2**31 - 1
MAX_PER_PAGE = 200
DISCRETE_LIMIT = 2_000
MAX_IDS = 100
BOUND_PARAMS = (
    "fields",
    "sort_by",
    "sort_order",
    "per_page",
    "cvid",
    "converted",
    "approved",
    "territory_id",
)
VERSIONS = {f"v{n}" for n in range(2, 9)}


class BadRequest(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__("bad request")
        self.response = response


def invalid_param(name: str, message: str = "invalid data", **extra: Any) -> BadRequest:
    return BadRequest(crm_error(400, "INVALID_DATA", message, {"param_name": name, **extra}))


def resolve_module(request: Request) -> ModuleSpec:
    if request.path_params.get("version") not in VERSIONS:
        raise BadRequest(
            crm_error(404, "INVALID_URL_PATTERN", "Please check if the URL trying to access is a correct one")
        )
    module = MODULES.get(request.path_params["module"])
    if module is None:
        raise BadRequest(
            crm_error(
                400, "INVALID_MODULE", "the module name given seems to be invalid", {"resource_path_index": 0}
            )
        )
    return module


def requested_fields(request: Request, module: ModuleSpec, *, required: bool) -> list[str]:
    raw = request.query_params.get("fields")
    if not raw:
        if required:
            raise BadRequest(
                crm_error(
                    400,
                    "REQUIRED_PARAM_MISSING",
                    "One of the expected parameter is missing",
                    {"param_name": "fields"},
                )
            )
        return [spec.api_name for spec in module.fields]
    names = [name for name in dict.fromkeys(part.strip() for part in raw.split(",")) if name and name != "id"]
    if len(names) > MAX_FIELDS:
        raise BadRequest(
            crm_error(
                400,
                "LIMIT_EXCEEDED",
                "Max field limit exceeded",
                {"param_name": "fields", "limit": MAX_FIELDS},
            )
        )
    for name in names:
        if name not in module.by_name:
            raise invalid_param("fields", api_name=name)
    return names


def page_of(items: Sequence[T], page: int, per_page: int) -> tuple[Sequence[T], dict[str, Any]]:
    """Page `page` of a listing and the `info` block CRM's list APIs send with it; the caller
    answers 204 when the page is empty, as those APIs do."""
    chosen = items[(page - 1) * per_page : page * per_page]
    info = {
        "per_page": per_page,
        "page": page,
        "count": len(chosen),
        "more_records": page * per_page < len(items),
    }
    return chosen, info


def positive_int(request: Request, name: str, default: int, maximum: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    # The v8 spec types page and per_page as integer, int32 (record.json): not whatever int() reads.
    if not INTEGER.fullmatch(raw) or abs(value := int(raw)) > INT32_MAX:
        raise invalid_param(name, expected_data_type="integer")
    if value < 1 or (maximum is not None and value > maximum):
        raise invalid_param(name, **({"maximum_length": maximum} if maximum else {}))
    return value


def modified_since_ms(request: Request) -> int | None:
    """If-Modified-Since as epoch ms: ISO-8601 with offset (Zoho's form) or an HTTP date."""
    raw = request.headers.get("if-modified-since")
    if not raw:
        return None
    try:
        return parse_datetime_ms(raw)
    except ValueError:
        pass
    try:
        return int(parsedate_to_datetime(raw).timestamp() * 1000)
    except (TypeError, ValueError):
        raise invalid_param("If-Modified-Since", expected_data_type="datetime") from None


def records_routes(state: SandboxState) -> list[BaseRoute]:
    store = state.crm

    def page_info(
        per_page: int,
        count: int,
        page: int,
        sort_by: str,
        sort_order: str,
        more: bool,
        token: str | None,
        expiry_ms: int | None,
    ) -> dict[str, Any]:
        return {
            "per_page": per_page,
            "next_page_token": token,
            "count": count,
            "sort_by": sort_by,
            "page": page,
            "previous_page_token": None,
            "page_token_expiry": store.times.format_ms(expiry_ms) if expiry_ms else None,
            "sort_order": sort_order,
            "more_records": more,
        }

    def by_ids(module: ModuleSpec, raw: str, fields: list[str]) -> Response:
        parts = [part.strip() for part in raw.split(",") if part.strip()]
        if len(parts) > MAX_IDS or not all(part.isdigit() for part in parts):
            raise invalid_param("ids")
        rows = [store.index_of(module.api_name, int(part)) for part in parts]
        rows = [row for row in dict.fromkeys(rows) if row is not None and store.is_live(module.api_name, row)]
        if not rows:
            return Response(status_code=204)
        data = store.render(module.api_name, rows, fields)
        info = page_info(len(rows), len(rows), 1, "id", "desc", False, None, None)
        return json_response({"data": data, "info": info})

    async def list_records(request: Request) -> Response:
        try:
            module = resolve_module(request)
            fields = requested_fields(request, module, required=True)
            if raw_ids := request.query_params.get("ids"):
                return by_ids(module, raw_ids, fields)
            per_page = positive_int(request, "per_page", MAX_PER_PAGE, MAX_PER_PAGE)
            sort_by = request.query_params.get("sort_by") or "id"
            if sort_by not in SORT_FIELDS:
                raise invalid_param("sort_by", supported_values=list(SORT_FIELDS))
            sort_order = request.query_params.get("sort_order") or "desc"
            if sort_order not in ("asc", "desc"):
                raise invalid_param("sort_order", supported_values=["asc", "desc"])
            since = modified_since_ms(request)
            bound = {name: request.query_params.get(name, "") for name in BOUND_PARAMS}
            bound.update(
                module=module.api_name, if_modified_since=str(since), fields=",".join(sorted(fields))
            )
            binding = binding_digest(bound)
            token = request.query_params.get("page_token")
            descending = sort_order == "desc"
            if token:
                try:
                    cursor = state.page_tokens.read(token, binding)
                except PageTokenError as error:
                    return token_error(error.code)
                if cursor.served >= PAGE_TOKEN_RECORD_LIMIT:
                    return crm_error(
                        400,
                        "LIMIT_REACHED",
                        "Record count exceeded",
                        {"param_name": "page_token", "limit": PAGE_TOKEN_RECORD_LIMIT},
                    )
                limit = min(per_page, PAGE_TOKEN_RECORD_LIMIT - cursor.served)
                page = store.page(
                    module.api_name,
                    sort_by=sort_by,
                    descending=descending,
                    since_ms=since,
                    limit=limit,
                    after_key=cursor.last_key,
                )
                served_before = cursor.served
            else:
                page_number = positive_int(request, "page", 1)
                if page_number * per_page > DISCRETE_LIMIT:
                    return crm_error(
                        400,
                        "DISCRETE_PAGINATION_LIMIT_EXCEEDED",
                        "Only the first 2000 records can be fetched with page; use page_token for more",
                        {"limit": DISCRETE_LIMIT, "param_name": "page"},
                    )
                served_before = (page_number - 1) * per_page
                page = store.page(
                    module.api_name,
                    sort_by=sort_by,
                    descending=descending,
                    since_ms=since,
                    limit=per_page,
                    offset=served_before,
                )
        except BadRequest as bad:
            return bad.response
        count = len(page.indices)
        if count == 0:
            return Response(status_code=204)
        served = served_before + count
        next_token, expiry = None, None
        if page.more and page.last_key is not None:
            next_token, expiry = state.page_tokens.mint(binding, page.last_key, served)
        data = store.render(module.api_name, page.indices, fields)
        info = page_info(
            per_page, count, served_before // per_page + 1, sort_by, sort_order, page.more, next_token, expiry
        )
        return json_response({"data": data, "info": info})

    def token_error(code: str) -> Response:
        if code == "EXPIRED_VALUE":
            return crm_error(
                400,
                "EXPIRED_VALUE",
                "Page token expired",
                {"api_name": "page_token", "json_path": "$.query.page_token"},
            )
        if code == "TOKEN_BOUND_DATA_MISMATCH":
            return crm_error(
                400,
                "TOKEN_BOUND_DATA_MISMATCH",
                "The page_token given seems to be invalid or input param is added or altered or deleted",
                {"param_name": "page_token"},
            )
        return crm_error(400, "INVALID_DATA", "invalid data", {"param_name": "page_token"})

    async def one_record(request: Request) -> Response:
        try:
            module = resolve_module(request)
            fields = requested_fields(request, module, required=False)
        except BadRequest as bad:
            return bad.response
        raw = request.path_params["record_id"]
        if not raw.isdigit():
            return crm_error(
                400, "INVALID_DATA", "the id given seems to be invalid", {"resource_path_index": 1}
            )
        index = store.index_of(module.api_name, int(raw))
        if index is None or not store.is_live(module.api_name, index):
            return Response(status_code=204)
        return json_response({"data": store.render(module.api_name, [index], fields)})

    async def deleted(request: Request) -> Response:
        try:
            module = resolve_module(request)
            kind = request.query_params.get("type") or "all"
            if kind not in ("all", "recycle", "permanent"):
                raise invalid_param("type", supported_values=["all", "recycle", "permanent"])
            per_page = positive_int(request, "per_page", MAX_PER_PAGE, MAX_PER_PAGE)
            page_number = positive_int(request, "page", 1)
            since = modified_since_ms(request)
        except BadRequest as bad:
            return bad.response
        rows = store.deleted_indices(module.api_name, kind, since)
        chosen, info = page_of(rows, page_number, per_page)
        if len(chosen) == 0:
            return Response(status_code=204)
        with store.lock:
            data = [store.deleted_entry(module.api_name, int(row)) for row in chosen]
        return json_response({"data": data, "info": info})

    async def update(request: Request) -> Response:
        try:
            module = resolve_module(request)
        except BadRequest as bad:
            return bad.response
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return crm_error(400, "INVALID_DATA", "body", {})
        records = body.get("data") if isinstance(body, dict) else None
        if not isinstance(records, list) or not records:
            return crm_error(
                400,
                "MANDATORY_NOT_FOUND",
                "required field not found",
                {"api_name": "data", "json_path": "$.data"},
            )
        if len(records) > MAX_RECORDS_PER_UPDATE:
            return crm_error(
                400,
                "LIMIT_EXCEEDED",
                "Record count exceeded",
                {"api_name": "data", "limit": MAX_RECORDS_PER_UPDATE},
            )
        path_id = request.path_params.get("record_id")
        results: list[dict[str, Any]] = []
        seen: set[int] = set()
        for position, record in enumerate(records):
            try:
                index, values = validate_record(store, module, record, position, path_id, seen)
            except RecordProblem as problem:
                results.append(problem.body)
                continue
            modified = store.update(module.api_name, index, values)
            results.append(success(module, index, modified))
        failures = sum(result["status"] == "error" for result in results)
        status = 200 if failures == 0 else 400 if failures == len(results) else 207
        return json_response({"data": results}, status)

    def success(module: ModuleSpec, index: int, modified_ms: int) -> dict[str, Any]:
        columns = store.columns[module.api_name]
        creator = USERS[int(columns.created_by[index])]
        editor = USERS[API_USER_INDEX]
        return {
            "code": "SUCCESS",
            "details": {
                "Modified_Time": store.times.format_ms(modified_ms),
                "Modified_By": {"name": editor["name"], "id": editor["id"]},
                "Created_Time": store.times.format_ms(int(columns.created_ms[index])),
                "id": str(store.record_id(module.api_name, index)),
                "Created_By": {"name": creator["name"], "id": creator["id"]},
            },
            "message": "record updated",
            "status": "success",
        }

    return [
        Route("/crm/{version}/{module}/deleted", deleted, methods=["GET"]),
        Route("/crm/{version}/{module}", list_records, methods=["GET"]),
        Route("/crm/{version}/{module}", update, methods=["PUT"]),
        Route("/crm/{version}/{module}/{record_id}", one_record, methods=["GET"]),
        Route("/crm/{version}/{module}/{record_id}", update, methods=["PUT"]),
    ]
