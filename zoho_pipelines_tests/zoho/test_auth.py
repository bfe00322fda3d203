"""Token minting against a scripted accounts server (real HTTP on loopback)."""

import logging

import httpx
import pytest

from zoho_pipelines.zoho.auth import BLOCK_GRACE_S, MINT_WINDOW_S, TokenMintBlockedError, TokenProvider
from zoho_pipelines.zoho.errors import ZohoAuthError, ZohoRateLimitError
from zoho_pipelines.zoho.token_store import MemoryTokenStore
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


THROTTLED = Canned(
    400,
    {
        "error": "Access Denied",
        "error_description": (
            "You have made too many requests continuously. Please try again after some time."
        ),
    },
)


class SteppingSleep:
    """The provider's `sleep`: records each wait and moves the manual clock instead of waiting."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.clock.now += seconds


def test_a_refused_mint_is_waited_out_not_retried_in_a_loop(server, http, caplog):
    caplog.set_level(logging.DEBUG)
    clock = ManualClock()
    sleep = SteppingSleep(clock)
    server.token_script.put(THROTTLED)
    token = _provider(server, http, clock=clock, sleep=sleep).token()
    assert token.value.startswith("1000.scripted-access-")
    assert len(server.token_requests) == 2  # refused once, asked again only after the window
    assert sleep.waits == [MINT_WINDOW_S + BLOCK_GRACE_S]  # no mint on record: a whole window
    waits = [record for record in caplog.records if record.name == "zoho_pipelines.zoho.auth"]
    announced = [record.getMessage() for record in waits if record.levelno == logging.WARNING]
    assert len(announced) == 1
    assert CLIENT_ID in announced[0]
    assert "waiting 605 s" in announced[0]
    for secret in (CLIENT_SECRET, REFRESH_TOKEN, token.value):
        assert secret not in caplog.text


def test_a_refused_mint_waits_only_for_the_rest_of_the_window_it_knows_of(server, http):
    clock = ManualClock()
    sleep = SteppingSleep(clock)
    provider = _provider(server, http, clock=clock, sleep=sleep)
    first = provider.token()
    clock.now += 100
    provider.invalidate(first)
    server.token_script.put(THROTTLED)
    provider.token()
    # The window opened with our mint 100 s ago, so 500 s of it are left (plus the grace).
    assert sleep.waits == [pytest.approx(MINT_WINDOW_S - 100 + BLOCK_GRACE_S)]


def test_a_block_longer_than_the_caller_can_wait_is_a_rate_limit_error(server, http):
    clock = ManualClock()
    server.token_script.put(THROTTLED)
    provider = _provider(server, http, clock=clock, sleep=SteppingSleep(clock), max_block_wait_s=30)
    with pytest.raises(ZohoRateLimitError) as caught:
        provider.token()
    assert isinstance(caught.value, TokenMintBlockedError)
    assert caught.value.retry_after == pytest.approx(MINT_WINDOW_S + BLOCK_GRACE_S)
    assert len(server.token_requests) == 1


def test_providers_sharing_a_store_mint_once_and_share_the_refusal(server, http, caplog):
    caplog.set_level(logging.WARNING, logger="zoho_pipelines.zoho.auth")
    clock = ManualClock()
    store = MemoryTokenStore()
    first = _provider(server, http, clock=clock, sleep=SteppingSleep(clock), store=store)
    second = _provider(server, http, clock=clock, sleep=SteppingSleep(clock), store=store)
    token = first.token()
    assert second.token().value == token.value
    assert len(server.token_requests) == 1

    second.invalidate(second.token())
    first.invalidate(token)  # late: the store no longer holds it, nothing more to drop
    server.token_script.put(THROTTLED)
    renewed = second.token()  # refused, waits the window out, then mints
    assert first.token().value == renewed.value
    assert len(server.token_requests) == 3
    assert len(caplog.records) == 1


def test_a_token_in_the_store_is_used_until_it_expires(server, http):
    clock = ManualClock()
    store = MemoryTokenStore()
    provider = _provider(server, http, clock=clock, store=store, refresh_margin_s=300)
    token = provider.token()
    clock.now += 3_600 - 301
    assert _provider(server, http, clock=clock, store=store).token().value == token.value
    clock.now += 2
    assert _provider(server, http, clock=clock, store=store).token().value != token.value
    assert len(server.token_requests) == 2
