"""Precise transport behaviours over real loopback HTTP (a scripted server, not a mock transport)."""

import logging
import socket
import threading
import time

import httpx
import pytest

from zoho_pipelines.zoho.datacenters import endpoints
from zoho_pipelines.zoho.errors import (
    ZohoAuthError,
    ZohoConnectionError,
    ZohoInvalidDataError,
    ZohoNotFoundError,
    ZohoRateLimitError,
    ZohoServerError,
)
from zoho_pipelines.zoho.retry import RetryPolicy
from zoho_pipelines.zoho.token_store import MemoryTokenStore
from zoho_pipelines.zoho.transport import ZohoTransport
from zoho_pipelines_tests.zoho.scripted_server import (
    BOOKS_REFUSED_TOKEN_BODY,
    CLIENT_SECRET,
    FAST_RETRIES,
    INVALID_TOKEN_BODY,
    REFRESH_TOKEN,
    Canned,
    ScriptedZoho,
    scripted_credentials,
    transport_for,
)

OK = Canned(200, {"data": [{"id": "1"}], "info": {"more_records": False}})


def _crm_error(code: str, **details: object) -> dict[str, object]:
    return {"code": code, "details": details, "message": code.lower(), "status": "error"}


@pytest.fixture
def server():
    with ScriptedZoho() as scripted:
        yield scripted


def test_429_with_retry_after_is_honoured_then_succeeds(server):
    server.enqueue(Canned(429, _crm_error("TOO_MANY_REQUESTS", retry_after=0.3)), OK)
    with transport_for(server) as transport:
        started = time.monotonic()
        response = transport.request("GET", "/crm/v8/Deals", params={"fields": "Deal_Name"})
        waited = time.monotonic() - started
        stats = transport.stats.snapshot()
    assert response.json()["data"] == [{"id": "1"}]
    assert waited >= 0.3
    assert stats["retries"] == 1
    assert stats["responses_by_status"] == {200: 1, 429: 1}
    assert stats["credits"] == 1


def test_retry_after_header_is_honoured(server):
    server.enqueue(Canned(429, _crm_error("TOO_MANY_REQUESTS"), headers={"Retry-After": "1"}), OK)
    with transport_for(server) as transport:
        started = time.monotonic()
        transport.request("GET", "/crm/v8/Deals")
        assert time.monotonic() - started >= 1


def test_a_wait_longer_than_the_cap_is_raised_at_once(server):
    exhausted = _crm_error("LIMIT_EXCEEDED")
    server.enqueue(Canned(429, exhausted, headers={"Retry-After": "7200"}), OK)
    policy = RetryPolicy(max_attempts=3, initial_backoff_s=0.01, max_retry_after_s=60)
    with transport_for(server, retry_policy=policy) as transport, pytest.raises(ZohoRateLimitError) as caught:
        transport.request("GET", "/crm/v8/Deals")
    assert caught.value.retry_after == 7200
    assert len(server.api_requests()) == 1


def test_server_errors_are_retried_for_reads_until_attempts_run_out(server):
    server.enqueue(*[Canned(503, _crm_error("INTERNAL_ERROR"))] * 4)
    with transport_for(server) as transport, pytest.raises(ZohoServerError) as caught:
        transport.request("GET", "/crm/v8/Deals")
    assert caught.value.status == 503
    assert len(server.api_requests()) == 4


def test_server_error_then_success(server):
    server.enqueue(Canned(500, _crm_error("INTERNAL_ERROR")), Canned(502, b"<html>bad gateway</html>"), OK)
    with transport_for(server) as transport:
        assert transport.request("GET", "/crm/v8/Deals").status_code == 200
        assert transport.stats.snapshot()["credits"] == 1


def test_non_idempotent_post_is_not_replayed_after_a_server_error(server):
    server.enqueue(Canned(500, _crm_error("INTERNAL_ERROR")), OK)
    with transport_for(server) as transport, pytest.raises(ZohoServerError):
        transport.request("POST", "/crm/v8/Deals", json={"data": [{"Deal_Name": "x"}]})
    assert len(server.api_requests()) == 1


def test_dropped_connection_is_retried(server):
    server.enqueue(Canned(drop=True), OK)
    with transport_for(server) as transport:
        assert transport.request("GET", "/crm/v8/Deals").json()["data"] == [{"id": "1"}]
        assert transport.stats.snapshot()["retries"] == 1


def test_dropped_connection_on_a_post_is_reported_not_replayed(server):
    server.enqueue(Canned(drop=True), OK)
    with transport_for(server) as transport, pytest.raises(ZohoConnectionError) as caught:
        transport.request("POST", "/crm/v8/Deals", json={"data": []})
    assert caught.value.status is None
    assert (caught.value.method, caught.value.path) == ("POST", "/crm/v8/Deals")
    assert len(server.api_requests()) == 1


def test_a_read_declared_idempotent_is_replayed_after_a_drop(server):
    server.enqueue(Canned(drop=True), OK)
    with transport_for(server) as transport:
        transport.request("POST", "/crm/v8/coql", json={"select_query": "x"}, idempotent=True)
    assert len(server.api_requests()) == 2


def test_timeout_is_retried_then_reported(server):
    slow = Canned(200, {"data": []}, delay_s=1.0)
    server.enqueue(slow, OK)
    timeout = httpx.Timeout(0.2)
    with transport_for(server, timeout=timeout) as transport:
        assert transport.request("GET", "/crm/v8/Deals").status_code == 200
        server.enqueue(*[slow] * 4)
        with pytest.raises(ZohoConnectionError, match="timed out"):
            transport.request("GET", "/crm/v8/Deals")


def test_connection_refused_is_a_connection_error():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port_url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    transport = ZohoTransport(
        scripted_credentials(),
        endpoints("com", accounts_url=closed_port_url, api_url=closed_port_url),
        retry_policy=FAST_RETRIES,
    )
    with transport, pytest.raises(ZohoConnectionError, match="unreachable") as caught:
        transport.request("GET", "/crm/v8/Deals")
    assert caught.value.path == "/oauth/v2/token"
    assert transport.stats.snapshot()["retries"] == 0  # the token call retried itself, not nested


def test_expired_token_is_refreshed_once_for_twenty_concurrent_callers(server):
    with transport_for(server, concurrency=20) as transport:
        transport.request("GET", "/crm/v8/org")
        assert len(server.token_requests) == 1
        server.expire_tokens()
        barrier = threading.Barrier(20)
        statuses: list[int] = []

        def call() -> None:
            barrier.wait()
            statuses.append(transport.request("GET", "/crm/v8/Deals").status_code)

        threads = [threading.Thread(target=call) for _ in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert statuses == [200] * 20
    assert len(server.token_requests) == 2
    assert transport.stats.snapshot()["token_refreshes"] == 2


def test_a_token_rejected_again_after_refresh_is_an_auth_error(server):
    server.on_api_call = lambda request: Canned(401, INVALID_TOKEN_BODY)
    with transport_for(server) as transport, pytest.raises(ZohoAuthError) as caught:
        transport.request("GET", "/crm/v8/Deals")
    assert caught.value.code == "INVALID_TOKEN"
    assert len(server.token_requests) == 2


@pytest.mark.parametrize("path", ["/crm/v8/Deals", "/books/v3/contacts"])
def test_a_call_whose_token_died_twice_while_it_waited_still_succeeds(server, path):
    """Call A is in flight with token 1 when call B finds token 1 dead and refreshes to token 2;
    token 2 dies too before A retries with it. A's retry on token 2 cost no refresh of its own
    (B had replaced token 1), so A may refresh once more, and succeeds. On Books too: token 2
    was accepted there (B's call), so its 401 is an expiry, not a missing scope."""
    a_arrived, b_done = threading.Event(), threading.Event()

    def hold_a(request):
        if request.query.get("call") != ["a"] or a_arrived.is_set():
            return None
        a_arrived.set()
        assert b_done.wait(10)
        server.expire_tokens()  # token 1 (A's) and token 2 (B's) are both dead now
        return Canned(401, INVALID_TOKEN_BODY)

    server.on_api_call = hold_a
    statuses: dict[str, int] = {}
    with transport_for(server, concurrency=2) as transport:

        def call(name: str) -> None:
            statuses[name] = transport.request("GET", path, params={"call": name}).status_code

        thread_a = threading.Thread(target=call, args=("a",))
        thread_a.start()
        assert a_arrived.wait(10)
        server.expire_tokens()
        call("b")
        b_done.set()
        thread_a.join()
    assert statuses == {"a": 200, "b": 200}
    assert len(server.token_requests) == 3  # token 1, B's refresh, A's one refresh


@pytest.mark.parametrize("path", ["/books/v3/organizations", "/restapi/portals/"])
def test_books_and_projects_refusing_a_dead_token_get_a_new_one(server, path):
    """Books and Projects document a 401 as an invalid token and carry no CRM code: a token that
    died (expired early, revoked, another server's) is replaced there too, not raised."""
    with transport_for(server) as transport:
        transport.request("GET", "/crm/v8/org")
        server.expire_tokens()
        assert transport.request("GET", path).status_code == 200
    assert len(server.token_requests) == 2


def test_a_token_books_refuses_fresh_is_not_refreshed_on_every_call(server):
    """Books also answers a missing scope with 401: after one refresh did not help, later Books
    calls fail at once instead of spending the refresh token's ten mints per ten minutes."""
    server.on_api_call = lambda request: (
        Canned(401, BOOKS_REFUSED_TOKEN_BODY) if request.path.startswith("/books/") else None
    )
    with transport_for(server) as transport:
        for _ in range(3):
            with pytest.raises(ZohoAuthError) as caught:
                transport.request("GET", "/books/v3/contacts")
            assert (caught.value.status, caught.value.code) == (401, "57")
        assert transport.request("GET", "/crm/v8/Deals").status_code == 200
    assert len(server.token_requests) == 2  # the first token, and one refresh that did not help


def _books_refuses_every_token(request):
    return Canned(401, BOOKS_REFUSED_TOKEN_BODY) if request.path.startswith("/books/") else None


def test_a_call_meeting_the_fresh_token_books_refused_does_not_refresh_it_again(server):
    """Call A refreshed after Books refused token 1 and is in flight with token 2; call B starts
    with token 2 and is refused first. B did not refresh, but token 2 is the replacement of a
    refused token that Books never took: another refresh would spend a mint on a missing scope."""
    a_holding, b_done = threading.Event(), threading.Event()
    tokens_of_a: list[str] = []

    def hold_a_on_its_new_token(request):
        if request.query.get("call") == ["a"]:
            tokens_of_a.append(request.headers["authorization"])
            if len(tokens_of_a) == 2:  # A's retry with the token it refreshed
                a_holding.set()
                assert b_done.wait(10)
        return _books_refuses_every_token(request)

    with transport_for(server, concurrency=2) as transport:
        transport.request("GET", "/crm/v8/org")
        server.on_api_call = hold_a_on_its_new_token
        failures: dict[str, str | None] = {}

        def call(name: str) -> None:
            with pytest.raises(ZohoAuthError) as caught:
                transport.request("GET", "/books/v3/contacts", params={"call": name})
            failures[name] = caught.value.code

        thread_a = threading.Thread(target=call, args=("a",))
        thread_a.start()
        assert a_holding.wait(10)
        call("b")
        b_done.set()
        thread_a.join()
    assert failures == {"a": "57", "b": "57"}
    assert len(server.token_requests) == 2  # token 1 and A's one refresh


def test_twenty_callers_meeting_a_books_scope_error_cost_one_refresh(server):
    with transport_for(server, concurrency=20) as transport:
        transport.request("GET", "/crm/v8/org")
        server.on_api_call = _books_refuses_every_token
        barrier = threading.Barrier(20)
        codes: list[str | None] = []

        def call() -> None:
            barrier.wait()
            with pytest.raises(ZohoAuthError) as caught:
                transport.request("GET", "/books/v3/contacts")
            codes.append(caught.value.code)

        threads = [threading.Thread(target=call) for _ in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert codes == ["57"] * 20
    assert len(server.token_requests) == 2


def test_processes_sharing_the_token_meeting_a_books_scope_error_cost_one_refresh(server):
    """Six transports on one store, as six Dagster runs or Lambdas on the shared token: the first
    learns the refusal and records it in the store; the others do not drop the token again."""
    store = MemoryTokenStore()
    server.on_api_call = _books_refuses_every_token
    for _ in range(6):
        with transport_for(server, token_store=store) as transport, pytest.raises(ZohoAuthError):
            transport.request("GET", "/books/v3/contacts")
    assert len(server.token_requests) == 2
    server.on_api_call = None  # the scope is granted; the refused token still serves CRM
    with transport_for(server, token_store=store) as transport:
        assert transport.request("GET", "/crm/v8/Deals").status_code == 200
        server.expire_tokens()  # when it dies, CRM replaces it, and the refusal goes with it
        assert transport.request("GET", "/crm/v8/Deals").status_code == 200
        assert transport.request("GET", "/books/v3/contacts").status_code == 200
    assert not store.load(transport.tokens._key).refused_when_fresh
    assert len(server.token_requests) == 3


def test_crm_still_replaces_a_dead_token_that_books_had_refused_fresh(server):
    """The Books memo is about Books' ambiguous 401; CRM's INVALID_TOKEN is unambiguous."""
    server.on_api_call = _books_refuses_every_token
    with transport_for(server) as transport:
        with pytest.raises(ZohoAuthError):
            transport.request("GET", "/books/v3/contacts")
        server.expire_tokens()  # the token Books refused dies (revoked, or expired early)
        assert transport.request("GET", "/crm/v8/Deals").status_code == 200
    assert len(server.token_requests) == 3


def test_a_projects_401_for_one_project_does_not_mint_per_call(server):
    """Projects documents 6890 as a 401 too (https://www.zoho.com/projects/developers/error-codes.html);
    a 401 for one project while others answer must not cost a mint each time it comes round."""
    server.on_api_call = lambda request: (
        Canned(401, {"error": {"code": 6890, "message": "Unauthorized Access"}})
        if request.path.startswith("/restapi/portal/1/projects/7/")
        else None
    )
    with transport_for(server) as transport:
        for _ in range(4):
            with pytest.raises(ZohoAuthError):
                transport.request("GET", "/restapi/portal/1/projects/7/tasks/")
            assert transport.request("GET", "/restapi/portal/1/projects/8/tasks/").status_code == 200
    assert len(server.token_requests) == 2


def test_a_replacement_token_books_accepted_is_replaced_when_it_dies(server):
    with transport_for(server) as transport:
        transport.request("GET", "/crm/v8/org")
        for _ in range(2):
            server.expire_tokens()
            assert transport.request("GET", "/books/v3/contacts").status_code == 200
    assert len(server.token_requests) == 3


def test_scope_errors_do_not_mint_tokens(server):
    server.enqueue(Canned(401, _crm_error("OAUTH_SCOPE_MISMATCH")))
    with transport_for(server) as transport, pytest.raises(ZohoAuthError):
        transport.request("GET", "/crm/v8/Deals")
    assert len(server.token_requests) == 1


@pytest.mark.parametrize(
    ("answer", "expected", "code"),
    [
        (Canned(404, _crm_error("INVALID_URL_PATTERN")), ZohoNotFoundError, "INVALID_URL_PATTERN"),
        (Canned(400, _crm_error("INVALID_DATA", api_name="Amount")), ZohoInvalidDataError, "INVALID_DATA"),
        (Canned(404, {"code": 1002, "message": "Invoice does not exist."}), ZohoNotFoundError, "1002"),
        (Canned(403, _crm_error("NO_PERMISSION")), ZohoAuthError, "NO_PERMISSION"),
    ],
)
def test_error_bodies_become_the_right_exception(server, answer, expected, code):
    server.enqueue(answer)
    with transport_for(server) as transport, pytest.raises(expected) as caught:
        transport.request("GET", "/crm/v8/Deals", params={"ids": "1,2"})
    assert caught.value.code == code
    assert caught.value.path == "/crm/v8/Deals"
    assert "ids=" not in str(caught.value)
    assert len(server.api_requests()) == 1


def test_rate_limit_that_never_lifts_is_raised_with_its_hint(server):
    server.enqueue(*[Canned(429, _crm_error("TOO_MANY_REQUESTS", retry_after=0.01))] * 4)
    with transport_for(server) as transport, pytest.raises(ZohoRateLimitError) as caught:
        transport.request("GET", "/crm/v8/Deals")
    assert caught.value.retry_after == 0.01


def test_ok_statuses_are_returned_instead_of_raised(server):
    server.enqueue(Canned(400, {"data": [_crm_error("INVALID_DATA")]}))
    with transport_for(server) as transport:
        assert (
            transport.request("PUT", "/crm/v8/Deals", json={"data": [{}]}, ok_statuses={400}).status_code
            == 400
        )


def test_204_is_success_without_body(server):
    server.enqueue(Canned(204))
    with transport_for(server) as transport:
        response = transport.request("GET", "/crm/v8/Deals")
    assert (response.status_code, response.content) == (204, b"")


def test_requests_carry_the_token_and_resolve_against_the_token_api_domain(server):
    with transport_for(server) as transport:
        transport.request("GET", "/crm/v8/settings/modules")
        transport.request("GET", f"{server.url}/books/v3/contacts", params={"organization_id": "9"})
        assert transport.api_domain == server.url
    first, second = server.api_requests()
    assert first.headers["authorization"].startswith("Zoho-oauthtoken 1000.scripted-access-")
    assert (second.path, second.query) == ("/books/v3/contacts", {"organization_id": ["9"]})


def test_the_org_limiter_caps_calls_in_flight_across_transports(server):
    server.default = Canned(200, {"data": []}, delay_s=0.05)
    first, second = transport_for(server, concurrency=3), transport_for(server, concurrency=8)
    assert first.limiter is second.limiter
    assert first.concurrency == 3
    with first, second:
        threads = [
            threading.Thread(target=transport.request, args=("GET", "/crm/v8/Deals"))
            for transport in [first, second] * 6
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert server.peak_in_flight == 3
    assert len(server.api_requests()) == 12


def test_credits_and_the_remaining_credit_header_are_counted(server):
    server.enqueue(Canned(200, {"data": []}, headers={"X-API-CREDITS-REMAINING": "41250"}))
    with transport_for(server) as transport:
        transport.request("POST", "/crm/v8/coql", json={"select_query": "q"}, credits=3, idempotent=True)
        snapshot = transport.stats.snapshot()
    assert snapshot["credits"] == 3
    assert snapshot["credits_remaining"] == 41250
    assert snapshot["calls"] == 1


def test_stream_downloads_and_releases_the_limiter(server):
    payload = bytes(range(256)) * 4096
    server.enqueue(Canned(200, payload))
    with transport_for(server, concurrency=1) as transport:
        with transport.stream("GET", "/crm/bulk/v8/read/1/result") as response:
            received = b"".join(response.iter_bytes(65536))
        assert received == payload
        transport.request("GET", "/crm/v8/Deals")  # would block forever if the slot leaked


def test_stream_errors_are_raised_before_yielding(server):
    server.enqueue(Canned(404, _crm_error("RESOURCE_NOT_FOUND")))
    with transport_for(server, concurrency=1) as transport:
        with pytest.raises(ZohoNotFoundError), transport.stream("GET", "/crm/bulk/v8/read/9/result"):
            pytest.fail("no body for a failed download")
        transport.request("GET", "/crm/v8/Deals")


def test_retries_are_logged_without_any_secret(server, caplog):
    server.enqueue(
        Canned(503, _crm_error("INTERNAL_ERROR")),
        Canned(429, _crm_error("TOO_MANY_REQUESTS", retry_after=0.01)),
        Canned(drop=True),
        OK,
    )
    caplog.set_level(logging.DEBUG)
    with transport_for(server) as transport:
        transport.request("GET", "/crm/v8/Deals", params={"fields": "Deal_Name"})
        server.expire_tokens()
        transport.request("GET", "/crm/v8/Deals")
    retries = [record for record in caplog.records if record.name == "zoho_pipelines.zoho.retry"]
    assert [record.getMessage().split(" after ")[1].split(" ")[0] for record in retries] == [
        "503",
        "429",
        "ZohoConnectionError",
    ]
    assert all("GET /crm/v8/Deals" in record.getMessage() for record in retries)
    assert "attempt 3 of 4" in retries[2].getMessage()
    access_tokens = [request.headers["authorization"].split(" ")[1] for request in server.api_requests()]
    for secret in [CLIENT_SECRET, REFRESH_TOKEN, *access_tokens]:
        assert secret not in caplog.text
