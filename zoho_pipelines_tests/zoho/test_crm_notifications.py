"""Notification API requests in Zoho's shapes, over real loopback HTTP."""

import json
from datetime import UTC, datetime

import pytest

from zoho_pipelines.redaction import redact
from zoho_pipelines.zoho.crm import CrmClient
from zoho_pipelines.zoho.crm_notifications import WatchChannel
from zoho_pipelines_tests.zoho.scripted_server import Canned, ScriptedZoho, transport_for

CHANNEL = WatchChannel(
    channel_id=1_000_000_068_001,
    events=["Deals.edit", "Leads.all"],
    notify_url="https://hooks.example.com/zoho",
    token="channel-verification-token-77",
    channel_expiry=datetime(2024, 5, 8, tzinfo=UTC),
    return_affected_field_values=True,
)


def _done(message: str) -> dict:
    return {"watch": [{"code": "SUCCESS", "details": {"channel_id": "1000000068001"}, "message": message}]}


@pytest.fixture
def server():
    with ScriptedZoho() as scripted:
        yield scripted


def test_channel_token_is_secret():
    assert "channel-verification-token-77" not in repr(CHANNEL)
    assert redact("token channel-verification-token-77") == "token ***"


def test_enable_renew_disable_and_details(server):
    server.enqueue(
        Canned(200, _done("Successfully subscribed for actions-watch of the given module")),
        Canned(200, _done("Successfully updated the subscribe details")),
        Canned(200, {"watch": [{"channel_id": 1000000068001, "events": ["Deals.edit"]}], "info": {}}),
        Canned(200, _done("Successfully un-subscribed from actions-watch")),
        Canned(204),
    )
    with transport_for(server) as transport:
        channels = CrmClient(transport).notifications
        assert channels.enable([CHANNEL])[0]["code"] == "SUCCESS"
        assert channels.renew([CHANNEL])[0]["message"].startswith("Successfully updated")
        assert channels.details(module="Deals")[0]["channel_id"] == 1000000068001
        assert channels.disable([CHANNEL.channel_id, 42])[0]["code"] == "SUCCESS"
        assert channels.details() == []
    enable, renew, details, disable, empty = server.api_requests()
    assert (enable.method, renew.method, disable.method) == ("POST", "PATCH", "DELETE")
    assert {call.path for call in server.api_requests()} == {"/crm/v8/actions/watch"}
    assert json.loads(enable.body) == {
        "watch": [
            {
                "channel_id": 1_000_000_068_001,
                "events": ["Deals.edit", "Leads.all"],
                "notify_url": "https://hooks.example.com/zoho",
                "return_affected_field_values": True,
                "token": "channel-verification-token-77",
                "channel_expiry": "2024-05-08T00:00:00+00:00",
            }
        ]
    }
    assert details.query == {"module": ["Deals"]}
    assert disable.query == {"channel_ids": ["1000000068001,42"]}
    assert empty.query == {}
