"""The injectable clock, and a sandbox that keeps time by it rather than by the calendar."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from zoho_pipelines.clock import ManualClock, OffsetClock, epoch_ms
from zoho_pipelines.sandbox.server import SandboxConfig, start_sandbox
from zoho_pipelines_tests.conftest import SANDBOX_ANCHOR


def test_offset_clocks_built_for_one_instant_agree_and_keep_ticking() -> None:
    moment = datetime(2031, 2, 3, 4, 5, 6, tzinfo=UTC)
    first, second = OffsetClock.starting_at(moment), OffsetClock.starting_at(moment)
    a, b = first.now(), second.now()
    assert abs(a - b) < timedelta(seconds=1)
    assert moment <= a < moment + timedelta(minutes=1)
    assert second.now() >= b


def test_manual_clock_moves_only_when_told() -> None:
    clock = ManualClock(datetime(2030, 1, 1, tzinfo=UTC))
    assert clock.now() == clock.now() == datetime(2030, 1, 1, tzinfo=UTC)
    clock.advance(timedelta(days=2, milliseconds=5))
    assert epoch_ms(clock) == int(datetime(2030, 1, 3, tzinfo=UTC).timestamp() * 1000) + 5


def test_clocks_refuse_naive_instants() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ManualClock(datetime(2030, 1, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        OffsetClock.starting_at(datetime(2030, 1, 1))


def _watch(url: str, token: str, expiry: datetime) -> httpx.Response:
    return httpx.post(
        f"{url}/crm/v8/actions/watch",
        headers={"Authorization": f"Zoho-oauthtoken {token}"},
        json={
            "watch": [
                {
                    "channel_id": "1000000068001",
                    "events": ["Deals.create"],
                    "notify_url": f"{url}/__sandbox/echo",
                    "channel_expiry": expiry.isoformat(),
                }
            ]
        },
    )


def test_the_sandbox_judges_expiries_and_page_tokens_by_its_injected_clock() -> None:
    """Years away from the machine's date, a sandbox on a chosen clock answers as on that day."""
    clock = ManualClock(datetime(2031, 6, 1, 9, tzinfo=UTC))
    config = SandboxConfig(anchor=clock.now(), records_per_module=3_000)
    with start_sandbox(config, clock=clock) as running:
        token = httpx.post(
            f"{running.url}/oauth/v2/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": config.refresh_token,
                "client_id": config.client_id,
                "client_secret": config.client_secret,
            },
        ).json()["access_token"]
        assert _watch(running.url, token, clock.now() + timedelta(days=6)).json()["watch"][0]["code"] == (
            "SUCCESS"
        )
        # A week past the clock is refused, though it is years ahead of the machine's date too.
        assert _watch(running.url, token, clock.now() + timedelta(days=8)).json()["watch"][0]["code"] == (
            "INVALID_DATA"
        )

        headers = {"Authorization": f"Zoho-oauthtoken {token}"}
        params = {"fields": "Last_Name", "per_page": 200, "page": 1}
        first = httpx.get(f"{running.url}/crm/v8/Leads", params=params, headers=headers).json()
        next_token = first["info"]["next_page_token"]
        clock.advance(timedelta(seconds=config.page_token_ttl_s + 1))
        expired = httpx.get(
            f"{running.url}/crm/v8/Leads",
            params={"fields": "Last_Name", "per_page": 200, "page_token": next_token},
            headers=headers,
        )
        assert expired.status_code == 400
        assert expired.json()["code"] == "EXPIRED_VALUE"


def test_an_anchored_sandbox_starts_its_clock_at_the_anchor(sandbox) -> None:
    assert SANDBOX_ANCHOR <= sandbox.clock.now() < SANDBOX_ANCHOR + timedelta(hours=1)
