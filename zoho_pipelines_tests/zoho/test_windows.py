import itertools
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zoho_pipelines.zoho.windows import (
    WindowCursor,
    ceil_second,
    parse_zoho_datetime,
    split_window,
    zoho_iso,
)

IST = timezone(timedelta(hours=5, minutes=30))
START = datetime(2024, 5, 1, tzinfo=UTC)


def test_offsets_are_compared_in_utc():
    parsed = parse_zoho_datetime("2024-05-01T05:30:00+05:30")
    assert parsed == START
    assert parsed.tzinfo is UTC
    assert zoho_iso(datetime(2024, 5, 1, 5, 30, 0, 999_000, tzinfo=IST)) == "2024-05-01T00:00:00+00:00"


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        WindowCursor(datetime(2024, 5, 1), START)


def test_ceil_second():
    assert ceil_second(START) == START
    assert ceil_second(START + timedelta(microseconds=1)) == START + timedelta(seconds=1)


@given(
    start_s=st.integers(0, 10_000),
    length_us=st.integers(1, 10**11),
    parts=st.integers(1, 40),
)
def test_split_window_tiles_the_window_exactly(start_s, length_us, parts):
    start = START + timedelta(seconds=start_s, microseconds=start_s % 7)
    end = start + timedelta(microseconds=length_us)
    windows = split_window(start, end, parts)
    assert 1 <= len(windows) <= parts
    assert windows[0][0] == start
    assert windows[-1][1] == end
    for (_, high), (low, _) in itertools.pairwise(windows):
        assert high == low
    assert all(low < high for low, high in windows)


def _record(record_id: int, second: int) -> dict[str, str]:
    moment = (START + timedelta(seconds=second)).astimezone(IST)
    return {"id": str(record_id), "Modified_Time": moment.isoformat()}


def test_cursor_stops_at_the_end_and_skips_records_before_the_start():
    cursor = WindowCursor(START + timedelta(seconds=1), START + timedelta(seconds=3))
    fresh, reached_end = cursor.admit(
        [_record(1, 0), _record(2, 1), _record(3, 2), _record(4, 3), _record(5, 4)]
    )
    assert [record["id"] for record in fresh] == ["2", "3"]
    assert reached_end


@settings(max_examples=200)
@given(
    seconds=st.lists(st.integers(0, 30), min_size=1, max_size=120),
    takes=st.lists(st.integers(1, 40), max_size=8),
)
def test_replaying_from_the_cursor_emits_every_record_exactly_once(seconds, takes):
    """A read cut short any number of times and replayed from one second before the cursor
    (as the records reader does) emits the whole stream, in order, once."""
    stream = [_record(index, second) for index, second in enumerate(sorted(seconds))]
    cursor = WindowCursor(START, START + timedelta(seconds=31))
    emitted: list[str] = []
    for take in [*takes, len(stream)]:
        replay_from = cursor.position - timedelta(seconds=1)
        replay = [record for record in stream if parse_zoho_datetime(record["Modified_Time"]) >= replay_from]
        fresh, _ = cursor.admit(replay[:take])
        emitted += [record["id"] for record in fresh]
    assert emitted == [record["id"] for record in stream]
