"""End to end on loopback: the Zoho sandbox's Notification API really POSTs to the local ingress,
which authenticates the channel token and routes into the local queues."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from zoho_pipelines.events.ingress import IngressConfig, make_handler
from zoho_pipelines.events.local_router import LocalRouter
from zoho_pipelines.events.local_server import IngressServer
from zoho_pipelines.events.model import Channel, event_from_message
from zoho_pipelines.events.routing import Target
from zoho_pipelines.sandbox.server import RunningSandbox
from zoho_pipelines_tests.sandbox.helpers import api_client

TOKEN = "sandbox-channel-token-42"


def test_a_deal_closed_in_zoho_reaches_the_onboarding_queue(
    sandbox_factory: Callable[..., RunningSandbox], tmp_path: Path
) -> None:
    router = LocalRouter(tmp_path / "queue")
    running = sandbox_factory(records_per_module=200)
    # The ingress receives on the sandbox's time, so Zoho's server_time is never "in the future".
    handler = make_handler(IngressConfig(channel_tokens=(TOKEN,)), publisher=router, clock=running.clock)
    with IngressServer(handler) as ingress, api_client(running) as client:
        watch = client.post(
            "/crm/v8/actions/watch",
            json={
                "watch": [
                    {
                        "channel_id": "1000000068001",
                        "events": ["Deals.edit", "Leads.create"],
                        "notify_url": f"{ingress.url}/zoho/events",
                        "token": TOKEN,
                        "channel_expiry": (running.clock.now() + timedelta(hours=1)).isoformat(),
                        "return_affected_field_values": True,
                    }
                ]
            },
        )
        assert watch.status_code == 201, watch.text
        deal = str(running.state.crm.ids("Deals")[0])
        updated = client.put("/crm/v8/Deals", json={"data": [{"id": deal, "Stage": "Closed Won"}]})
        assert updated.status_code == 200, updated.text
        assert running.state.notifications.drain()

        onboarding = router.queue(Target.ONBOARDING)
        deadline = time.monotonic() + 10
        messages = []
        while not messages and time.monotonic() < deadline:
            messages = onboarding.receive(wait=0.5)
    (message,) = messages
    event = event_from_message(message.body)
    assert (event.module, event.record_ids, event.stage) == ("Deals", (deal,), "Closed Won")
    assert event.channel is Channel.NOTIFICATION_API
    assert "Stage" in event.affected_fields
    assert router.queue(Target.REFRESH).depth() == 1
    assert running.state.notifications.stats.snapshot().get("notifications_failed", 0) == 0
    router.close()
