"""Plain-httpx helpers for sandbox tests (deliberately not our Zoho client)."""

from __future__ import annotations

import httpx

from zoho_pipelines.sandbox.server import RunningSandbox


def access_token(sandbox: RunningSandbox) -> str:
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
