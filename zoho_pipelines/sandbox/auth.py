"""Zoho Accounts stand-in: the refresh-token grant and the registry of issued access tokens."""

from __future__ import annotations

import secrets
import threading
import time
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from zoho_pipelines.sandbox.config import SandboxConfig

SCOPE = (
    "ZohoCRM.modules.ALL ZohoCRM.settings.ALL ZohoCRM.coql.READ ZohoCRM.bulk.ALL ZohoCRM.notifications.ALL"
)


class TokenRegistry:
    """Access tokens with their expiry; `expire_all` is the sandbox's 'revoke everything now'.

    Every token ever issued is also remembered (`issued_tokens`), expired or not, so a test can
    search logs and files for any of them: a leaked token is a leak even after it expired.
    """

    def __init__(self, ttl_s: int) -> None:
        self.ttl_s = ttl_s
        self._expiry: dict[str, float] = {}
        self._history: list[str] = []
        self._lock = threading.Lock()
        self.issued = 0

    def issue(self) -> str:
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
        with self._lock:
            expiry = self._expiry.get(token)
        return expiry is not None and expiry > time.monotonic()

    def expire_all(self) -> None:
        with self._lock:
            self._expiry.clear()


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
        return JSONResponse(
            {
                "access_token": tokens.issue(),
                "scope": SCOPE,
                "api_domain": str(request.base_url).rstrip("/"),
                "token_type": "Bearer",
                "expires_in": config.token_ttl_s,
            }
        )

    return [Route("/oauth/v2/token", grant, methods=["POST"])]
