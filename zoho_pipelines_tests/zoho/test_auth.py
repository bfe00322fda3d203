"""Token minting against a scripted accounts server (real HTTP on loopback)."""

import logging

import httpx
import pytest

from zoho_pipelines.zoho.auth import TokenProvider
from zoho_pipelines.zoho.errors import ZohoAuthError, ZohoRateLimitError
from zoho_pipelines_tests.zoho.scripted_server import (
    CLIENT_ID,
    CLIENT_SECRET,
    FAST_RETRIES,
    REFRESH_TOKEN,
    Canned,
    ScriptedZoho,
    scripted_credentials,
)


class ManualClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def server():
    with ScriptedZoho() as scripted:
        yield scripted


@pytest.fixture
def http():
    with httpx.Client(timeout=5) as client:
        yield client


def _provider(server: ScriptedZoho, http: httpx.Client, **options) -> TokenProvider:
    return TokenProvider(
        scripted_credentials(), server.url, http, data_center="eu", retry_policy=FAST_RETRIES, **options
    )


def test_refresh_grant_sends_the_credentials_as_a_form_and_keeps_the_api_domain(server, http):
    token = _provider(server, http).token()
    assert server.token_requests == [
        {
            "grant_type": ["refresh_token"],
            "client_id": [CLIENT_ID],
            "client_secret": [CLIENT_SECRET],
            "refresh_token": [REFRESH_TOKEN],
        }
    ]
    assert token.api_domain == server.url
    assert token.value not in repr(token)


def test_token_is_cached_until_shortly_before_expiry(server, http):
    clock = ManualClock()
    provider = _provider(server, http, clock=clock, refresh_margin_s=300)
    first = provider.token()
    clock.now += 3_600 - 301
    assert provider.token() is first
    clock.now += 2
    assert provider.token() is not first
    assert len(server.token_requests) == 2


def test_invalidate_only_drops_the_token_it_names(server, http):
    provider = _provider(server, http)
    stale = provider.token()
    provider.invalidate(stale)
    fresh = provider.token()
    provider.invalidate(stale)  # a late 401 for the old token must not cost another refresh
    assert provider.token() is fresh
    assert len(server.token_requests) == 2


def test_rejected_refresh_token_names_dc_and_client_but_no_secret(server, http, caplog):
    caplog.set_level(logging.DEBUG)
    server.token_script.put(Canned(200, {"error": "invalid_code"}))
    with pytest.raises(ZohoAuthError) as caught:
        _provider(server, http).token()
    message = str(caught.value)
    assert CLIENT_ID in message
    assert "eu" in message
    assert "invalid_code" in message
    assert caught.value.code == "invalid_code"
    for secret in (CLIENT_SECRET, REFRESH_TOKEN):
        assert secret not in message
        assert secret not in repr(caught.value)
        assert secret not in caplog.text
    assert len(server.token_requests) == 1  # a rejection is final, not retried


def test_accounts_server_failures_are_retried(server, http):
    server.token_script.put(Canned(503, b"unavailable"))
    server.token_script.put(Canned(drop=True))
    assert _provider(server, http).token().value.startswith("1000.scripted-access-")
    assert len(server.token_requests) == 3


def test_token_endpoint_throttling_is_a_rate_limit_error(server, http):
    throttled = Canned(
        400,
        {
            "error": "Access Denied",
            "error_description": "You have made too many requests continuously. Please try again later.",
        },
    )
    for _ in range(FAST_RETRIES.max_attempts):
        server.token_script.put(throttled)
    with pytest.raises(ZohoRateLimitError):
        _provider(server, http).token()
    assert len(server.token_requests) == FAST_RETRIES.max_attempts
