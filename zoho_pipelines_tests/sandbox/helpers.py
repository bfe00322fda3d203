"""Plain-httpx helpers for sandbox tests (deliberately not our Zoho client)."""

from __future__ import annotations

import httpx

from zoho_pipelines.sandbox.server import RunningSandbox

_tokens: dict[str, str] = {}


def access_token(sandbox: RunningSandbox) -> str:
    """An access token for `sandbox`, minted once and reused while the sandbox still accepts it.

    The sandbox enforces Zoho's mint limit (10 tokens per 10 minutes), and the session-wide
    sandbox serves many modules' fixtures: they share a token, as every Zoho caller should.
    A subprocess sandbox cannot be asked whether a token is still valid, so it gets a fresh one.
    """
    cached = _tokens.get(sandbox.url)
    if cached is not None and sandbox.state is not None and sandbox.state.tokens.is_valid(cached):
        return cached
    _tokens[sandbox.url] = token = _mint(sandbox)
    return token


def _mint(sandbox: RunningSandbox) -> str:
    response = httpx.post(
        f"{sandbox.url}/oauth/v2/token",
        data={
            "grant_type": "refresh_token",
            "client_id": sandbox.config.client_id,
            "client_secret": sandbox.config.client_secret,
            "refresh_token": sandbox.config.refresh_token,
        },
    )
    response.raise_for_status()
    return response.json()["access_token"]


def api_client(sandbox: RunningSandbox, **options: object) -> httpx.Client:
    """An httpx client with a fresh access token, pointed at the sandbox."""
    return httpx.Client(
        base_url=sandbox.url,
        headers={"Authorization": f"Zoho-oauthtoken {access_token(sandbox)}"},
        timeout=30,
        **options,
    )
