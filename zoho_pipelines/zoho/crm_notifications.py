"""CRM Notification API channels: enable, renew, disable and inspect `actions/watch`.

Channels expire (default one hour, at most a week) and must be renewed before they lapse, or
record-change events silently stop; renewing is a PATCH of the same channel. The channel token is
echoed in every delivery and is how the ingress authenticates Zoho, so it is treated as a secret.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from zoho_pipelines.redaction import register_secret
from zoho_pipelines.zoho.crm_records import API
from zoho_pipelines.zoho.transport import ZohoTransport, json_body
from zoho_pipelines.zoho.windows import require_aware

WATCH = f"{API}/actions/watch"


@dataclass(frozen=True)
class WatchChannel:
    """One subscription: `events` like "Deals.edit" or "Leads.all" delivered to `notify_url`."""

    channel_id: int
    events: Sequence[str]
    notify_url: str
    token: str | None = field(default=None, repr=False)
    channel_expiry: datetime | None = None
    return_affected_field_values: bool = False

    def __post_init__(self) -> None:
        register_secret(self.token)

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "channel_id": self.channel_id,
            "events": list(self.events),
            "notify_url": self.notify_url,
            "return_affected_field_values": self.return_affected_field_values,
        }
        if self.token:
            body["token"] = self.token
        if self.channel_expiry is not None:
            body["channel_expiry"] = require_aware(self.channel_expiry, "channel_expiry").isoformat()
        return body


class NotificationChannels:
    """The Notification API of one org."""

    def __init__(self, transport: ZohoTransport) -> None:
        self._transport = transport

    def enable(self, channels: Sequence[WatchChannel]) -> list[dict[str, Any]]:
        """Subscribe; returns Zoho's per-channel results (details carry the resulting expiry)."""
        return self._write("POST", channels)

    def renew(self, channels: Sequence[WatchChannel]) -> list[dict[str, Any]]:
        """Extend or change existing channels (their expiry, events or URL) without a gap."""
        return self._write("PATCH", channels)

    def disable(self, channel_ids: Iterable[int]) -> list[dict[str, Any]]:
        """Unsubscribe the channels entirely."""
        ids = ",".join(str(channel_id) for channel_id in channel_ids)
        response = self._transport.request("DELETE", WATCH, params={"channel_ids": ids})
        return _watch_entries(json_body(response))

    def details(self, *, channel_id: int | None = None, module: str | None = None) -> list[dict[str, Any]]:
        """The active subscriptions (optionally of one channel or module); none -> []."""
        params: dict[str, Any] = {}
        if channel_id is not None:
            params["channel_id"] = channel_id
        if module:
            params["module"] = module
        response = self._transport.request("GET", WATCH, params=params or None)
        return list(json_body(response).get("watch") or [])

    def _write(self, method: str, channels: Sequence[WatchChannel]) -> list[dict[str, Any]]:
        response = self._transport.request(
            method, WATCH, json={"watch": [channel.payload() for channel in channels]}, idempotent=True
        )
        return _watch_entries(json_body(response))


def _watch_entries(body: dict[str, Any]) -> list[dict[str, Any]]:
    return list(body.get("watch") or body.get("data") or [])
