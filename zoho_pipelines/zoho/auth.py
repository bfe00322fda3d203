"""Access tokens from the refresh-token grant, cached and refreshed once for everyone.

Zoho caps how many access tokens one refresh token may mint (10 per 10 minutes in current docs,
30 active in older ones), so a process with twenty threads must not refresh twenty times when the
token expires: the token is cached until shortly before expiry, and refreshing happens under a
lock (single flight) so concurrent callers wait for the one refresh in progress and share its
result. `invalidate` only drops the token it was handed, so a late 401 for an already replaced
token does not cause a second refresh.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import orjson

from zoho_pipelines.redaction import register_secret
from zoho_pipelines.zoho.credentials import ZohoCredentials
from zoho_pipelines.zoho.errors import (
    ZohoAPIError,
    ZohoAuthError,
    ZohoConnectionError,
    ZohoRateLimitError,
    ZohoServerError,
    error_from_response,
)
from zoho_pipelines.zoho.retry import RetryPolicy
from zoho_pipelines.zoho.stats import ApiStats

logger = logging.getLogger("zoho_pipelines.zoho.auth")

TOKEN_PATH = "/oauth/v2/token"  # noqa: S105 - a URL path, not a credential


@dataclass(frozen=True)
class AccessToken:
    """A minted access token; `value` stays out of the repr."""

    value: str = field(repr=False)
    api_domain: str | None
    expires_at: float


class TokenProvider:
    """Hands out a valid access token, refreshing it at most once per expiry across threads."""

    def __init__(
        self,
        credentials: ZohoCredentials,
        accounts_url: str,
        http: httpx.Client,
        *,
        data_center: str,
        retry_policy: RetryPolicy | None = None,
        stats: ApiStats | None = None,
        refresh_margin_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._credentials = credentials
        self._token_url = accounts_url.rstrip("/") + TOKEN_PATH
        self._http = http
        self._data_center = data_center
        self._retry_policy = retry_policy or RetryPolicy()
        self._stats = stats
        self._refresh_margin_s = refresh_margin_s
        self._clock = clock
        self._lock = threading.Lock()
        self._token: AccessToken | None = None

    def token(self) -> AccessToken:
        """The cached token, or a fresh one when it is missing or about to expire."""
        with self._lock:
            if self._token is None or self._clock() >= self._token.expires_at:
                self._token = self._refresh()
            return self._token

    def invalidate(self, stale: AccessToken) -> None:
        """Forget `stale` (Zoho rejected it) unless another thread already replaced it."""
        with self._lock:
            if self._token is stale:
                self._token = None

    def _refresh(self) -> AccessToken:
        for attempt in self._retry_policy.retrying(_is_transient):
            with attempt:
                token = self._request_token()
        logger.info("minted a Zoho access token for client %s", self._credentials.client_id)
        if self._stats is not None:
            self._stats.record_token_refresh()
        return token

    def _request_token(self) -> AccessToken:
        form = {
            "grant_type": "refresh_token",
            "client_id": self._credentials.client_id,
            "client_secret": self._credentials.client_secret.get_secret_value(),
            "refresh_token": self._credentials.refresh_token.get_secret_value(),
        }
        try:
            response = self._http.post(self._token_url, data=form)
        except httpx.TransportError as exc:
            raise ZohoConnectionError(
                f"accounts server unreachable ({type(exc).__name__})", method="POST", path=TOKEN_PATH
            ) from None
        try:
            body = orjson.loads(response.content) if response.content else {}
        except orjson.JSONDecodeError:
            body = {}
        if response.is_success and isinstance(body, dict) and body.get("access_token"):
            return self._token_from(body)
        if response.status_code >= 500 or response.status_code == 429:
            raise error_from_response(response, method="POST", path=TOKEN_PATH)
        raise self._rejection(response, body if isinstance(body, dict) else {})

    def _token_from(self, body: dict) -> AccessToken:
        value = str(body["access_token"])
        register_secret(value)
        expires_in = float(body.get("expires_in") or 3600)
        margin = min(self._refresh_margin_s, expires_in * 0.1)
        return AccessToken(
            value=value,
            api_domain=(str(body["api_domain"]).rstrip("/") if body.get("api_domain") else None),
            expires_at=self._clock() + expires_in - margin,
        )

    def _rejection(self, response: httpx.Response, body: dict) -> ZohoAPIError:
        error = str(body.get("error") or f"HTTP {response.status_code}")
        description = str(body.get("error_description") or "")
        if "too many requests" in description.lower():
            return ZohoRateLimitError(
                f"accounts server throttled token refreshes: {description}",
                status=response.status_code,
                code=error,
                method="POST",
                path=TOKEN_PATH,
            )
        return ZohoAuthError(
            f"Zoho rejected the refresh token of client {self._credentials.client_id} "
            f"in data center {self._data_center} ({error})",
            status=response.status_code,
            code=error,
            method="POST",
            path=TOKEN_PATH,
        )


def _is_transient(error: BaseException) -> bool:
    return isinstance(error, ZohoConnectionError | ZohoServerError | ZohoRateLimitError)
