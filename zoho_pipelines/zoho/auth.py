"""Access tokens from the refresh-token grant: one per org, shared by every thread and process.

Zoho lets a refresh token mint ten access tokens per ten minutes and then blocks minting for the
rest of the window, so every Dagster run, sensor tick and onboarding Lambda minting its own token
locks the whole integration out. Tokens therefore live in a shared `TokenStore` (a file beside
the other local state, or a DynamoDB table on AWS) and are minted single-flight:

- in a process, one lock: twenty threads needing a token make one trip to the store;
- across processes, a lease in the store: whoever takes it (compare-and-swap) mints and
  publishes the token, everyone else waits for it and reads it;
- when Zoho refuses to mint (the window's quota is spent, by us or by anyone else holding the
  refresh token), the refusal and its end go into the store, and every process waits for the
  window to close, logging one line, instead of asking again in a loop.

`invalidate` drops only the token it was handed, and only if the store still holds it, so a
late 401 for a token another process already replaced does not cost another mint.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

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
from zoho_pipelines.zoho.token_store import MemoryTokenStore, TokenKey, TokenRecord, TokenStore

logger = logging.getLogger("zoho_pipelines.zoho.auth")

TOKEN_PATH = "/oauth/v2/token"  # noqa: S105 - a URL path, not a credential
MINT_LIMIT = 10
"""Access tokens Zoho lets one refresh token mint per window."""
MINT_WINDOW_S = 600.0
LEASE_S = 120.0
"""How long a minting process may hold the lease; a process that dies holding it is outlived."""
BLOCK_GRACE_S = 5.0
"""Margin past the computed end of a blocked window, for clock skew between us and Zoho."""


@dataclass(frozen=True)
class AccessToken:
    """A minted access token; `value` stays out of the repr."""

    value: str = field(repr=False)
    api_domain: str | None
    expires_at: float


class TokenMintBlockedError(ZohoRateLimitError):
    """Zoho refused to mint: the refresh token's quota for the current window is spent."""


class TokenProvider:
    """Hands out a valid access token, minting at most once per expiry across threads and processes.

    `store` is shared by everyone who should share the token; by default a private in-memory
    store (this provider's threads only). `clock` tells epoch seconds (records are compared
    across processes and machines); `sleep` is how the provider waits for another process's
    mint or for a blocked window to end. `max_block_wait_s` bounds the latter: past it, the
    blocked mint raises `TokenMintBlockedError` (with `retry_after`) for the caller to reschedule.
    """

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
        store: TokenStore | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        mint_window_s: float = MINT_WINDOW_S,
        max_block_wait_s: float | None = None,
    ) -> None:
        self._credentials = credentials
        self._accounts_url = accounts_url.rstrip("/")
        self._token_url = self._accounts_url + TOKEN_PATH
        self._http = http
        self._data_center = data_center
        self._retry_policy = retry_policy or RetryPolicy()
        self._stats = stats
        self._refresh_margin_s = refresh_margin_s
        self._store = store or MemoryTokenStore()
        self._key = TokenKey.of(
            self._accounts_url, credentials.client_id, credentials.refresh_token.get_secret_value()
        )
        self._clock = clock
        self._sleep = sleep
        self._mint_window_s = mint_window_s
        self._max_block_wait_s = max_block_wait_s
        self._owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._lock = threading.Lock()
        self._token: AccessToken | None = None
        self._announced_block = 0.0

    def token(self) -> AccessToken:
        """The cached token, or the shared one, or a freshly minted one when none is valid."""
        with self._lock:
            if self._token is None or self._clock() >= self._token.expires_at:
                self._token = self._shared_token()
            return self._token

    def invalidate(self, stale: AccessToken) -> bool:
        """Forget `stale` (Zoho rejected it) unless it was already replaced, here or in the store;
        True when this dropped the provider's current token (False: a newer one was already held).

        A token this provider no longer holds was replaced by a newer one it minted or read, so
        the store has moved past it too: late 401s cost no store round trip, let alone a mint.
        """
        with self._lock:
            if self._token is None or self._token.value != stale.value:
                return False
            self._token = None
            while True:
                record = self._store.load(self._key)
                if record.access_token != stale.value:
                    return True
                dropped = record.replace(access_token=None, refused_when_fresh=False)
                if self._store.swap(self._key, record.version, dropped):
                    return True

    def mark_refused_when_fresh(self, token: AccessToken) -> None:
        """Record in the store that Books or Projects refused `token` fresh (see TokenRecord), so
        that no process drops it for their 401s; nothing when the store has moved past it."""
        while True:
            record = self._store.load(self._key)
            if record.access_token != token.value or record.refused_when_fresh:
                return
            if self._store.swap(self._key, record.version, record.replace(refused_when_fresh=True)):
                return

    def refused_when_fresh(self, token: AccessToken) -> bool:
        """Whether some process recorded `token` as refused fresh by Books or Projects."""
        record = self._store.load(self._key)
        return record.access_token == token.value and record.refused_when_fresh

    def _shared_token(self) -> AccessToken:
        waited = 0
        while True:
            now = self._clock()
            record = self._store.load(self._key)
            if record.usable(now):
                return _token_of(record)
            if record.blocked_until > now:
                self._wait_out_block(record.blocked_until, now)
                continue
            if record.leased_to_other(self._owner, now):
                self._sleep(min(0.02 * 2 ** min(waited, 5), 0.5, record.lease_until - now))
                waited += 1
                continue
            leased = record.replace(lease_owner=self._owner, lease_until=now + LEASE_S)
            if self._store.swap(self._key, record.version, leased):
                return self._mint_under_lease(leased.replace(version=record.version + 1))

    def _mint_under_lease(self, leased: TokenRecord) -> AccessToken:
        try:
            token = self._refresh()
        except TokenMintBlockedError:
            now = self._clock()
            recent = self._recent(leased.mints, now)
            # The window is open since our oldest recent mint; with none recorded (someone else
            # spent the quota) it may have opened just now: wait the whole window.
            until = (recent[0] if recent else now) + self._mint_window_s + BLOCK_GRACE_S
            self._release(leased, blocked_until=until)
            return self._shared_token()
        except BaseException:
            self._release(leased)
            raise
        self._publish(leased, token)
        return token

    def _publish(self, leased: TokenRecord, token: AccessToken) -> None:
        record = leased
        while True:
            now = self._clock()
            published = record.replace(
                access_token=token.value,
                api_domain=token.api_domain,
                expires_at=token.expires_at,
                lease_owner=None,
                lease_until=0.0,
                blocked_until=0.0,
                mints=(*self._recent(record.mints, now), now),
                refused_when_fresh=False,
            )
            if self._store.swap(self._key, record.version, published):
                return
            record = self._store.load(self._key)  # someone wrote meanwhile: merge, do not clobber

    def _recent(self, mints: tuple[float, ...], now: float) -> tuple[float, ...]:
        """Mints still inside a window ending now (older ones no longer count against the quota)."""
        return tuple(moment for moment in mints if moment > now - self._mint_window_s)

    def _release(self, leased: TokenRecord, *, blocked_until: float = 0.0) -> None:
        record = leased
        while record.lease_owner == self._owner:
            released = record.replace(
                lease_owner=None, lease_until=0.0, blocked_until=max(blocked_until, record.blocked_until)
            )
            if self._store.swap(self._key, record.version, released):
                return
            record = self._store.load(self._key)

    def _wait_out_block(self, until: float, now: float) -> None:
        remaining = until - now
        if self._max_block_wait_s is not None and remaining > self._max_block_wait_s:
            raise TokenMintBlockedError(
                f"Zoho blocks access-token minting for client {self._credentials.client_id} "
                f"for another {remaining:.0f} s",
                retry_after=remaining,
                status=None,
                code="Access Denied",
                method="POST",
                path=TOKEN_PATH,
            )
        if self._announced_block != until:
            self._announced_block = until
            logger.warning(
                "Zoho is not minting access tokens for client %s at %s (limit: %d per %.0f s per "
                "refresh token); waiting %.0f s, until %s, before asking again",
                self._credentials.client_id,
                self._accounts_url,
                MINT_LIMIT,
                self._mint_window_s,
                remaining,
                datetime.fromtimestamp(until, UTC).isoformat(timespec="seconds"),
            )
        self._sleep(remaining)

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
            # Zoho's answer once the refresh token's mint quota is spent (HTTP 200 or 400).
            return TokenMintBlockedError(
                f"accounts server refused to mint an access token: {description}",
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


def _token_of(record: TokenRecord) -> AccessToken:
    assert record.access_token is not None
    return AccessToken(value=record.access_token, api_domain=record.api_domain, expires_at=record.expires_at)


def _is_transient(error: BaseException) -> bool:
    if isinstance(error, TokenMintBlockedError):
        return False  # asking again inside the window only prolongs "too many requests"
    return isinstance(error, ZohoConnectionError | ZohoServerError | ZohoRateLimitError)
