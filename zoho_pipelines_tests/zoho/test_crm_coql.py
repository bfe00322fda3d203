"""COQL paging and pricing against a scripted COQL endpoint over real loopback HTTP."""

from datetime import UTC, datetime, timedelta

import pytest

from zoho_pipelines.zoho.crm import CrmClient
from zoho_pipelines.zoho.crm_coql import coql_credits, window_query
from zoho_pipelines_tests.zoho.crm_listing import CrmListing
from zoho_pipelines_tests.zoho.scripted_server import ScriptedZoho, transport_for


@pytest.fixture
def server():
    with ScriptedZoho() as scripted:
        yield scripted


@pytest.mark.parametrize(
    ("limit", "credits"), [(1, 1), (200, 1), (201, 2), (1_000, 2), (1_001, 3), (2_000, 3)]
)
def test_coql_is_priced_by_limit(limit, credits):
    assert coql_credits(limit) == credits


def test_window_query_shape_and_whole_second_bounds():
    start = datetime(2024, 5, 1, 10, 0, 0, 500_000, tzinfo=UTC)
    end = datetime(2024, 5, 1, 11, 0, 0, 1, tzinfo=UTC)
    assert window_query("Deals", ["Modified_Time", "Deal_Name"], start, end, 2_000, 2_000) == (
        "select Modified_Time, Deal_Name from Deals where (Modified_Time >= '2024-05-01T10:00:00+00:00' "
        "and Modified_Time < '2024-05-01T11:00:01+00:00') order by Modified_Time asc, id asc limit 2000, 2000"
    )


def test_window_query_refuses_names_that_are_not_api_names():
    now = datetime.now(UTC)
    with pytest.raises(ValueError, match="api_name"):
        window_query("Deals", ["Deal_Name from Leads --"], now, now, 0, 1)


def test_coql_window_pages_by_2000_and_charges_three_credits_a_call(server):
    listing = CrmListing("Deals", 4_500, per_second=4)
    server.on_api_call = listing
    start, end = listing.moment(0), listing.moment(4_499) + timedelta(seconds=1)
    with transport_for(server) as transport:
        batches = list(CrmClient(transport).iter_modified_coql("Deals", ["F_0", "F_1"], start, end))
        credits = transport.stats.snapshot()["credits"]
    assert [len(batch) for batch in batches] == [2_000, 2_000, 500]
    assert [r["id"] for batch in batches for r in batch] == listing.ids_between(start, end)
    assert credits == 3 * len(listing.coql_queries) == 9


def test_coql_window_rebases_when_the_offset_ceiling_is_reached(server):
    listing = CrmListing("Deals", 1_000, per_second=9)
    server.on_api_call = listing
    start, end = listing.moment(0), listing.moment(999) + timedelta(seconds=1)
    with transport_for(server) as transport:
        reader = CrmClient(transport).coql
        ids = [
            r["id"]
            for batch in reader.iter_window("Deals", ["F_0"], start, end, page_size=100, max_offset_rows=300)
            for r in batch
        ]
    assert ids == listing.ids_between(start, end)
    assert sum(" limit 0, 100" in query for query in listing.coql_queries) >= 3  # re-based at least twice


def test_coql_window_with_more_than_50_fields_completes_rows_by_id(server):
    listing = CrmListing("Deals", 300, extra_fields=70)
    server.on_api_call = listing
    start, end = listing.moment(0), listing.moment(299) + timedelta(seconds=1)
    with transport_for(server) as transport:
        rows = [
            r
            for batch in CrmClient(transport).iter_modified_coql("Deals", listing.field_names, start, end)
            for r in batch
        ]
    assert rows == listing.records
