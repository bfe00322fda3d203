import httpx
import pytest

from zoho_pipelines.zoho.errors import (
    ZohoAPIError,
    ZohoAuthError,
    ZohoInvalidDataError,
    ZohoNotFoundError,
    ZohoRateLimitError,
    ZohoServerError,
    error_from_response,
    parse_error_body,
)


def _crm(code: str, message: str = "m", **details: object) -> dict[str, object]:
    return {"code": code, "details": details, "message": message, "status": "error"}


def _error(status: int, body: object = None, headers: dict[str, str] | None = None) -> ZohoAPIError:
    response = (
        httpx.Response(status, json=body, headers=headers)
        if body is not None
        else httpx.Response(status, content=b"<html>Bad gateway</html>", headers=headers)
    )
    return error_from_response(response, method="GET", path="/crm/v8/Deals")


def test_crm_shaped_body_gives_code_message_and_details():
    error = _error(
        400,
        {
            "code": "INVALID_DATA",
            "details": {"api_name": "Amount", "json_path": "$.data[0].Amount"},
            "message": "invalid data",
            "status": "error",
        },
    )
    assert type(error) is ZohoInvalidDataError
    assert (error.status, error.code, error.message) == (400, "INVALID_DATA", "invalid data")
    assert error.details == {"api_name": "Amount", "json_path": "$.data[0].Amount"}
    assert (error.method, error.path) == ("GET", "/crm/v8/Deals")
    assert str(error) == "GET /crm/v8/Deals HTTP 400 INVALID_DATA - invalid data"


def test_crm_error_wrapped_in_data_array_is_unwrapped():
    error = _error(
        400, {"data": [{"code": "INVALID_QUERY", "details": {}, "message": "bad", "status": "error"}]}
    )
    assert (type(error), error.code) == (ZohoInvalidDataError, "INVALID_QUERY")


def test_books_shaped_body_has_numeric_code_as_text():
    error = _error(404, {"code": 1002, "message": "Contact does not exist."})
    assert (type(error), error.code, error.message) == (ZohoNotFoundError, "1002", "Contact does not exist.")


def test_accounts_shaped_body_is_an_auth_error():
    code, message, details = parse_error_body(b'{"error": "invalid_code"}')
    assert (code, message, details) == ("invalid_code", "invalid_code", {})
    assert type(_error(200, {"error": "invalid_client"})) is ZohoAuthError


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (401, _crm("INVALID_TOKEN"), ZohoAuthError),
        (403, _crm("NO_PERMISSION"), ZohoAuthError),
        (404, _crm("INVALID_URL_PATTERN"), ZohoNotFoundError),
        (400, _crm("INVALID_MODULE"), ZohoNotFoundError),
        (500, _crm("INTERNAL_ERROR"), ZohoServerError),
        (503, None, ZohoServerError),
        (429, _crm("LIMIT_EXCEEDED"), ZohoRateLimitError),
        (400, _crm("LIMIT_EXCEEDED"), ZohoInvalidDataError),
        (400, _crm("LIMIT_REACHED"), ZohoInvalidDataError),
        (409, _crm("DUPLICATE_DATA"), ZohoAPIError),
    ],
)
def test_status_and_code_choose_the_class(status, body, expected):
    assert type(_error(status, body)) is expected


def test_rate_limit_reads_retry_after_from_details_or_header():
    from_details = _error(
        429,
        {"code": "TOO_MANY_REQUESTS", "details": {"retry_after": 2.5}, "message": "slow", "status": "error"},
    )
    from_header = _error(
        429, {"code": "TOO_MANY_REQUESTS", "details": {}, "message": "x"}, {"Retry-After": "7"}
    )
    assert isinstance(from_details, ZohoRateLimitError)
    assert from_details.retry_after == 2.5
    assert isinstance(from_header, ZohoRateLimitError)
    assert from_header.retry_after == 7.0


def test_non_json_body_keeps_a_short_text_message():
    error = _error(502)
    assert type(error) is ZohoServerError
    assert error.code is None
    assert "Bad gateway" in error.message


def test_messages_never_carry_tokens():
    error = _error(
        400, {"code": "INVALID_DATA", "details": {}, "message": "bad header Zoho-oauthtoken 1000.abc.def"}
    )
    assert "1000.abc.def" not in str(error)
