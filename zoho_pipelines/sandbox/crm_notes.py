"""CRM Notes: a record's notes (`GET /crm/{version}/{module}/{record_id}/Notes`), adding notes
(`POST /crm/{version}/Notes`) and deleting them (`DELETE /crm/{version}/Notes?ids=`), as Zoho
documents them: https://www.zoho.com/crm/developer/docs/api/v8/get-notes.html,
https://www.zoho.com/crm/developer/docs/api/v8/create-notes.html and
https://www.zoho.com/crm/developer/docs/api/v8/delete-notes.html.

Modelled: `fields` required on the listing, 200 notes a page with `info.more_records`, 204 when
a record has none; `Note_Content` and `Parent_Id` (module api name and a live record id)
mandatory on create, per-note results (201 when all are added; on delete, 200 when all are
gone, an error entry per unknown id), and, as in Zoho, no refusal of a second note with the same
title.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from zoho_pipelines.sandbox.crm_catalog import MODULES, USERS
from zoho_pipelines.sandbox.crm_records import VERSIONS, BadRequest, page_of, positive_int, resolve_module
from zoho_pipelines.sandbox.crm_store import API_USER_INDEX
from zoho_pipelines.sandbox.errors import crm_error, crm_error_body, json_response
from zoho_pipelines.sandbox.state import SandboxState

NOTES_PER_PAGE = 200
MAX_NOTES_PER_CREATE = 100


def notes_routes(state: SandboxState) -> list[BaseRoute]:
    store, notes = state.crm, state.notes

    def live(module: str, record_id: str) -> bool:
        index = store.index_of(module, int(record_id)) if record_id.isdigit() else None
        return index is not None and store.is_live(module, index)

    async def list_notes(request: Request) -> Response:
        try:
            module = resolve_module(request)
            per_page = positive_int(request, "per_page", NOTES_PER_PAGE, NOTES_PER_PAGE)
            page = positive_int(request, "page", 1)
        except BadRequest as bad:
            return bad.response
        if not request.query_params.get("fields"):
            return crm_error(
                400,
                "REQUIRED_PARAM_MISSING",
                "One of the expected parameter is missing",
                {"param_name": "fields"},
            )
        record_id = request.path_params["record_id"]
        if not live(module.api_name, record_id):
            return crm_error(
                400, "INVALID_DATA", "the related id given seems to be invalid", {"id": record_id}
            )
        chosen, info = page_of(notes.of_record(module.api_name, record_id), page, per_page)
        if not chosen:
            return Response(status_code=204)
        return json_response({"data": chosen, "info": info})

    async def create_notes(request: Request) -> Response:
        if request.path_params["version"] not in VERSIONS:
            return crm_error(
                404, "INVALID_URL_PATTERN", "Please check if the URL trying to access is a correct one"
            )
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return crm_error(400, "INVALID_DATA", "body", {})
        entries = body.get("data") if isinstance(body, dict) else None
        if not isinstance(entries, list) or not entries or len(entries) > MAX_NOTES_PER_CREATE:
            return crm_error(400, "INVALID_DATA", "data must list 1 to 100 notes", {"api_name": "data"})
        results = [create_one(entry) for entry in entries]
        failures = sum(result["status"] == "error" for result in results)
        status = 201 if failures == 0 else 400 if failures == len(results) else 207
        return json_response({"data": results}, status)

    def create_one(entry: Any) -> dict[str, Any]:
        if not isinstance(entry, dict) or not isinstance(entry.get("Note_Content"), str):
            return crm_error_body(
                "MANDATORY_NOT_FOUND", "required field not found", {"api_name": "Note_Content"}
            )
        parent = entry.get("Parent_Id")
        module = ((parent or {}).get("module") or {}).get("api_name") if isinstance(parent, dict) else None
        record_id = str(parent.get("id") or "") if isinstance(parent, dict) else ""
        if module not in MODULES or not live(module, record_id):
            return crm_error_body("INVALID_DATA", "invalid data", {"api_name": "Parent_Id"})
        created = store.times.format_ms(store.now_ms())
        note = notes.add(
            module, record_id, str(entry.get("Note_Title") or ""), entry["Note_Content"], created
        )
        user = USERS[API_USER_INDEX]
        by = {"name": user["name"], "id": user["id"]}
        return {
            "code": "SUCCESS",
            "details": {
                "Modified_Time": created,
                "Modified_By": by,
                "Created_Time": created,
                "id": note["id"],
                "Created_By": by,
            },
            "message": "record added",
            "status": "success",
        }

    async def delete_notes(request: Request) -> Response:
        ids = [part for part in (request.query_params.get("ids") or "").split(",") if part]
        if request.path_params["version"] not in VERSIONS or not ids or len(ids) > MAX_NOTES_PER_CREATE:
            return crm_error(400, "INVALID_DATA", "ids must list 1 to 100 note ids", {"param_name": "ids"})
        results = [
            {"code": "SUCCESS", "details": {"id": note_id}, "message": "record deleted", "status": "success"}
            if notes.delete(note_id)
            else crm_error_body("INVALID_DATA", "the id given seems to be invalid", {"id": note_id})
            for note_id in ids
        ]
        failures = sum(result["status"] == "error" for result in results)
        status = 200 if failures == 0 else 400 if failures == len(results) else 207
        return json_response({"data": results}, status)

    return [
        Route("/crm/{version}/Notes", create_notes, methods=["POST"]),
        Route("/crm/{version}/Notes", delete_notes, methods=["DELETE"]),
        Route("/crm/{version}/{module}/{record_id}/Notes", list_notes, methods=["GET"]),
    ]
