"""Rank-planned COQL reads: clustered days fan out like uniform ones, each record read once.

A scripted listing over real loopback HTTP places records freely in time (thousands on one
second, as mass updates do), so the plan's cuts, counts and prices can be checked exactly.
"""

from __future__ import annotations

import itertools
import re
from datetime import datetime, timedelta

import pytest

from zoho_pipelines.zoho.crm import CrmClient
from zoho_pipelines.zoho.crm_coql import coql_credits, limit_for
from zoho_pipelines.zoho.crm_plan import RankPlanner
from zoho_pipelines_tests.zoho.crm_listing import CrmListing
from zoho_pipelines_tests.zoho.scripted_server import ScriptedZoho, transport_for

LIMIT = re.compile(r"limit (\d+), (\d+)$")


@pytest.fixture
def server():
    with ScriptedZoho() as scripted:
        yield scripted


def clustered_seconds(count: int, *, at_start: int, mass: dict[int, int]) -> list[int]:
    """`at_start` records on second 0, `mass[second]` records on that second, the rest one a second."""
    seconds = [0] * at_start
    second = 1
    while len(seconds) < count:
        seconds += [second] * min(mass.get(second, 1), count - len(seconds))
        second += 1
    return seconds


def probes(listing: CrmListing) -> list[str]:
    return [query for query in listing.coql_queries if query.endswith(", 1")]


@pytest.mark.parametrize(
    ("remaining", "limit"),
    [(-3, 200), (0, 200), (150, 200), (200, 200), (201, 1_000), (999, 1_000), (1_001, 2_000)],
)
def test_the_last_call_is_priced_by_what_is_left(remaining, limit):
    assert limit_for(remaining) == limit
    assert limit_for(remaining, page_size=500) == min(limit, 500)


def test_auto_reads_a_day_whose_first_page_shares_one_second_concurrently_and_once(server):
    """The issue's day: the first 200 records (and 1,300 more) on the window's first second.

    The old probe measured no spread there and paged the whole day one call at a time.
    """
    listing = CrmListing("Deals", 9_000, seconds=clustered_seconds(9_000, at_start=1_500, mass={4_000: 400}))
    server.on_api_call = listing
    start, end = listing.moment(0), listing.moment(8_999) + timedelta(seconds=1)
    with transport_for(server, concurrency=6) as transport:
        batches = list(
            CrmClient(transport).iter_modified_auto("Deals", ["F_0"], start, end, window_records=1_990)
        )
        credits = transport.stats.snapshot()["credits"]
    ids = [record["id"] for batch in batches for record in batch]
    assert len(ids) == len(set(ids))
    assert sorted(ids) == sorted(listing.ids_between(start, end))
    assert server.peak_in_flight > 1
    assert len(listing.pages_by_page) == 1  # one records page, then COQL only
    # Paging costs 1.0 per 200; small windows here (the product's hold 9,950) keep probes visible.
    assert 200 * credits / len(ids) < 0.6


def test_sub_windows_cut_at_the_seconds_of_their_ranks_and_expect_their_counts(server):
    listing = CrmListing("Deals", 5_000, seconds=clustered_seconds(5_000, at_start=700, mass={1_500: 1_200}))
    server.on_api_call = listing
    start, end = listing.moment(0), listing.moment(4_999) + timedelta(seconds=1)
    with transport_for(server, concurrency=4) as transport:
        coql = CrmClient(transport).coql
        windows = list(
            RankPlanner(coql, concurrency=4, window_records=1_000, max_rank=50_000).plan("Deals", start, end)
        )
        sizes = [len(listing.ids_between(window.start, window.end)) for window in windows]
    assert windows[0].start == start
    assert windows[-1].end == end
    assert all(a.end == b.start for a, b in itertools.pairwise(windows))
    assert sum(sizes) == 5_000
    # The 1,200 records of second 1,500 are never split, so one window holds all of them.
    assert max(sizes) >= 1_200
    for window, size in zip(windows[:-1], sizes, strict=False):
        assert window.expected is not None
        assert abs(window.expected - size) <= 1_200
    # Four ranks a round until one lies past the window: 1,000..4,000 and the sentinel, then 5,000..8,000.
    assert len(probes(listing)) == 4 + 1 + 4


def test_a_window_deeper_than_one_querys_reach_is_planned_in_blocks(server):
    """COQL's offset stops at 100,000 rows: past it the rest is probed again from the last second."""
    listing = CrmListing("Deals", 2_600, seconds=clustered_seconds(2_600, at_start=300, mass={900: 250}))
    server.on_api_call = listing
    start, end = listing.moment(0), listing.moment(2_599) + timedelta(seconds=1)
    with transport_for(server) as transport:
        coql = CrmClient(transport).coql
        planner = RankPlanner(coql, concurrency=4, window_records=200, max_rank=1_000)
        windows = list(planner.plan("Deals", start, end))
        ids = [
            record["id"]
            for window in windows
            for batch in coql.iter_window(
                "Deals",
                ["F_0"],
                window.start,
                window.end,
                page_size=200,
                max_offset_rows=1_000,
                expected=window.expected,
            )
            for record in batch
        ]
    assert ids == listing.ids_between(start, end)
    deepest = max(int(LIMIT.search(query)[1]) + int(LIMIT.search(query)[2]) for query in listing.coql_queries)
    assert deepest <= 1_000
    assert len(windows) >= 10
    assert sum(query.endswith("limit 999, 1") for query in listing.coql_queries) >= 2  # blocks, re-based


def test_a_quiet_window_spends_one_probe_when_the_hint_says_small(server):
    listing = CrmListing("Deals", 700, per_second=1)
    server.on_api_call = listing
    start, end = listing.moment(0), listing.moment(699) + timedelta(seconds=1)
    with transport_for(server) as transport:
        coql = CrmClient(transport).coql
        planner = RankPlanner(coql, concurrency=4, window_records=1_000, max_rank=10_000)
        windows = list(planner.plan("Deals", start, end, likely_small=True))
        rows = [
            r
            for w in windows
            for b in coql.iter_window("Deals", ["F_0"], w.start, w.end, expected=w.expected)
            for r in b
        ]
        credits = transport.stats.snapshot()["credits"]
    assert len(windows) == 1
    assert len(rows) == 700
    assert len(probes(listing)) == 1
    # The field metadata (1 credit), one probe (1) and one read sized by the plan's bound:
    # LIMIT 1,000 (2 credits), not 2,000 (3).
    assert credits == 1 + 1 + coql_credits(1_000)


def test_a_wrong_small_hint_costs_one_round_trip_not_records(server):
    listing = CrmListing("Deals", 3_000, seconds=clustered_seconds(3_000, at_start=2_000, mass={}))
    server.on_api_call = listing
    start, end = listing.moment(0), listing.moment(2_999) + timedelta(seconds=1)
    with transport_for(server) as transport:
        coql = CrmClient(transport).coql
        planner = RankPlanner(coql, concurrency=4, window_records=500, max_rank=10_000)
        windows = list(planner.plan("Deals", start, end, likely_small=True))
    assert sum(len(listing.ids_between(w.start, w.end)) for w in windows) == 3_000
    assert len(windows) >= 2


BOUNDS = re.compile(r"Modified_Time >= '([^']+)' and Modified_Time < '([^']+)'")


def test_later_blocks_probe_only_about_as_far_as_the_last_block_reached(server):
    """Each probe makes the server order every record it spans, so past the first block the
    probes look no further than twice the last block's time span (a whole year would otherwise
    be ordered once per probe)."""
    listing = CrmListing("Deals", 6_000, per_second=1)
    server.on_api_call = listing
    start, end = listing.moment(0), listing.moment(5_999) + timedelta(seconds=1)
    with transport_for(server) as transport:
        coql = CrmClient(transport).coql
        planner = RankPlanner(coql, concurrency=4, window_records=200, max_rank=1_000)
        windows = list(planner.plan("Deals", start, end))
        ids = [
            record["id"]
            for window in windows
            for batch in coql.iter_window(
                "Deals", ["F_0"], window.start, window.end, page_size=200, max_offset_rows=1_000
            )
            for record in batch
        ]
    assert ids == listing.ids_between(start, end)
    spans = {
        len(listing.ids_between(datetime.fromisoformat(low), datetime.fromisoformat(high)))
        for query in probes(listing)
        for low, high in [BOUNDS.search(query).groups()]
    }
    assert max(spans - {6_000}) <= 3_000  # only the first block's probes span the whole window
