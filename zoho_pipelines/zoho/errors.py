"""The exceptions every Zoho client raises, and how an error response becomes one of them.

Callers decide what to do by class (retry later, re-authenticate, fix the data, give up), so the
class is chosen from the HTTP status and Zoho's error code together. Zoho's three products answer
errors in three shapes: CRM `{"code": "INVALID_DATA", "message", "status": "error", "details"}`
(sometimes wrapped in `{"data": [...]}`), Books `{"code": 1002, "message"}` and the accounts server
`{"error": "invalid_code"}`; all three are understood here. Messages go through `redact` so that no
token or secret can leak through exception text.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from zoho_pipelines.redaction import redact

AUTH_CODES = frozenset(
    {
        "INVALID_TOKEN",
        "AUTHENTICATION_FAILURE",
        "OAUTH_SCOPE_MISMATCH",
        "NO_PERMISSION",
        "invalid_code",
        "invalid_client",
        "invalid_client_secret",
        "unauthorized_client",
    }
)
# Only 429 and TOO_MANY_REQUESTS mean "slow down": Zoho also answers 400 LIMIT_EXCEEDED (a COQL
# LIMIT too large) and 400 LIMIT_REACHED (a page token's 100,000 records), which are not throttling.
RATE_LIMIT_CODES = frozenset({"TOO_MANY_REQUESTS"})
NOT_FOUND_CODES = frozenset({"RESOURCE_NOT_FOUND", "INVALID_URL_PATTERN", "INVALID_MODULE"})


class ZohoAPIError(Exception):
    """A Zoho call that did not succeed; `path` never carries a query string (it may hold ids)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        details: dict[str, Any] | None = None,
        method: str = "",
        path: str = "",
    ) -> None:
        self.message = redact(message)
        self.status = status
        self.code = code
        self.details = details or {}
        self.method = method
        self.path = path
        super().__init__(self._render())

    def _render(self) -> str:
        status = f"HTTP {self.status}" if self.status is not None else ""
        head = " ".join(part for part in (self.method, self.path, status, self.code or "") if part)
        # " - " rather than ": ": redaction masks the word after "token:" or "code:".
        return redact(f"{head} - {self.message}" if head else self.message)


class ZohoAuthError(ZohoAPIError):
    """Credentials or the access token were rejected; retrying will not help."""


class ZohoRateLimitError(ZohoAPIError):
    """Zoho's concurrency or credit limit was hit; `retry_after` is Zoho's hint in seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kwargs)


class ZohoNotFoundError(ZohoAPIError):
    """The module, record, job or URL does not exist."""


class ZohoInvalidDataError(ZohoAPIError):
    """Zoho refused the request as malformed (bad field, criteria, expired page token...)."""


class ZohoServerError(ZohoAPIError):
    """Zoho failed on its side (5xx) and kept failing through the retries."""


class ZohoConnectionError(ZohoAPIError):
    """No usable response at all (timeout, refused or dropped connection) after the retries."""


def parse_error_body(content: bytes) -> tuple[str | None, str, dict[str, Any]]:
    """Return (code, message, details) from any of Zoho's error shapes; tolerate non-JSON bodies."""
    try:
        body = orjson.loads(content) if content else None
    except orjson.JSONDecodeError:
        text = content[:200].decode("utf-8", "replace").strip()
        return None, text, {}
    if isinstance(body, dict) and isinstance(body.get("data"), list) and body["data"]:
        first = body["data"][0]
        if isinstance(first, dict) and "code" in first:
            body = first
    if not isinstance(body, dict):
        return None, "", {}
    if isinstance(body.get("error"), dict):  # Zoho Projects: {"error": {"code": 6404, "message": ...}}
        body = body["error"]
    elif "error" in body and "code" not in body:  # accounts server: {"error": "invalid_code"}
        description = body.get("error_description") or body["error"]
        return str(body["error"]), str(description), {}
    code = body.get("code")
    details = body.get("details") if isinstance(body.get("details"), dict) else {}
    return (None if code is None else str(code)), str(body.get("message", "")), details


def _retry_after(response: httpx.Response, details: dict[str, Any]) -> float | None:
    for raw in (details.get("retry_after"), response.headers.get("Retry-After")):
        if raw is None:
            continue
        try:
            return max(0.0, float(raw))
        except (TypeError, ValueError):
            continue
    return None


def error_class_for(status: int | None, code: str | None) -> type[ZohoAPIError]:
    """Pick the exception class from the status first, then Zoho's code (which can contradict it)."""
    if status == 429 or code in RATE_LIMIT_CODES:
        return ZohoRateLimitError
    if status == 401 or code in AUTH_CODES:
        return ZohoAuthError
    if status is not None and status >= 500:
        return ZohoServerError
    if status == 404 or code in NOT_FOUND_CODES:
        return ZohoNotFoundError
    if status == 403:
        return ZohoAuthError
    if status in (400, 405, 413, 415, 422):
        return ZohoInvalidDataError
    return ZohoAPIError


def error_from_response(response: httpx.Response, *, method: str, path: str) -> ZohoAPIError:
    """Build the exception for a response the caller treats as failed (body already read)."""
    code, message, details = parse_error_body(response.content)
    cls = error_class_for(response.status_code, code)
    kwargs: dict[str, Any] = {
        "status": response.status_code,
        "code": code,
        "details": details,
        "method": method,
        "path": path,
    }
    if cls is ZohoRateLimitError:
        kwargs["retry_after"] = _retry_after(response, details)
    return cls(message or response.reason_phrase, **kwargs)
