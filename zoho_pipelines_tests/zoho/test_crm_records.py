"""Paging rules of the records reader, against a scripted listing over real loopback HTTP."""

import logging
from datetime import timedelta, timezone

import pytest

from zoho_pipelines.zoho.crm import CrmClient
from zoho_pipelines_tests.zoho.crm_listing import EPOCH, CrmListing
from zoho_pipelines_tests.zoho.scripted_server import Canned, ScriptedZoho, transport_for


@pytest.fixture
def server():
    with ScriptedZoho() as scripted:
        yield scripted


def _ids(batches) -> list[str]:
    return [record["id"] for batch in batches for record in batch]


def test_a_window_past_2000_records_switches_to_page_tokens_and_returns_each_once(server):
    listing = CrmListing("Deals", 2_450)
    server.on_api_call = listing
    start, end = listing.moment(0), listing.moment(2_449) + timedelta(seconds=1)
    with transport_for(server) as transport:
        ids = _ids(CrmClient(transport).iter_modified("Deals", listing.field_names, start, end))
    assert ids == listing.ids_between(start, end)
    assert len(ids) == 2_450
    assert max(listing.pages_by_page) == 10
    assert listing.token_calls == 3


def test_records_in_the_first_second_of_the_window_are_not_lost(server):
    listing = CrmListing("Deals", 30, per_second=3)
    server.on_api_call = listing
    start, end = listing.moment(9), listing.moment(21)
    with transport_for(server) as transport:
        ids = _ids(CrmClient(transport).iter_modified("Deals", ["F_0"], start, end))
    assert ids == [record["id"] for record in listing.records[9:21]]


def test_window_bounds_are_compared_in_utc_whatever_the_offset(server):
    listing = CrmListing("Deals", 30, per_second=1)
    server.on_api_call = listing
    start = listing.moment(4).astimezone(timezone(timedelta(hours=-7)))
    with transport_for(server) as transport:
        ids = _ids(CrmClient(transport).iter_modified("Deals", ["F_0"], start, listing.moment(7)))
    assert ids == [record["id"] for record in listing.records[4:7]]


def test_expired_page_tokens_restart_from_the_cursor_without_duplicates_or_gaps(server, caplog):
    caplog.set_level(logging.INFO, logger="zoho_pipelines.zoho.crm")
    listing = CrmListing("Deals", 6_100, per_second=7, token_uses_before_expiry=1)
    server.on_api_call = listing
    start, end = EPOCH, listing.moment(6_099) + timedelta(seconds=1)
    with transport_for(server) as transport:
        ids = _ids(CrmClient(transport).iter_modified("Deals", ["F_1"], start, end))
    assert ids == listing.ids_between(start, end)
    assert len(set(ids)) == 6_100
    assert "restarting Deals read" in caplog.text


def test_more_than_50_fields_are_fetched_in_groups_and_merged_by_id(server):
    listing = CrmListing("Deals", 450, extra_fields=120)
    server.on_api_call = listing
    start, end = listing.moment(0), listing.moment(449) + timedelta(seconds=1)
    with transport_for(server) as transport:
        records = [
            r
            for batch in CrmClient(transport).iter_modified("Deals", listing.field_names, start, end)
            for r in batch
        ]
    assert records == listing.records
    assert listing.widest_call == 50


def test_no_records_is_http_204(server):
    server.on_api_call = CrmListing("Deals", 0)
    with transport_for(server) as transport:
        assert (
            list(CrmClient(transport).iter_modified("Deals", ["F_0"], EPOCH, EPOCH + timedelta(days=1))) == []
        )


def test_parallel_windows_return_each_record_once(server):
    listing = CrmListing("Deals", 3_000, per_second=2)
    server.on_api_call = listing
    start, end = listing.moment(0), listing.moment(2_999) + timedelta(seconds=1)
    with transport_for(server, concurrency=4) as transport:
        ids = _ids(CrmClient(transport).iter_modified_parallel("Deals", ["F_0"], start, end, windows=6))
    assert sorted(ids) == sorted(listing.ids_between(start, end))
    assert len(ids) == len(set(ids)) == 3_000


def test_records_by_ids_come_in_calls_of_100_with_field_groups(server):
    listing = CrmListing("Deals", 250, extra_fields=60)
    server.on_api_call = listing
    wanted = [record["id"] for record in listing.records[::2]]
    with transport_for(server) as transport:
        batches = list(CrmClient(transport).iter_by_ids("Deals", wanted, listing.field_names))
    assert [len(batch) for batch in batches] == [100, 25]
    expected = [
        {"id": record["id"], **{name: record[name] for name in listing.field_names}}
        for record in listing.records[::2]
    ]
    assert [record for batch in batches for record in batch] == expected
    calls = server.api_requests()
    assert len(calls) == 4  # two id chunks x two field groups
    assert all(len(call.query["ids"][0].split(",")) <= 100 for call in calls)


def test_deleted_records_are_filtered_to_the_window(server):
    entries = [
        {"id": str(index), "display_name": f"d{index}", "type": "recycle", "deleted_time": moment}
        for index, moment in enumerate(
            [
                "2024-05-01T05:29:59+05:30",  # 23:59:59 UTC the day before: outside
                "2024-05-01T05:30:00+05:30",  # the window's first instant: inside
                "2024-05-01T12:00:00+00:00",
                "2024-05-02T05:29:59+05:30",  # last second of the day: inside
                "2024-05-02T00:00:00+00:00",  # the end: outside
            ]
        )
    ]
    server.enqueue(
        Canned(200, {"data": entries[:3], "info": {"more_records": True, "page": 1}}),
        Canned(200, {"data": entries[3:], "info": {"more_records": False, "page": 2}}),
    )
    with transport_for(server) as transport:
        found = _ids(CrmClient(transport).iter_deleted("Deals", EPOCH, EPOCH + timedelta(days=1)))
    assert found == ["1", "2", "3"]
    first, second = server.api_requests()
    assert first.path == "/crm/v8/Deals/deleted"
    assert (first.query["type"], first.query["page"], second.query["page"]) == (["all"], ["1"], ["2"])
    assert first.headers["if-modified-since"] == "2024-04-30T23:59:59+00:00"
