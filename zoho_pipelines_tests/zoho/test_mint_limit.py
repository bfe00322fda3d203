"""Zoho's mint limit in the sandbox (10 tokens per refresh token per 10 minutes, then blocked for the
rest of the window) and the client waiting it out, on the sandbox's manual clock: no real minutes."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from zoho_pipelines.clock import ManualClock
from zoho_pipelines.onboarding import handlers
from zoho_pipelines.sandbox.auth import MINT_BLOCKED_BODY
from zoho_pipelines.sandbox.server import RunningSandbox
from zoho_pipelines.settings import load_settings
from zoho_pipelines.zoho.auth import BLOCK_GRACE_S, TokenMintBlockedError, TokenProvider
from zoho_pipelines.zoho.client import ZohoClient
from zoho_pipelines.zoho.credentials import credentials_from_settings
from zoho_pipelines.zoho.errors import ZohoAPIError, ZohoRateLimitError
from zoho_pipelines.zoho.token_store import MemoryTokenStore

START = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def mint(sandbox: RunningSandbox) -> httpx.Response:
    return httpx.post(
        f"{sandbox.url}/oauth/v2/token",
        data={
            "grant_type": "refresh_token",
            "client_id": sandbox.config.client_id,
            "client_secret": sandbox.config.client_secret,
            "refresh_token": sandbox.config.refresh_token,
        },
        timeout=10,
    )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def limited(sandbox_factory: Callable[..., RunningSandbox], clock: ManualClock) -> RunningSandbox:
    return sandbox_factory(clock=clock, records_per_module=100)


def test_the_eleventh_mint_in_ten_minutes_is_refused_for_the_rest_of_the_window(
    limited: RunningSandbox, clock: ManualClock
) -> None:
    for _ in range(9):
        assert "access_token" in mint(limited).json()
        clock.advance(timedelta(seconds=30))
    assert "access_token" in mint(limited).json()  # the tenth, 270 s into the window
    refused = mint(limited)
    assert (refused.status_code, refused.json()) == (200, MINT_BLOCKED_BODY)
    clock.set(START + timedelta(seconds=599))
    assert mint(limited).json() == MINT_BLOCKED_BODY  # refusals do not move the window, nor end it
    clock.set(START + timedelta(seconds=600))
    assert "access_token" in mint(limited).json()  # a new window
    assert limited.stats()["tokens_issued"] == 11
    assert limited.state is not None
    assert limited.state.tokens.mint_limit.refused == 2


def test_the_limit_is_a_knob(sandbox_factory: Callable[..., RunningSandbox], clock: ManualClock) -> None:
    unlimited = sandbox_factory(clock=clock, records_per_module=100, token_mint_limit=0)
    assert all("access_token" in mint(unlimited).json() for _ in range(25))
    short = sandbox_factory(clock=clock, records_per_module=100, token_mint_limit=2, token_mint_window_s=5)
    assert ["access_token" in mint(short).json() for _ in range(3)] == [True, True, False]
    clock.advance(timedelta(seconds=5))
    assert "access_token" in mint(short).json()


def test_expiring_every_token_closes_the_window(limited: RunningSandbox) -> None:
    """Tokens expiring means their hour has passed, longer than any mint window."""
    for _ in range(10):
        mint(limited)
    assert mint(limited).json() == MINT_BLOCKED_BODY
    assert limited.state is not None
    limited.state.expire_access_tokens()
    assert "access_token" in mint(limited).json()


def test_a_client_whose_org_spent_the_quota_waits_for_the_window_then_works(
    limited: RunningSandbox, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    waits: list[float] = []

    def sleep(seconds: float) -> None:  # waiting, on the sandbox's clock
        waits.append(seconds)
        clock.advance(timedelta(seconds=seconds))

    settings = load_settings(**limited.env())
    store = MemoryTokenStore()
    with httpx.Client(timeout=10) as http:

        def provider() -> TokenProvider:
            return TokenProvider(
                credentials_from_settings(settings),
                limited.url,
                http,
                data_center="com",
                store=store,
                clock=lambda: clock.now().timestamp(),
                sleep=sleep,
            )

        for _ in range(10):  # ten processes in a row: each mints, then finds its token rejected
            process = provider()
            process.invalidate(process.token())
            clock.advance(timedelta(seconds=10))
        blocked_at = clock.now()
        token = provider().token()

    assert limited.state is not None
    assert limited.state.tokens.is_valid(token.value)
    assert limited.stats()["tokens_issued"] == 11
    assert limited.state.tokens.mint_limit.refused == 1  # asked once inside the block, not in a loop
    # The window opened with the first of our ten mints, 100 s before the refusal.
    assert waits == [pytest.approx(600 - 100 + BLOCK_GRACE_S)]
    assert clock.now() >= blocked_at + timedelta(seconds=500)
    announced = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(announced) == 1
    assert limited.config.client_id in announced[0]
    assert "waiting 505 s" in announced[0]
    for secret in (limited.config.refresh_token, limited.config.client_secret, token.value):
        assert secret not in caplog.text


def spend_the_quota(sandbox: RunningSandbox) -> None:
    """Someone else (another integration holding the refresh token) mints ten tokens."""
    assert all("access_token" in mint(sandbox).json() for _ in range(10))


def test_a_caller_that_cannot_wait_gets_a_rate_limit_error_and_zoho_is_asked_once(
    limited: RunningSandbox, tmp_path: Path
) -> None:
    spend_the_quota(limited)
    settings = load_settings(
        **limited.env(), ZOHO_PIPELINES_HOME=str(tmp_path), ZOHO_TOKEN_CACHE_DIR="", ZOHO_TOKEN_MAX_WAIT_S="0"
    )
    for _ in range(2):  # a second caller (here: a second client) reads the block from the store
        with ZohoClient.from_settings(settings) as client, pytest.raises(ZohoRateLimitError) as caught:
            client.crm.modules()
        assert isinstance(caught.value, TokenMintBlockedError)
        assert caught.value.retry_after == pytest.approx(600 + BLOCK_GRACE_S, abs=5)
    assert limited.state is not None
    assert limited.state.tokens.mint_limit.refused == 1


def test_an_onboarding_task_hands_a_blocked_mint_to_its_state_machine_retrier(
    limited: RunningSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spend_the_quota(limited)
    for name, value in {
        **limited.env(),
        "ZOHO_PIPELINES_HOME": str(tmp_path),
        "ZOHO_TOKEN_CACHE_DIR": "",
        "ZOHO_TOKEN_MAX_WAIT_S": "0",
    }.items():
        monkeypatch.setenv(name, value)
    handlers.use_steps(None)  # the next invocation builds its client from the environment, as in Lambda
    try:
        with pytest.raises(ZohoAPIError) as caught:
            handlers.qualify_deal({"module": "Deals", "operation": "update", "record_ids": ["1"]})
    finally:
        handlers.use_steps(None)
    assert type(caught.value).__name__ == "ZohoAPIError"  # the name the state machine retries
