"""read_ascending against an in-memory listing that behaves like Books/Projects paging by position."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from zoho_pipelines.zoho.ascending_window import Page, read_ascending

START = datetime(2026, 11, 1, tzinfo=UTC)
PAGE = 100


class Listing:
    """Records sorted by (modified, id), served `PAGE` at a time from a `since` filter."""

    def __init__(self, times: list[datetime]) -> None:
        self.times = dict(enumerate(times))
        self.calls = 0
        self.after_first_call: list[tuple[int, datetime]] = []

    def fetch(self, since: datetime, page: int) -> Page:
        self.calls += 1
        order = sorted((moment, key) for key, moment in self.times.items() if moment >= since)
        rows = [
            {"id": str(key), "modified": moment} for moment, key in order[(page - 1) * PAGE : page * PAGE]
        ]
        for key, moment in self.after_first_call:  # edits land between two calls
            self.times[key] = moment
        self.after_first_call = []
        return Page(rows, len(order) > page * PAGE)


def read(listing: Listing, end: datetime) -> list[str]:
    batches = read_ascending(
        listing.fetch,
        start=START,
        end=end,
        modified=lambda record: record["modified"],
        record_id=lambda record: record["id"],
    )
    return [record["id"] for batch in batches for record in batch]


def test_an_edit_during_the_read_skips_nothing() -> None:
    listing = Listing([START + timedelta(minutes=minute) for minute in range(1_000)])
    end = START + timedelta(days=1)
    # Record 5 was already returned; its edit moves it past the window and shifts the rest back.
    listing.after_first_call = [(5, end + timedelta(hours=1))]
    read_ids = read(listing, end)
    assert sorted(read_ids, key=int) == [str(key) for key in range(1_000)]
    assert len(read_ids) == len(set(read_ids))


def test_more_records_than_a_page_at_one_instant_are_all_read_once() -> None:
    same = START + timedelta(minutes=3)
    listing = Listing([START] * 10 + [same] * 250 + [START + timedelta(minutes=4)] * 40)
    read_ids = read(listing, START + timedelta(hours=1))
    assert sorted(read_ids, key=int) == [str(key) for key in range(300)]
    assert listing.calls <= 6


def test_the_window_end_stops_the_read_early() -> None:
    listing = Listing([START + timedelta(minutes=minute) for minute in range(10_000)])
    read_ids = read(listing, START + timedelta(minutes=250))
    assert read_ids == [str(key) for key in range(250)]
    assert listing.calls == 3  # pages overlap by the one record at the cursor
