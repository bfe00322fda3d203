"""The middleware every API call passes: auth, concurrency, faults, credits, latency, stats.

It wraps CRM, Books and Projects routes alike; the accounts server (/oauth) and the sandbox's
own control endpoints (/__sandbox) are exempt and never counted as API calls.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from typing import Any

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from zoho_pipelines.sandbox.errors import api_error
from zoho_pipelines.sandbox.limits import Fault
from zoho_pipelines.sandbox.state import SandboxState

EXEMPT_PREFIXES = ("/oauth/", "/__sandbox/")
ABORT_EXTENSION = "zoho_sandbox.abort"
CREDITS_STATE_KEY = "zoho_credits"
CREDIT_HEADER_SHARE = 0.5


def route_template(routes: Sequence[BaseRoute], scope: Scope) -> str | None:
    """The path template of the route that would serve `scope`, looking inside mounts."""
    for route in routes:
        match, child_scope = route.matches(scope)
        if match is Match.NONE:
            continue
        path = getattr(route, "path", "?")
        children = getattr(route, "routes", None)
        if children:
            inner = route_template(children, {**scope, **child_scope})
            return path + (inner or "")
        return path
    return None


def endpoint_label(routes: Sequence[BaseRoute], scope: Scope) -> str:
    """'GET /crm/{version}/{module}': the route template, so stats group calls by endpoint."""
    return f"{scope.get('method', 'GET')} {route_template(routes, scope) or '(unmatched)'}"


def bearer_token(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme == "Zoho-oauthtoken" else None
    return None


class ApiGuard:
    def __init__(self, app: ASGIApp, state: SandboxState, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.state = state
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path.startswith(EXEMPT_PREFIXES):
            await self.app(scope, receive, send)
            return
        state = self.state
        label = endpoint_label(self.routes, scope)
        token = bearer_token(scope)
        if token is None or not state.tokens.is_valid(token):
            await self._reject(scope, receive, send, label, 401, "INVALID_TOKEN", "invalid oauth token")
            return
        if not state.gate.try_enter():
            state.stats.count("concurrency_rejections")
            await self._too_many(scope, receive, send, label, "concurrency limit exceeded")
            return
        try:
            await self._guarded(scope, receive, send, label, path)
        finally:
            state.gate.leave()

    async def _guarded(self, scope: Scope, receive: Receive, send: Send, label: str, path: str) -> None:
        state = self.state
        fault, slow, server_status = state.faults.draw()
        rates = state.faults.rates
        delay_ms = rates.latency_ms + (rates.slow_ms if slow else 0.0)
        if slow:
            state.stats.count("injected_slow")
        if delay_ms > 0:
            await asyncio.sleep(delay_ms / 1000)
        if fault is Fault.DROP:
            state.stats.count("injected_drops")
            state.stats.record_call(label, "dropped")
            abort = scope.get("extensions", {}).get(ABORT_EXTENSION)
            if abort is not None:
                abort()
                await asyncio.sleep(0)  # let the server see the disconnect before the app returns
                return
        if fault is Fault.SERVER_ERROR:
            state.stats.count("injected_server_errors")
            await self._reject(
                scope,
                receive,
                send,
                label,
                server_status,
                "INTERNAL_ERROR",
                "Internal server error occurred.",
            )
            return
        if fault is Fault.RATE_LIMITED:
            state.stats.count("injected_rate_limits")
            await self._too_many(scope, receive, send, label, "too many requests")
            return
        charged = path.startswith("/crm/")
        if charged and state.credits.remaining() < 1:
            wait = max(1, math.ceil(state.credits.seconds_until_free()))
            await self._reject(
                scope,
                receive,
                send,
                label,
                429,
                "LIMIT_EXCEEDED",
                "API credits for the rolling 24 hours are exhausted",
                {"limit": state.credits.budget},
                {"Retry-After": str(wait)},
            )
            return
        scope.setdefault("state", {})
        await self.app(scope, receive, self._metered(scope, send, label, charged))

    def _metered(self, scope: Scope, send: Send, label: str, charged: bool) -> Send:
        state = self.state

        async def metered_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                state.stats.record_call(label, message["status"])
                if charged:
                    credits = int(scope["state"].get(CREDITS_STATE_KEY, 1))
                    state.credits.try_spend(credits)
                    used = state.credits.used()
                    if used > state.credits.budget * CREDIT_HEADER_SHARE:
                        headers = list(message.get("headers", []))
                        headers.append((b"x-api-credits-remaining", str(state.credits.remaining()).encode()))
                        message = {**message, "headers": headers}
            await send(message)

        return metered_send

    async def _too_many(self, scope: Scope, receive: Receive, send: Send, label: str, reason: str) -> None:
        retry_after = self.state.config.retry_after_s
        await self._reject(
            scope,
            receive,
            send,
            label,
            429,
            "TOO_MANY_REQUESTS",
            f"The API request was rejected: {reason}",
            {"retry_after": retry_after},
            {"Retry-After": str(max(1, math.ceil(retry_after)))},
        )

    async def _reject(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        label: str,
        status: int,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.state.stats.record_call(label, status)
        response = api_error(scope.get("path", ""), status, code, message, details, headers)
        await response(scope, receive, send)
