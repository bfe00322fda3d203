"""Keeping a Notification API watch channel alive.

A channel expires (after an hour unless asked otherwise, a week at most) and Zoho then simply
stops notifying, so a schedule calls `ensure_watch_channel` well within the channel's lifetime:
it subscribes a missing channel, renews one that expires within `renew_within`, and replaces one
whose events or URL no longer match the configuration (PATCH can add events but not drop them,
so a replacement is an unsubscribe followed by a subscribe). Zoho's per-channel answer is
checked, so a refused subscription fails loudly instead of looking done.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from zoho_pipelines.zoho.crm_notifications import NotificationChannels, WatchChannel


class ChannelError(RuntimeError):
    """Zoho refused to subscribe or renew the channel."""


class ChannelAction(StrEnum):
    ENABLED = "enabled"
    RENEWED = "renewed"
    REPLACED = "replaced"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class ChannelStatus:
    channel_id: int
    action: ChannelAction
    expiry: datetime | None
    events: tuple[str, ...]

    def metadata(self) -> dict[str, Any]:
        return {
            "channel_id": str(self.channel_id),
            "action": self.action.value,
            "channel_expiry": self.expiry.isoformat() if self.expiry else "unknown",
            "events": ", ".join(self.events),
        }


def ensure_watch_channel(
    notifications: NotificationChannels,
    *,
    channel_id: int,
    events: Sequence[str],
    notify_url: str,
    token: str | None,
    now: datetime,
    ttl: timedelta,
    renew_within: timedelta,
) -> ChannelStatus:
    """Make the channel exist, match the configuration, and live at least `renew_within` more."""
    if not events:
        raise ValueError("a watch channel needs at least one event")
    if renew_within >= ttl:
        raise ValueError("renew_within must be shorter than the channel's ttl, or every run renews")
    wanted = WatchChannel(
        channel_id=channel_id,
        events=tuple(events),
        notify_url=notify_url,
        token=token,
        channel_expiry=now + ttl,
    )
    current = notifications.details(channel_id=channel_id)
    entries = [entry for entry in current if str(entry.get("channel_id")) == str(channel_id)]
    if not entries:
        _check(notifications.enable([wanted]), "subscribe")
        return ChannelStatus(channel_id, ChannelAction.ENABLED, wanted.channel_expiry, tuple(events))

    subscribed = {str(event) for entry in entries for event in entry.get("events") or ()}
    urls = {entry.get("notify_url") for entry in entries if entry.get("notify_url")}
    if subscribed != set(events) or urls - {notify_url}:
        notifications.disable([channel_id])
        _check(notifications.enable([wanted]), "subscribe")
        return ChannelStatus(channel_id, ChannelAction.REPLACED, wanted.channel_expiry, tuple(events))

    expiry = _earliest_expiry(entries)
    if expiry is None or expiry - now <= renew_within:
        _check(notifications.renew([wanted]), "renew")
        return ChannelStatus(channel_id, ChannelAction.RENEWED, wanted.channel_expiry, tuple(events))
    return ChannelStatus(channel_id, ChannelAction.UNCHANGED, expiry, tuple(events))


def _earliest_expiry(entries: Sequence[Mapping[str, Any]]) -> datetime | None:
    """Zoho may describe a channel once per module; the channel lapses with the first of them."""
    moments = []
    for entry in entries:
        raw = entry.get("channel_expiry")
        try:
            moment = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
        except ValueError:
            return None
        if moment.tzinfo is None:
            return None
        moments.append(moment)
    return min(moments, default=None)


def _check(results: Sequence[Mapping[str, Any]], verb: str) -> None:
    failed = [result for result in results if str(result.get("status", "")).lower() != "success"]
    if failed or not results:
        codes = ", ".join(sorted({str(result.get("code", "?")) for result in failed})) or "no answer"
        raise ChannelError(f"Zoho did not {verb} the watch channel: {codes}")
