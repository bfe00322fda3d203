"""Reading an API Gateway HTTP API (payload v2) request into headers, query and body fields.

Everything that can be wrong with a request's framing (size, base64, charset, media type, form
syntax) is decided here, before any Zoho-specific parsing, and reported as `RequestTooLarge` or
`MalformedEventError` so the handler can answer 413 or 400 and never 500.
Standard library only: this module ships in the ingress Lambda.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from zoho_pipelines.events.model import MalformedEventError, load_json_object

# EventBridge's limit for one entry; a larger body could never be forwarded whole.
MAX_BODY_BYTES = 256 * 1024
MAX_FORM_FIELDS = 1000

_UTF8_CHARSETS = frozenset({"utf-8", "utf8"})
_ASCII_CHARSETS = frozenset({"us-ascii", "ascii"})
_JSON_TYPES = frozenset({"application/json", "text/json"})
_FORM_TYPE = "application/x-www-form-urlencoded"
_SNIFFED_TYPES = frozenset({"", "text/plain"})


class RequestTooLarge(Exception):
    """The body exceeds what the ingress forwards (answered with 413)."""


@dataclass(frozen=True, slots=True)
class IncomingRequest:
    """The parts of an HTTP request the ingress looks at; header names are lower case.

    A base64 body is decoded only when asked for, so that a caller who fails authentication by
    header learns nothing about how its body would have been read.
    """

    headers: Mapping[str, str]
    query: Mapping[str, str]
    raw_body: str | bytes  # bytes, or the still-encoded text of a base64 body
    request_id: str | None
    max_body_bytes: int = MAX_BODY_BYTES

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def body(self) -> bytes:
        if isinstance(self.raw_body, bytes):
            return self.raw_body
        try:
            raw = base64.b64decode(self.raw_body, validate=True)
        except (binascii.Error, ValueError):
            raise MalformedEventError("body is not valid base64") from None
        if len(raw) > self.max_body_bytes:
            raise RequestTooLarge
        return raw


def read_request(event: Mapping[str, Any], max_body_bytes: int = MAX_BODY_BYTES) -> IncomingRequest:
    """Take an API Gateway v2 event apart, refusing oversized bodies before decoding anything."""
    if not isinstance(event, Mapping):
        raise MalformedEventError("the event must be an API Gateway v2 object")
    headers = _string_map(event.get("headers"), "headers", lower_keys=True)
    query = _string_map(event.get("queryStringParameters"), "query string", lower_keys=False)
    context = event.get("requestContext") if isinstance(event.get("requestContext"), Mapping) else {}
    request_id = context.get("requestId") if isinstance(context.get("requestId"), str) else None
    return IncomingRequest(
        headers=headers,
        query=query,
        raw_body=_sized_body(event.get("body"), event.get("isBase64Encoded") is True, max_body_bytes),
        request_id=request_id,
        max_body_bytes=max_body_bytes,
    )


def body_text(request: IncomingRequest) -> str:
    """The body as text in its declared charset; only UTF-8 (and its ASCII subset) is accepted
    because Zoho sends UTF-8 and every consumer downstream speaks JSON, which is UTF-8."""
    _, charset = content_type(request)
    if charset is not None and charset not in _UTF8_CHARSETS | _ASCII_CHARSETS:
        raise MalformedEventError("unsupported charset: send UTF-8")
    codec = "ascii" if charset in _ASCII_CHARSETS else "utf-8"
    try:
        return request.body().decode(codec)
    except UnicodeDecodeError:
        raise MalformedEventError(f"body is not valid {codec.upper()}") from None


def is_json_body(request: IncomingRequest) -> bool:
    """JSON by media type; an untyped or text/plain body is JSON when it starts like an object
    (Zoho's "raw" webhook bodies are sometimes sent as text/plain)."""
    media_type, _ = content_type(request)
    if media_type in _JSON_TYPES or media_type.endswith("+json"):
        return True
    if media_type == _FORM_TYPE:
        return False
    if media_type in _SNIFFED_TYPES:
        return request.body().lstrip()[:1] == b"{"
    raise MalformedEventError("unsupported content type: send JSON or form-encoded bodies")


def body_fields(request: IncomingRequest) -> dict[str, Any]:
    """The body as a mapping: a JSON object, or form fields (a repeated key becomes a list)."""
    text = body_text(request)
    if is_json_body(request):
        return load_json_object(text)
    try:
        pairs = parse_qsl(
            text,
            keep_blank_values=True,
            strict_parsing=bool(text),
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_FORM_FIELDS,
        )
    except (ValueError, UnicodeDecodeError):
        raise MalformedEventError("body is not valid form encoding") from None
    return flatten_form(pairs)


def flatten_form(pairs: Sequence[tuple[str, str]]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for key, value in pairs:
        if key in fields:
            existing = fields[key]
            fields[key] = [*existing, value] if isinstance(existing, list) else [existing, value]
        else:
            fields[key] = value
    return fields


def content_type(request: IncomingRequest) -> tuple[str, str | None]:
    """(media type, charset), both lower case; charset None when not declared."""
    raw = request.header("content-type") or ""
    media_type, _, parameters = raw.partition(";")
    charset = None
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    return media_type.strip().lower(), charset


def _string_map(value: Any, name: str, *, lower_keys: bool) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise MalformedEventError(f"{name} must be an object")
    result = {}
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise MalformedEventError(f"{name} must map strings to strings")
        result[key.lower() if lower_keys else key] = item
    return result


def _sized_body(body: Any, is_base64: bool, max_body_bytes: int) -> str | bytes:
    """Text bodies as UTF-8 bytes; base64 bodies still encoded (see `IncomingRequest.body`)."""
    if body is None:
        return b""
    if not isinstance(body, str):
        raise MalformedEventError("body must be a string")
    if is_base64:
        # 4 characters carry 3 bytes: refuse before decoding what cannot fit once decoded.
        if len(body) > 4 * ((max_body_bytes + 2) // 3):
            raise RequestTooLarge
        return body
    # A character is at least one byte, so the character count is a cheap lower bound.
    if len(body) > max_body_bytes:
        raise RequestTooLarge
    raw = body.encode("utf-8", "surrogatepass")
    if len(raw) > max_body_bytes:
        raise RequestTooLarge
    return raw
