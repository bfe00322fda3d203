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
