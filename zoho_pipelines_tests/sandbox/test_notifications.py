"""Notification API: channels are managed like Zoho's and the sandbox really POSTs changes."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from zoho_pipelines.sandbox.server import RunningSandbox
from zoho_pipelines_tests.sandbox.helpers import api_client


@pytest.fixture
def receiver() -> Iterator[tuple[str, queue.Queue]]:
    """A tiny loopback HTTP server that queues every JSON body it is sent."""
    received: queue.Queue = queue.Queue()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.put(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()
    server.server_close()


def test_changes_are_posted_to_matching_channels(
    sandbox_factory: Callable[..., RunningSandbox], receiver: tuple[str, queue.Queue]
) -> None:
    url, received = receiver
    running = sandbox_factory(records_per_module=300)
    crm = running.state.crm
    expiry = (running.clock.now() + timedelta(hours=2)).isoformat()
    with api_client(running) as client:
        enabled = client.post(
            "/crm/v8/actions/watch",
            json={
                "watch": [
                    {
                        "channel_id": "1000000068001",
                        "events": ["Deals.all", "Leads.edit"],
                        "notify_url": url,
                        "token": "shared-secret",
                        "channel_expiry": expiry,
                        "return_affected_field_values": True,
                    }
                ]
            },
        )
        assert enabled.status_code == 201
        assert enabled.json()["watch"][0]["code"] == "SUCCESS"
        changes = crm.mutate("Deals", creates=2, edits=3, deletes=1)
        lead = crm.ids("Leads")[0]
        client.put("/crm/v8/Leads", json={"data": [{"id": str(lead), "City": "Kochi"}]})
        crm.mutate("Contacts", edits=2)  # nobody listens to Contacts
        deliveries = [received.get(timeout=10) for _ in range(4)]
        assert running.state.notifications.drain()
        assert received.empty()
        by_operation = {(d["module"], d["operation"]): d for d in deliveries}
        assert sorted(by_operation[("Deals", "insert")]["ids"]) == sorted(changes["created"])
        assert sorted(by_operation[("Deals", "update")]["ids"]) == sorted(changes["edited"])
        assert by_operation[("Deals", "delete")]["ids"] == changes["deleted"]
        lead_update = by_operation[("Leads", "update")]
        assert lead_update["ids"] == [str(lead)]
        assert lead_update["affected_fields"] == [{str(lead): ["City"]}]
        assert lead_update["affected_values"] == [{"id": str(lead), "City": "Kochi"}]
        for delivery in deliveries:
            assert delivery["channel_id"] == "1000000068001"
            assert delivery["token"] == "shared-secret"
            assert delivery["resource_uri"] == f"{running.url}/crm/v8/{delivery['module']}"
            assert isinstance(delivery["server_time"], int)

        details = client.get("/crm/v8/actions/watch").json()
        assert details["watch"][0]["events"] == ["Deals.all", "Leads.edit"]
        assert details["info"] == {"per_page": 200, "page": 1, "count": 1, "more_records": False}
        assert client.get("/crm/v8/actions/watch", params={"page": 2}).status_code == 204
        refused = client.get("/crm/v8/actions/watch", params={"per_page": "many"})
        assert (refused.status_code, refused.json()["code"]) == (400, "INVALID_DATA")
        renewed = client.patch(
            "/crm/v8/actions/watch",
            json={
                "watch": [{"channel_id": "1000000068001", "events": ["Deals.all"], "_delete_events": True}]
            },
        )
        assert renewed.status_code == 200
        assert client.get("/crm/v8/actions/watch").json()["watch"][0]["events"] == ["Leads.edit"]
        removed = client.delete("/crm/v8/actions/watch", params={"channel_ids": "1000000068001"})
        assert removed.json()["watch"][0]["message"] == "Successfully removed the subscribe details"
        assert client.get("/crm/v8/actions/watch").status_code == 204


def test_channel_validation(sandbox: RunningSandbox) -> None:
    too_far = (sandbox.clock.now() + timedelta(days=8)).isoformat()
    with api_client(sandbox) as client:
        response = client.post(
            "/crm/v8/actions/watch",
            json={
                "watch": [
                    {
                        "channel_id": "1",
                        "events": ["Deals.create"],
                        "notify_url": "http://127.0.0.1:9/x",
                        "channel_expiry": too_far,
                    },
                    {"channel_id": "2", "events": ["Nowhere.create"], "notify_url": "http://127.0.0.1:9/x"},
                    {"events": ["Deals.create"], "notify_url": "http://127.0.0.1:9/x"},
                ]
            },
        )
    assert response.status_code == 202
    codes = [item["code"] for item in response.json()["watch"]]
    assert codes == ["INVALID_DATA", "INVALID_DATA", "MANDATORY_NOT_FOUND"]


def test_unreachable_receivers_are_counted_not_fatal(sandbox_factory: Callable[..., RunningSandbox]) -> None:
    running = sandbox_factory(records_per_module=200, notify_timeout_s=0.5)
    with api_client(running) as client:
        client.post(
            "/crm/v8/actions/watch",
            json={
                "watch": [
                    {
                        "channel_id": "7",
                        "events": ["Accounts.all"],
                        "notify_url": "http://127.0.0.1:9/unreachable",
                    }
                ]
            },
        )
        running.state.crm.mutate("Accounts", edits=1)
        assert running.state.notifications.drain()
        assert running.stats()["events"]["notifications_failed"] == 1
        assert client.get("/crm/v8/Accounts", params={"fields": "Account_Name"}).status_code == 200
