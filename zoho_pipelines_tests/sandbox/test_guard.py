"""The API guard: auth, concurrency 429s, injected faults at their rates, credits, stats."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from zoho_pipelines.sandbox.server import RunningSandbox
from zoho_pipelines_tests.sandbox.helpers import access_token, api_client

LIST = "/crm/v8/Deals"
PARAMS = {"fields": "Deal_Name", "per_page": 5}


def test_token_grant_errors_look_like_zoho_accounts(sandbox: RunningSandbox) -> None:
    good = {
        "grant_type": "refresh_token",
        "client_id": sandbox.config.client_id,
        "client_secret": sandbox.config.client_secret,
        "refresh_token": sandbox.config.refresh_token,
    }
    bad_client = httpx.post(f"{sandbox.url}/oauth/v2/token", data={**good, "client_secret": "wrong"})
    bad_refresh = httpx.post(f"{sandbox.url}/oauth/v2/token", params={**good, "refresh_token": "wrong"})
    assert (bad_client.status_code, bad_client.json()) == (200, {"error": "invalid_client"})
    assert (bad_refresh.status_code, bad_refresh.json()) == (200, {"error": "invalid_code"})
    granted = httpx.post(f"{sandbox.url}/oauth/v2/token", params=good).json()
    assert granted["api_domain"] == sandbox.url
    assert granted["token_type"] == "Bearer"
    assert granted["expires_in"] == sandbox.config.token_ttl_s


def test_missing_unknown_and_expired_tokens_get_401(sandbox_factory: Callable[..., RunningSandbox]) -> None:
    running = sandbox_factory(records_per_module=100)
    expected = {"code": "INVALID_TOKEN", "details": {}, "message": "invalid oauth token", "status": "error"}
    assert httpx.get(f"{running.url}{LIST}", params=PARAMS).json() == expected
    unknown = httpx.get(
        f"{running.url}{LIST}", params=PARAMS, headers={"Authorization": "Zoho-oauthtoken 1000.x.y"}
    )
    assert unknown.status_code == 401
    with api_client(running) as client:
        assert client.get(LIST, params=PARAMS).status_code == 200
        assert httpx.post(f"{running.url}/__sandbox/expire-tokens").status_code == 200
        expired = client.get(LIST, params=PARAMS)
    assert (expired.status_code, expired.json()) == (401, expected)
    assert running.stats()["calls"]["GET /crm/{version}/{module}"] == {"401": 3, "200": 1}


def test_concurrency_beyond_the_limit_gets_429(sandbox_factory: Callable[..., RunningSandbox]) -> None:
    running = sandbox_factory(records_per_module=100, concurrency_limit=2, latency_ms=300, retry_after_s=0.5)
    with api_client(running) as client, ThreadPoolExecutor(max_workers=6) as pool:
        responses = list(pool.map(lambda _: client.get(LIST, params=PARAMS), range(6)))
    statuses = Counter(response.status_code for response in responses)
    assert statuses[200] >= 2
    assert statuses[429] >= 1
    assert statuses[200] + statuses[429] == 6
    limited = next(response for response in responses if response.status_code == 429)
    assert limited.json()["code"] == "TOO_MANY_REQUESTS"
    assert limited.json()["details"] == {"retry_after": 0.5}
    assert limited.headers["Retry-After"] == "1"
    assert running.stats()["events"]["concurrency_rejections"] == statuses[429]


def fault_statuses(running: RunningSandbox, calls: int) -> list[int | str]:
    outcomes: list[int | str] = []
    with api_client(running) as client:
        for _ in range(calls):
            try:
                outcomes.append(client.get(LIST, params=PARAMS).status_code)
            except httpx.RemoteProtocolError:  # closed without any response
                outcomes.append("dropped")
    return outcomes


def test_faults_arrive_at_their_rates_and_are_seeded(sandbox_factory: Callable[..., RunningSandbox]) -> None:
    rates = {
        "fault_rate": 0.2,
        "rate_limit_rate": 0.1,
        "drop_rate": 0.1,
        "fault_seed": 5,
        "records_per_module": 100,
    }
    first = fault_statuses(sandbox_factory(**rates), 400)
    second = fault_statuses(sandbox_factory(**rates), 400)
    assert first == second  # same seed, same call order, same faults
    counts = Counter(first)
    server_errors = counts[500] + counts[502] + counts[503]
    # Binomial(400, p): bounds are > 4 standard deviations wide, so a correct sandbox never fails them.
    assert 50 <= server_errors <= 110
    assert 15 <= counts[429] <= 65
    assert 15 <= counts["dropped"] <= 65
    assert counts[200] == 400 - server_errors - counts[429] - counts["dropped"]


def test_faults_change_at_runtime_and_bodies_are_zoho_shaped(
    sandbox_factory: Callable[..., RunningSandbox],
) -> None:
    running = sandbox_factory(records_per_module=100)
    changed = httpx.post(f"{running.url}/__sandbox/faults", json={"fault_rate": 1.0}).json()
    assert changed["fault_rate"] == 1.0
    with api_client(running) as client:
        failed = client.get(LIST, params=PARAMS)
        assert failed.status_code in (500, 502, 503)
        assert failed.json()["code"] == "INTERNAL_ERROR"
        running.state.set_faults(fault_rate=0.0, rate_limit_rate=1.0)
        limited = client.get(LIST, params=PARAMS)
        assert (limited.status_code, limited.json()["code"]) == (429, "TOO_MANY_REQUESTS")
        assert "retry_after" in limited.json()["details"]
    assert httpx.post(f"{running.url}/__sandbox/faults", json={"drop_rate": 2}).status_code == 400


def test_credits_header_and_exhaustion(sandbox_factory: Callable[..., RunningSandbox]) -> None:
    running = sandbox_factory(records_per_module=100, credit_budget=10)
    with api_client(running) as client:
        responses = [client.get(LIST, params=PARAMS) for _ in range(11)]
        coql = client.post("/crm/v8/coql", json={"select_query": "select Deal_Name from Deals limit 5"})
    assert [r.status_code for r in responses[:10]] == [200] * 10
    assert "x-api-credits-remaining" not in responses[4].headers
    assert responses[5].headers["x-api-credits-remaining"] == "4"
    assert responses[9].headers["x-api-credits-remaining"] == "0"
    assert responses[10].status_code == 429
    assert responses[10].json()["code"] == "LIMIT_EXCEEDED"
    assert coql.status_code == 429
    stats = running.stats()
    assert stats["credits_used"] == 10
    assert stats["credits_remaining"] == 0


@pytest.mark.parametrize(("limit", "credits"), [(200, 1), (201, 2), (1000, 2), (1001, 3), (2000, 3)])
def test_coql_is_charged_by_limit(
    sandbox_factory: Callable[..., RunningSandbox], limit: int, credits: int
) -> None:
    running = sandbox_factory(records_per_module=100)
    with api_client(running) as client:
        query = f"select Deal_Name from Deals limit {limit}"  # noqa: S608 - a COQL test, not SQL
        client.post("/crm/v8/coql", json={"select_query": query})
    assert running.stats()["credits_used"] == credits


def test_control_endpoints_are_not_api_calls(sandbox_factory: Callable[..., RunningSandbox]) -> None:
    running = sandbox_factory(records_per_module=100)
    token = access_token(running)
    httpx.get(f"{running.url}/__sandbox/stats")
    httpx.get(f"{running.url}/crm/v8/settings/modules", headers={"Authorization": f"Zoho-oauthtoken {token}"})
    stats = httpx.get(f"{running.url}/__sandbox/stats").json()
    assert stats["calls"] == {"GET /crm/{version}/settings/modules": {"200": 1}}
    assert stats["tokens_issued"] == 1
    assert stats["credits_used"] == 1
