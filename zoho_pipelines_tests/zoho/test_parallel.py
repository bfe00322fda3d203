import threading
import time

import pytest

from zoho_pipelines.zoho.batching import batched
from zoho_pipelines.zoho.parallel import merge_concurrently


def _counting(values: list[int]):
    def produce():
        yield from values

    return produce


def test_every_item_of_every_producer_arrives_once():
    producers = [_counting(list(range(start, start + 50))) for start in range(0, 500, 50)]
    merged = list(merge_concurrently(producers, max_workers=3, max_pending=2))
    assert sorted(merged) == list(range(500))


def test_workers_never_exceed_max_workers():
    lock = threading.Lock()
    running = {"now": 0, "peak": 0}

    def producer():
        with lock:
            running["now"] += 1
            running["peak"] = max(running["peak"], running["now"])
        try:
            yield from range(20)
        finally:
            with lock:
                running["now"] -= 1

    assert len(list(merge_concurrently([producer] * 12, max_workers=4, max_pending=1))) == 240
    assert 1 <= running["peak"] <= 4


def test_a_failing_producer_fails_the_merge():
    def broken():
        yield 1
        raise RuntimeError("window 2 failed")

    with pytest.raises(RuntimeError, match="window 2 failed"):
        list(merge_concurrently([_counting([5, 6]), broken], max_workers=2))


def test_closing_the_merge_stops_the_producers():
    closed = threading.Event()

    def endless():
        try:
            while True:
                yield 1
        finally:
            closed.set()

    merged = merge_concurrently([endless, endless], max_workers=2, max_pending=1)
    assert next(merged) == 1
    started = time.monotonic()
    merged.close()
    assert closed.is_set()
    assert time.monotonic() - started < 2


def test_batched_keeps_order_and_the_short_tail():
    assert list(batched(range(7), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(batched([], 3)) == []
    with pytest.raises(ValueError, match="at least 1"):
        list(batched([1], 0))


def test_producers_planned_lazily_start_before_the_plan_is_done():
    """A plan whose later producers wait for the first producer's items: the merge must run the
    first one while still drawing on the plan (the auto read plans with calls as it reads)."""
    first_item_seen = threading.Event()

    def plan():
        yield _counting([1, 2])
        assert first_item_seen.wait(timeout=10), "the first producer did not run while planning"
        yield _counting([3])

    merged = merge_concurrently(plan(), max_workers=2)
    items = [next(merged)]
    first_item_seen.set()
    items += list(merged)
    assert sorted(items) == [1, 2, 3]


def test_a_failing_plan_fails_the_merge():
    def plan():
        yield _counting([1])
        raise RuntimeError("probe failed")

    with pytest.raises(RuntimeError, match="probe failed"):
        list(merge_concurrently(plan(), max_workers=2))


def test_an_empty_plan_merges_to_nothing():
    assert list(merge_concurrently(iter(()), max_workers=2)) == []
