"""/__sandbox/*: ground truth and runtime knobs for tests and benchmarks (no auth, not API calls)."""

from __future__ import annotations

from datetime import datetime

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from zoho_pipelines.sandbox.crm_catalog import MODULES
from zoho_pipelines.sandbox.errors import json_response
from zoho_pipelines.sandbox.state import SandboxState


def _problem(message: str, status: int = 400) -> Response:
    return json_response({"error": message}, status)


async def _json_body(request: Request) -> dict:
    raw = await request.body()
    body = orjson.loads(raw) if raw else {}
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    return body


def control_routes(state: SandboxState) -> list[BaseRoute]:
    async def stats(request: Request) -> Response:
        return json_response(state.stats_snapshot())

    async def faults(request: Request) -> Response:
        try:
            return json_response(state.set_faults(**await _json_body(request)))
        except (ValueError, TypeError) as error:
            return _problem(str(error))

    async def expire_tokens(request: Request) -> Response:
        state.expire_access_tokens()
        return json_response({"expired": True})

    async def mutate(request: Request) -> Response:
        try:
            body = await _json_body(request)
            module = str(body.get("module", ""))
            if module not in MODULES:
                return _problem(f"unknown module {module!r}")
            counts = {key: int(body.get(key, 0)) for key in ("creates", "edits", "deletes")}
        except (ValueError, TypeError) as error:
            return _problem(str(error))
        return json_response(state.crm.mutate(module, **counts))

    async def truth_window(request: Request) -> Response:
        module = request.path_params["module"]
        if module not in MODULES:
            return _problem(f"unknown module {module!r}", 404)
        try:
            start = datetime.fromisoformat(request.query_params["start"])
            end = datetime.fromisoformat(request.query_params["end"])
        except (KeyError, ValueError):
            return _problem("start and end must be ISO-8601 date-times with an offset")
        if start.tzinfo is None or end.tzinfo is None:
            return _problem("start and end must carry an offset")
        return json_response(
            {
                "modified": [str(i) for i in state.crm.modified_ids(module, start, end)],
                "deleted": [str(i) for i in state.crm.deleted_ids(module, start, end)],
            }
        )

    async def truth_record(request: Request) -> Response:
        module = request.path_params["module"]
        if module not in MODULES:
            return _problem(f"unknown module {module!r}", 404)
        try:
            return json_response(state.crm.record(module, int(request.path_params["record_id"])))
        except (KeyError, ValueError):
            return _problem("no such record", 404)

    return [
        Route("/__sandbox/stats", stats, methods=["GET"]),
        Route("/__sandbox/faults", faults, methods=["POST"]),
        Route("/__sandbox/expire-tokens", expire_tokens, methods=["POST"]),
        Route("/__sandbox/mutate", mutate, methods=["POST"]),
        Route("/__sandbox/truth/{module}", truth_window, methods=["GET"]),
        Route("/__sandbox/truth/{module}/{record_id}", truth_record, methods=["GET"]),
    ]
