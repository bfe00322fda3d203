"""Zoho Accounts stand-in: the refresh-token grant, its mint limit, and the issued access tokens.

Zoho caps how many access tokens one refresh token may create: "up to ten access tokens in a span
of ten minutes. If the limit is reached, the access token creation will be blocked for the rest of
the ten minutes" (https://www.zoho.com/accounts/protocol/oauth/devices/refresh-access-token.html).
The sandbox enforces the same cap by default, so a client that mints per process or per call is
locked out here exactly as it would be against Zoho. The refusal is Zoho's documented body
(CRM "Token Validity", https://www.zoho.com/crm/developer/docs/api/v4/token-validity.html) with
HTTP 200, which Zoho keeps for throttled token requests ("Kaizen #43 - Tokens and Limitations").
The window is measured on the sandbox's injected clock, so tests step across it without waiting.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from zoho_pipelines.clock import SYSTEM_CLOCK, Clock
from zoho_pipelines.sandbox.config import SandboxConfig

SCOPE = (
    "ZohoCRM.modules.ALL ZohoCRM.settings.ALL ZohoCRM.coql.READ ZohoCRM.bulk.ALL ZohoCRM.notifications.ALL"
)
MINT_BLOCKED_BODY = {
    "error_description": "You have made too many requests continuously. Please try again after some time.",
    "error": "Access Denied",
    "status": "failure",
}


class MintBlockedError(Exception):
    """The refresh token has created its quota of access tokens in the current window."""


class MintLimit:
    """At most `limit` access tokens per refresh token in a window of `window_s` seconds.

    The window opens with the first mint after the previous one closed and lasts `window_s`
    whatever happens inside it: once the quota is spent, every request is refused until it
    closes ("blocked for the rest of the ten minutes"); refused requests do not extend it.
    A `limit` of 0 turns the cap off.
    """

    def __init__(self, limit: int, window_s: float, clock: Clock) -> None:
        if limit < 0 or window_s <= 0:
            raise ValueError("the token mint limit must be >= 0 and its window > 0 seconds")
        self.limit = limit
        self.window = timedelta(seconds=window_s)
        self._clock = clock
        self._lock = threading.Lock()
        self._window_start: datetime | None = None
        self._minted_in_window = 0
        self.refused = 0

    def take(self) -> None:
        """Count one mint, or raise `MintBlockedError` when the window's quota is spent."""
        if self.limit == 0:
            return
        with self._lock:
            now = self._clock.now()
            if self._window_start is None or now >= self._window_start + self.window:
                self._window_start, self._minted_in_window = now, 0
            if self._minted_in_window >= self.limit:
                self.refused += 1
                raise MintBlockedError
            self._minted_in_window += 1

    def close_window(self) -> None:
        """End the current window now (its quota no longer counts)."""
        with self._lock:
            self._window_start, self._minted_in_window = None, 0

    def blocked_until(self) -> datetime | None:
        """When the current block ends, or None when a mint would succeed now."""
        with self._lock:
            if self.limit == 0 or self._window_start is None or self._minted_in_window < self.limit:
                return None
            end = self._window_start + self.window
            return end if self._clock.now() < end else None


class TokenRegistry:
    """Access tokens with their expiry; `expire_all` is the sandbox's 'revoke everything now'.

    Every token ever issued is also remembered (`issued_tokens`), expired or not, so a test can
    search logs and files for any of them: a leaked token is a leak even after it expired.
    """

    def __init__(self, ttl_s: int, mint_limit: MintLimit | None = None) -> None:
        self.ttl_s = ttl_s
        self.mint_limit = mint_limit or MintLimit(0, 600, SYSTEM_CLOCK)
        self._expiry: dict[str, float] = {}
        self._first_used: dict[str, float] = {}
        self._history: list[str] = []
        self._lock = threading.Lock()
        self.issued = 0

    @classmethod
    def for_config(cls, config: SandboxConfig, clock: Clock) -> TokenRegistry:
        """The registry `config` describes, its mint window kept on the sandbox's `clock`."""
        return cls(config.token_ttl_s, MintLimit(config.token_mint_limit, config.token_mint_window_s, clock))

    def issue(self) -> str:
        """A new access token; raises `MintBlockedError` past the refresh token's mint limit."""
        self.mint_limit.take()
        token = f"1000.{secrets.token_hex(16)}.{secrets.token_hex(16)}"
        with self._lock:
            now = time.monotonic()
            self._expiry = {t: exp for t, exp in self._expiry.items() if exp > now}
            self._expiry[token] = now + self.ttl_s
            self._history.append(token)
            self.issued += 1
        return token

    def issued_tokens(self) -> list[str]:
        """Every access token this sandbox has handed out, in order."""
        with self._lock:
            return list(self._history)

    def is_valid(self, token: str) -> bool:
        now = time.monotonic()
        with self._lock:
            expiry = self._expiry.get(token)
            valid = expiry is not None and expiry > now
            if valid:
                self._first_used.setdefault(token, now)
        return valid

    def in_use_for(self, seconds: float) -> list[str]:
        """The live tokens that first authenticated a call at least `seconds` ago (monotonic).

        A revocation schedule built on this never kills a token before a client could use it,
        however long the client took to receive it.
        """
        cutoff = time.monotonic() - seconds
        with self._lock:
            return [
                token
                for token, first in self._first_used.items()
                if first <= cutoff and token in self._expiry
            ]

    def expire(self, tokens: Iterable[str]) -> None:
        """These tokens reach the end of their life now (and the mint window closes, as below)."""
        with self._lock:
            for token in tokens:
                self._expiry.pop(token, None)
                self._first_used.pop(token, None)
        self.mint_limit.close_window()

    def expire_all(self) -> None:
        """Every token reaches the end of its life now, as if its hour had passed.

        An hour is longer than the mint window, so the window closes too: with Zoho, tokens
        expiring on their own can never spend the mint quota (tests revoke tokens many times a
        second to exercise re-authentication, which must not read as minting too fast).
        """
        with self._lock:
            self._expiry.clear()
            self._first_used.clear()
        self.mint_limit.close_window()


def token_routes(config: SandboxConfig, tokens: TokenRegistry) -> list[BaseRoute]:
    async def grant(request: Request) -> Response:
        """POST /oauth/v2/token: Zoho takes the grant as query or form parameters.

        Failures answer HTTP 200 with an `error` field, as Zoho Accounts does.
        """
        params = dict(request.query_params)
        if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            params.update(parse_qsl((await request.body()).decode("utf-8"), keep_blank_values=True))
        if params.get("grant_type") != "refresh_token":
            return JSONResponse({"error": "unsupported_grant_type"})
        if params.get("client_id") != config.client_id or params.get("client_secret") != config.client_secret:
            return JSONResponse({"error": "invalid_client"})
        if params.get("refresh_token") != config.refresh_token:
            return JSONResponse({"error": "invalid_code"})
        try:
            access_token = tokens.issue()
        except MintBlockedError:
            return JSONResponse(MINT_BLOCKED_BODY)
        return JSONResponse(
            {
                "access_token": access_token,
                "scope": SCOPE,
                "api_domain": str(request.base_url).rstrip("/"),
                "token_type": "Bearer",
                "expires_in": config.token_ttl_s,
            }
        )

    return [Route("/oauth/v2/token", grant, methods=["POST"])]
