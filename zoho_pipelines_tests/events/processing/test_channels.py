"""Watch channel management against the sandbox's Notification API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from zoho_pipelines.events.processing.channels import ChannelAction, ChannelError, ensure_watch_channel
from zoho_pipelines.sandbox.server import RunningSandbox
from zoho_pipelines.zoho.client import ZohoClient

CHANNEL = 1_000_000_068_001
EVENTS = ("Leads.all", "Deals.edit")
TTL, RENEW_WITHIN = timedelta(hours=2), timedelta(hours=1)


def ensure(zoho: ZohoClient, now: datetime, **overrides: object):
    options = {
        "channel_id": CHANNEL,
        "events": EVENTS,
        "notify_url": "http://127.0.0.1:9/zoho/events",
        "token": "channel-token-0001",
        "now": now,
        "ttl": TTL,
        "renew_within": RENEW_WITHIN,
    } | overrides
    return ensure_watch_channel(zoho.crm.notifications, **options)


def expiry_in_sandbox(sandbox: RunningSandbox) -> datetime:
    assert sandbox.state is not None
    channel = sandbox.state.notifications.channels[str(CHANNEL)]
    return datetime.fromtimestamp(channel.expiry_ms / 1000, UTC)


def test_a_missing_channel_is_subscribed_and_a_fresh_one_left_alone(
    small_sandbox: RunningSandbox, zoho: ZohoClient
) -> None:
    now = small_sandbox.clock.now()  # the sandbox judges expiries by its own clock

    first = ensure(zoho, now)
    second = ensure(zoho, now + timedelta(minutes=30))

    assert first.action is ChannelAction.ENABLED
    assert abs(expiry_in_sandbox(small_sandbox) - (now + TTL)) < timedelta(seconds=1)
    assert second.action is ChannelAction.UNCHANGED
    channel = small_sandbox.state.notifications.channels[str(CHANNEL)]
    assert (sorted(channel.events), channel.token) == (sorted(EVENTS), "channel-token-0001")


def test_a_channel_close_to_expiry_is_renewed_before_it_lapses(
    small_sandbox: RunningSandbox, zoho: ZohoClient
) -> None:
    now = small_sandbox.clock.now()  # the sandbox judges expiries by its own clock
    ensure(zoho, now)

    later = now + timedelta(minutes=70)  # 50 minutes left, less than RENEW_WITHIN
    renewed = ensure(zoho, later)

    assert renewed.action is ChannelAction.RENEWED
    assert abs(expiry_in_sandbox(small_sandbox) - (later + TTL)) < timedelta(seconds=1)


def test_a_changed_configuration_replaces_the_subscription(
    small_sandbox: RunningSandbox, zoho: ZohoClient
) -> None:
    now = small_sandbox.clock.now()  # the sandbox judges expiries by its own clock
    ensure(zoho, now)

    replaced = ensure(zoho, now, events=("Contacts.all",), notify_url="http://127.0.0.1:10/zoho/events")

    assert replaced.action is ChannelAction.REPLACED
    channel = small_sandbox.state.notifications.channels[str(CHANNEL)]
    assert (channel.events, channel.notify_url) == ({"Contacts.all"}, "http://127.0.0.1:10/zoho/events")


def test_a_refused_subscription_fails_loudly_without_the_token(
    small_sandbox: RunningSandbox, zoho: ZohoClient
) -> None:
    with pytest.raises(ChannelError, match="INVALID_DATA") as raised:
        ensure(zoho, small_sandbox.clock.now(), events=("NoSuchModule.all",))

    assert "channel-token-0001" not in str(raised.value)
    assert str(CHANNEL) not in small_sandbox.state.notifications.channels
