"""The one door every Zoho API call goes through: auth, org-wide limits, retries, errors, counters.

Product clients (CRM, Books, Projects) describe *what* to fetch; this module owns *how* a call
survives Zoho: a cached access token renewed when Zoho calls it invalid, a concurrency limiter
shared by every transport of the same org, jittered retries for 429 / 5xx / timeouts / dropped
connections, error bodies turned into the exception hierarchy, and credit counters.

Requests that are not idempotent (POST by default) are retried only when Zoho surely did not act
on them: a 429, or a connection that never opened. Reads sent as POST (COQL, job creation) pass
`idempotent=True`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

import httpx
import orjson

from zoho_pipelines.settings import Settings
from zoho_pipelines.zoho.auth import TOKEN_PATH, AccessToken, TokenProvider
from zoho_pipelines.zoho.credentials import ZohoCredentials, credentials_from_settings
from zoho_pipelines.zoho.datacenters import ZohoEndpoints, endpoints
from zoho_pipelines.zoho.errors import (
    ZohoAPIError,
    ZohoConnectionError,
    ZohoRateLimitError,
    ZohoServerError,
    error_from_response,
    parse_error_body,
)
from zoho_pipelines.zoho.limits import ConcurrencyLimiter, org_limiter
from zoho_pipelines.zoho.retry import RetryPolicy
from zoho_pipelines.zoho.stats import ApiStats
from zoho_pipelines.zoho.token_store import TokenStore, token_store_from_settings

logger = logging.getLogger("zoho_pipelines.zoho.transport")

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH"})
EXPIRED_TOKEN_CODES = frozenset({"INVALID_TOKEN", "INVALID_OAUTHTOKEN"})
"""CRM's codes for a dead access token; its other 401s (OAUTH_SCOPE_MISMATCH) a new token won't fix."""
STATUS_401_MEANS_INVALID_TOKEN = ("/books/", "/restapi/", "/api/v3/")
"""Books and Projects, whose docs give HTTP 401 one meaning: "Unauthorized (Invalid AuthToken)"
(https://www.zoho.com/books/api/v3/errors/), codes 6401/6890 "Unauthorized Access"
(https://www.zoho.com/projects/developers/error-codes.html). Books also answers a token that lacks
a scope with 401 (code 57), and Projects' 6890 may concern one project only, so the token that
replaced a refused one, when it is refused too before either product accepted it, is remembered and
not refreshed again by any caller, in any process sharing the token store (the record's
`refused_when_fresh`): such a 401 must not spend the refresh token's ten mints per ten minutes. A
replacement they accepted is replaced as usual when it dies; a refused one is replaced by CRM's
INVALID_TOKEN or at its expiry, which also clears the mark."""
TOKEN_SWAPS_PER_CALL = 3
"""How often one call may retry a 401 with a newer access token. Only one of those retries may
follow dropping the current token (which costs a refresh); the others take a token that another
caller had already put in place of the rejected one while this call waited, which costs nothing,
so a token that dies under a stalled call does not fail it, and a token Zoho keeps refusing costs
one refresh per call, not a loop."""
USER_AGENT = "zoho-pipelines/0.1 (+httpx)"
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0, pool=120.0)


def json_body(response: httpx.Response) -> Any:
    """The decoded body, `{}` when empty (204); orjson, because decoding is the client's main CPU cost.

    The body has been read whole, so the response's stream is swapped for an empty one: httpx's
    Response and its stream refer to each other, and that cycle would keep the body (2 MB for a
    COQL page) alive until the cyclic collector runs, rather than until the caller drops it.
    """
    body = orjson.loads(response.content) if response.content else {}
    response.stream = httpx.ByteStream(b"")
    return body


def _never_reached_server(error: ZohoConnectionError) -> bool:
    return isinstance(error.__cause__, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


def _is_retryable(idempotent: bool, error: BaseException) -> bool:
    if isinstance(error, ZohoAPIError) and error.path == TOKEN_PATH:
        return False  # the token provider has already retried its own call
    if isinstance(error, ZohoRateLimitError):
        return True
    if isinstance(error, ZohoConnectionError):
        return idempotent or _never_reached_server(error)
    return idempotent and isinstance(error, ZohoServerError)


class ZohoTransport:
    """Thread-safe HTTP access to one Zoho org.

    `token_store` is where the access token is shared (see zoho.token_store); without one the
    transport keeps its token to itself. `from_settings` uses the store the settings name.
    `token_max_wait_s` caps how long a call waits while Zoho refuses to mint (default: the window).
    """

    def __init__(
        self,
        credentials: ZohoCredentials,
        zoho_endpoints: ZohoEndpoints,
        *,
        data_center: str = "com",
        trust_token_api_domain: bool = True,
        concurrency: int = 10,
        retry_policy: RetryPolicy | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        token_store: TokenStore | None = None,
        token_max_wait_s: float | None = None,
    ) -> None:
        self.endpoints = zoho_endpoints
        self.stats = ApiStats()
        self.retry_policy = retry_policy or RetryPolicy()
        self._trust_token_api_domain = trust_token_api_domain
        self.limiter: ConcurrencyLimiter = org_limiter(
            zoho_endpoints.api_url, credentials.client_id, concurrency
        )
        # Sized by the shared limiter (whose first creator set the limit), plus room for token calls.
        pool = self.limiter.limit
        self._http = httpx.Client(
            timeout=timeout,
            limits=httpx.Limits(max_connections=pool + 2, max_keepalive_connections=pool),
            headers={"User-Agent": USER_AGENT},
            follow_redirects=True,
        )
        # See STATUS_401_MEANS_INVALID_TOKEN. Only the provider's current token matters (a 401 on an
        # older one swaps to it for free), so one value is all there is to remember; a refusal of
        # it is kept in the token store, where every process sees it.
        self._replacement: str | None = None  # taken in place of a refused token, not yet accepted
        self._memo_lock = threading.Lock()
        self.tokens = TokenProvider(
            credentials,
            zoho_endpoints.accounts_url,
            self._http,
            data_center=data_center,
            retry_policy=self.retry_policy,
            stats=self.stats,
            store=token_store,
            max_block_wait_s=token_max_wait_s,
        )

    @classmethod
    def from_settings(cls, settings: Settings, *, retry_policy: RetryPolicy | None = None) -> ZohoTransport:
        """The transport the environment describes (credentials, DC, overrides, edition limits)."""
        return cls(
            credentials_from_settings(settings),
            endpoints(settings.zoho_dc, settings.zoho_accounts_url, settings.zoho_api_url),
            data_center=settings.zoho_dc.value,
            trust_token_api_domain=settings.zoho_api_url is None,
            concurrency=settings.concurrency,
            retry_policy=retry_policy,
            token_store=token_store_from_settings(settings),
            token_max_wait_s=settings.zoho_token_max_wait_s,
        )

    @property
    def concurrency(self) -> int:
        """Calls this org may have in flight; parallel readers size their pools by it."""
        return self.limiter.limit

    @property
    def api_domain(self) -> str:
        """The API origin: the override when configured, else the token response's api_domain."""
        if not self._trust_token_api_domain:
            return self.endpoints.api_url
        return self.tokens.token().api_domain or self.endpoints.api_url

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ZohoTransport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        credits: int = 1,
        idempotent: bool | None = None,
        ok_statuses: Collection[int] = (),
    ) -> httpx.Response:
        """Send one call (with retries) and return its response, or raise a `ZohoAPIError`.

        `ok_statuses` lists non-2xx statuses the caller wants back instead of an exception (a 400
        that carries per-record results, for instance).
        """
        call = _Call(method.upper(), url, params, json, data, headers, credits, frozenset(ok_statuses))
        retrying = self.retry_policy.retrying(
            partial(_is_retryable, call.idempotent(idempotent)), self.stats.record_retry
        )
        return retrying(self._limited_attempt, call)

    @contextmanager
    def stream(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        credits: int = 1,
    ) -> Iterator[httpx.Response]:
        """A streaming response for downloads; the org's limiter slot is held until it closes."""
        call = _Call(method.upper(), url, params, None, None, headers, credits, frozenset())
        retrying = self.retry_policy.retrying(
            partial(_is_retryable, call.idempotent(None)), self.stats.record_retry
        )
        response = retrying(self._open_stream, call)
        try:
            yield response
        finally:
            response.close()
            self.limiter.release()

    def _limited_attempt(self, call: _Call) -> httpx.Response:
        with self.limiter:
            return self._attempt(call, stream=False)

    def _open_stream(self, call: _Call) -> httpx.Response:
        """One attempt at opening a download; on success the caller owns the limiter slot."""
        self.limiter.acquire()
        try:
            return self._attempt(call, stream=True)
        except BaseException:
            self.limiter.release()
            raise

    def _attempt(self, call: _Call, *, stream: bool) -> httpx.Response:
        token = self.tokens.token()
        response = self._send(call, token, stream)
        refreshed = False
        status_says_invalid = call.path.startswith(STATUS_401_MEANS_INVALID_TOKEN)
        for _ in range(TOKEN_SWAPS_PER_CALL):
            if response.status_code != 401 or not (
                status_says_invalid or self._token_expired(response, stream)
            ):
                break
            if status_says_invalid and self._refused_before_accepted(token):
                break  # not an expiry: a missing scope, or a 401 about the resource
            dropped = self.tokens.invalidate(token)
            if dropped:
                if refreshed:
                    break  # a token refreshed for this very call was refused too
                refreshed = True
            response.close()
            token = self.tokens.token()
            if status_says_invalid and dropped:  # a token newer than the refusal: on probation
                with self._memo_lock:
                    self._replacement = token.value
            response = self._send(call, token, stream)
        if response.is_success or response.status_code in call.ok_statuses:
            if status_says_invalid and token.value == self._replacement:
                with self._memo_lock:
                    if token.value == self._replacement:
                        self._replacement = None  # accepted: a later 401 on it is a real expiry
            return response
        if stream:
            response.read()
            response.close()
        raise error_from_response(response, method=call.method, path=call.path)

    def _refused_before_accepted(self, token: AccessToken) -> bool:
        """Whether Books/Projects refused `token` before accepting it, having taken it in place of
        a token they refused: recorded in the token store by the first caller to see it, whoever
        refreshed, so no caller in any process drops it (and mints) once more."""
        with self._memo_lock:
            on_probation = token.value == self._replacement
        if on_probation:
            self.tokens.mark_refused_when_fresh(token)
            return True
        return self.tokens.refused_when_fresh(token)

    def _send(self, call: _Call, token: AccessToken, stream: bool) -> httpx.Response:
        headers = {"Authorization": f"Zoho-oauthtoken {token.value}", **(call.headers or {})}
        content = None
        if call.json is not None:
            content = orjson.dumps(call.json)
            headers["Content-Type"] = "application/json"
        request = self._http.build_request(
            call.method,
            self._absolute(call.url, token),
            params=call.params,
            content=content,
            data=call.data,
            headers=headers,
        )
        try:
            response = self._http.send(request, stream=stream)
        except httpx.TransportError as exc:
            self.stats.record_no_response()
            kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "connection failed"
            raise ZohoConnectionError(
                f"{kind} ({type(exc).__name__})", method=call.method, path=call.path
            ) from exc
        self.stats.record_response(
            response.status_code, call.credits, response.headers.get("X-API-CREDITS-REMAINING")
        )
        logger.debug("%s %s -> %d", call.method, call.path, response.status_code)
        return response

    def _absolute(self, url: str, token: AccessToken) -> str:
        if url.startswith(("http://", "https://")):
            return url
        trusted = self._trust_token_api_domain and token.api_domain
        base = token.api_domain if trusted else self.endpoints.api_url
        return f"{base}{url if url.startswith('/') else '/' + url}"

    @staticmethod
    def _token_expired(response: httpx.Response, stream: bool) -> bool:
        """CRM's 401 body says whether the token is dead (Books and Projects: any 401 is)."""
        if stream:
            response.read()
        code, _, _ = parse_error_body(response.content)
        return code in EXPIRED_TOKEN_CODES


@dataclass(frozen=True)
class _Call:
    """One logical API call, replayed unchanged by every attempt."""

    method: str
    url: str
    params: Mapping[str, Any] | None
    json: Any
    data: Mapping[str, Any] | None
    headers: Mapping[str, str] | None
    credits: int
    ok_statuses: frozenset[int]

    @property
    def path(self) -> str:
        """The URL path only: query strings stay out of errors and logs."""
        return httpx.URL(self.url).path

    def idempotent(self, declared: bool | None) -> bool:
        return self.method in IDEMPOTENT_METHODS if declared is None else declared
