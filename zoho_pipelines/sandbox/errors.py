"""Error bodies in the shapes each Zoho product uses."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

BOOKS_CODES = {401: 57, 429: 44, 500: 1, 502: 1, 503: 1, 404: 5}
"""Books documents the HTTP statuses only (https://www.zoho.com/books/api/v3/errors/); 57 is what
Books answers a refused token with in the field, the others are our choice."""
PROJECTS_CODES = {400: 6832, 401: 6401, 404: 6404, 500: 6500, 502: 6500, 503: 6500}
"""https://www.zoho.com/projects/developers/error-codes.html (6401/6890 for 401, 6404/6504 for 404,
6500 for 500); Projects documents no code for 429, so it shares the 500s' 6500."""


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
        body = {"error": {"code": PROJECTS_CODES.get(status, 6500), "message": message}}
    else:
        body = crm_error_body(code, message, details)
    return json_response(body, status, headers)
