"""The CRM client against the sandbox (a realistic Zoho over real HTTP), checked with its ground truth."""

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest

from zoho_pipelines.sandbox.server import RunningSandbox
from zoho_pipelines.settings import load_settings
from zoho_pipelines.zoho import (
    RetryPolicy,
    ZohoAuthError,
    ZohoClient,
    ZohoInvalidDataError,
    ZohoNotFoundError,
)
from zoho_pipelines.zoho.crm_notifications import WatchChannel

QUICK_RETRIES = RetryPolicy(max_attempts=8, initial_backoff_s=0.02, max_backoff_s=0.2, max_retry_after_s=5)


@contextmanager
def client_for(sandbox: RunningSandbox, **env_overrides: str) -> Iterator[ZohoClient]:
    settings = load_settings(**{**sandbox.env(), **env_overrides})
    with ZohoClient.from_settings(settings, retry_policy=QUICK_RETRIES) as client:
        yield client


def whole_history(sandbox: RunningSandbox):
    anchor = sandbox.config.anchor
    assert anchor is not None
    return anchor - timedelta(days=sandbox.config.history_days + 1), anchor + timedelta(days=1)


def ids_of(batches: Iterable[list[dict]]) -> list[str]:
    return [str(record["id"]) for batch in batches for record in batch]


def test_ten_thousand_deals_in_one_window_arrive_once_through_faults_and_token_expiry(sandbox_factory):
    sandbox = sandbox_factory(
        records_per_module=10_000, fault_rate=0.05, rate_limit_rate=0.05, retry_after_s=0.05
    )
    assert sandbox.state is not None
    start, end = whole_history(sandbox)
    fetched: list[str] = []
    with client_for(sandbox) as client:
        fields = client.crm.field_names("Deals")
        for page_number, batch in enumerate(client.crm.iter_modified("Deals", fields, start, end), 1):
            fetched += [record["id"] for record in batch]
            assert set(batch[0]) >= {"id", "Deal_Name", "Stage", "Modified_Time"}
            if page_number == 20:
                sandbox.state.expire_access_tokens()
        stats = client.stats.snapshot()
    truth = sorted(str(record_id) for record_id in sandbox.state.crm.modified_ids("Deals", start, end))
    assert len(truth) > 9_000
    assert len(fetched) == len(set(fetched))
    assert sorted(fetched) == truth
    statuses = stats["responses_by_status"]
    assert statuses.get(429, 0) > 0
    assert sum(count for status, count in statuses.items() if status >= 500) > 0
    assert statuses.get(401) == 1
    assert stats["token_refreshes"] == 2


def test_expired_page_tokens_restart_without_loss_or_duplicates(sandbox_factory, caplog):
    caplog.set_level(logging.INFO, logger="zoho_pipelines.zoho.crm")
    sandbox = sandbox_factory(records_per_module=5_000, page_token_ttl_s=0)
    assert sandbox.state is not None
    start, end = whole_history(sandbox)
    with client_for(sandbox) as client:
        fetched = ids_of(client.crm.iter_modified("Deals", ["Deal_Name"], start, end))
    truth = sorted(str(record_id) for record_id in sandbox.state.crm.modified_ids("Deals", start, end))
    assert len(fetched) == len(set(fetched))
    assert sorted(fetched) == truth
    assert "restarting Deals read" in caplog.text  # the tokens did expire, and the read went on


def test_parallel_windows_and_coql_match_the_ground_truth(sandbox):
    assert sandbox.state is not None
    anchor = sandbox.config.anchor
    start, end = anchor - timedelta(days=17, hours=5), anchor - timedelta(days=2, minutes=7)
    truth = sorted(str(record_id) for record_id in sandbox.state.crm.modified_ids("Leads", start, end))
    with client_for(sandbox) as client:
        parallel = ids_of(client.crm.iter_modified_parallel("Leads", ["Last_Name"], start, end, windows=7))
        coql = ids_of(client.crm.iter_modified_coql("Leads", ["Last_Name", "Email"], start, end))
        parallel_coql = ids_of(
            client.crm.iter_modified_parallel("Leads", ["Last_Name"], start, end, windows=5, via="coql")
        )
        sequential = ids_of(client.crm.iter_modified("Leads", ["Last_Name"], start, end))
    assert len(truth) > 500
    assert sorted(parallel) == truth
    assert sorted(coql) == truth
    assert sorted(parallel_coql) == truth
    assert sequential == coql  # both in Modified_Time order (ties by id)


def test_deleted_records_in_a_window_equal_the_ground_truth(sandbox):
    assert sandbox.state is not None
    anchor = sandbox.config.anchor
    for start, end in [whole_history(sandbox), (anchor - timedelta(days=12), anchor - timedelta(days=4))]:
        truth = sorted(str(record_id) for record_id in sandbox.state.crm.deleted_ids("Deals", start, end))
        with client_for(sandbox) as client:
            found = ids_of(client.crm.iter_deleted("Deals", start, end))
        assert truth
        assert sorted(found) == truth


def test_deleted_listing_pages_past_two_thousand_entries(sandbox_factory):
    """/deleted has no page tokens: a busy day's deletions must still arrive whole."""
    sandbox = sandbox_factory(records_per_module=90_000, history_days=1)
    assert sandbox.state is not None
    start, end = whole_history(sandbox)
    truth = sorted(str(record_id) for record_id in sandbox.state.crm.deleted_ids("Deals", start, end))
    with client_for(sandbox) as client:
        found = ids_of(client.crm.iter_deleted("Deals", start, end))
    assert len(truth) > 2_000
    assert sorted(found) == truth


def test_records_by_ids_render_like_the_ground_truth(sandbox):
    assert sandbox.state is not None
    start, end = whole_history(sandbox)
    wanted = sandbox.state.crm.modified_ids("Contacts", start, end)[:230]
    with client_for(sandbox) as client:
        fields = client.crm.field_names("Contacts")
        records = [record for batch in client.crm.iter_by_ids("Contacts", wanted, fields) for record in batch]
    assert sorted(record["id"] for record in records) == sorted(str(record_id) for record_id in wanted)
    for record in records[:25]:
        truth = sandbox.state.crm.record("Contacts", int(record["id"]))
        assert {name: truth.get(name) for name in fields} == {name: record.get(name) for name in fields}


def test_metadata_lists_modules_and_fields(sandbox):
    with client_for(sandbox) as client:
        modules = {module["api_name"] for module in client.crm.modules()}
        fields = client.crm.fields("Deals")
    assert {"Leads", "Contacts", "Accounts", "Deals"} <= modules
    assert {"Modified_Time", "Deal_Name"} <= {field["api_name"] for field in fields}
    assert all("data_type" in field for field in fields)


def test_update_reports_partial_failure_per_record(sandbox_factory):
    sandbox = sandbox_factory()
    assert sandbox.state is not None
    start, end = whole_history(sandbox)
    targets = [str(record_id) for record_id in sandbox.state.crm.modified_ids("Deals", start, end)[:4]]
    updates = [
        {"id": targets[0], "Next_Step": "Send the proposal"},
        {"id": targets[1], "Amount": "a lot"},
        {"id": targets[2], "Next_Step": "Book a demo"},
        {"id": targets[3], "Stage": None, "Deal_Name": None},
    ]
    with client_for(sandbox) as client:
        result = client.crm.update_records("Deals", updates, trigger=[])
    assert [(outcome.index, outcome.id, outcome.ok) for outcome in result.outcomes] == [
        (0, targets[0], True),
        (1, targets[1], False),
        (2, targets[2], True),
        (3, targets[3], False),
    ]
    assert result.outcomes[1].code == "INVALID_DATA"
    assert result.outcomes[1].details["api_name"] == "Amount"
    assert result.outcomes[3].code == "MANDATORY_NOT_FOUND"
    assert sandbox.state.crm.record("Deals", int(targets[0]))["Next_Step"] == "Send the proposal"
    assert sandbox.state.crm.record("Deals", int(targets[2]))["Next_Step"] == "Book a demo"


def test_notification_channels_lifecycle(sandbox_factory):
    sandbox = sandbox_factory()
    channel = WatchChannel(
        channel_id=1_000_000_068_001,
        events=["Deals.edit"],
        notify_url=f"{sandbox.url}/__sandbox/echo",
        token="verification-token-0451",
        channel_expiry=sandbox.config.anchor + timedelta(days=3),
    )
    with client_for(sandbox) as client:
        channels = client.crm.notifications
        enabled = channels.enable([channel])
        listed = channels.details()
        renewed = channels.renew([channel])
        disabled = channels.disable([channel.channel_id])
        remaining = channels.details()
    assert enabled[0]["code"] == "SUCCESS"
    assert [str(entry["channel_id"]) for entry in listed] == [str(channel.channel_id)]
    assert renewed[0]["code"] == "SUCCESS"
    assert disabled[0]["code"] == "SUCCESS"
    assert remaining == []


def test_error_classes_and_no_secret_in_any_log_line(sandbox_factory, caplog):
    caplog.set_level(logging.DEBUG)
    sandbox = sandbox_factory(fault_rate=0.2, rate_limit_rate=0.2, retry_after_s=0.01, fault_seed=3)
    assert sandbox.state is not None
    start, end = whole_history(sandbox)
    wrong_token = {"ZOHO_REFRESH_TOKEN": "1000.not-the-right-refresh-token"}
    with client_for(sandbox, **wrong_token) as client, pytest.raises(ZohoAuthError) as rejected:
        client.crm.modules()
    assert sandbox.config.client_id in str(rejected.value)
    with client_for(sandbox) as client:
        with pytest.raises(ZohoNotFoundError):
            client.crm.fields("NoSuchModule")
        access_tokens = [client.transport.tokens.token().value]
        with pytest.raises(ZohoInvalidDataError) as bad_query:
            client.crm.coql.query("select Last_Name from Leads where", limit=10)
        assert bad_query.value.code == "SYNTAX_ERROR"
        assert ids_of(client.crm.iter_modified("Accounts", ["Account_Name"], start, end))
        sandbox.state.expire_access_tokens()
        client.crm.modules()
        access_tokens.append(client.transport.tokens.token().value)
        stats = client.stats.snapshot()
    assert stats["retries"] > 0
    assert [record for record in caplog.records if record.name == "zoho_pipelines.zoho.retry"]
    assert len(set(access_tokens)) == 2
    secrets = [sandbox.config.client_secret, sandbox.config.refresh_token, "1000.not-the-right-refresh-token"]
    for secret in [*secrets, *access_tokens]:
        assert secret not in caplog.text
    assert "Zoho-oauthtoken 1000" not in caplog.text
