"""Error bodies in the shapes each Zoho product uses."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

BOOKS_CODES = {401: 57, 429: 44, 500: 1, 502: 1, 503: 1, 404: 5}


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """orjson-encoded JSON (records carry unicode and emoji; orjson keeps them as UTF-8)."""
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json", headers=headers)


def crm_error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"code": code, "details": details or {}, "message": message, "status": "error"}


def crm_error(
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    return json_response(crm_error_body(code, message, details), status, headers)


def api_error(
    path: str,
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """An error from the middleware, shaped by product: Books and Projects differ from CRM."""
    if path.startswith("/books/"):
        body: dict[str, Any] = {"code": BOOKS_CODES.get(status, 1), "message": message}
    elif path.startswith(("/restapi/", "/api/v3/")):
        body = {"error": {"code": BOOKS_CODES.get(status, 1), "message": message}}
    else:
        body = crm_error_body(code, message, details)
    return json_response(body, status, headers)
