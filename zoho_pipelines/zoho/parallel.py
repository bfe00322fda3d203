"""Draining several batch iterators concurrently into one, with bounded memory.

Parallel time windows turn latency-bound paging into throughput: each window pages on its own
thread and batches are handed over as they arrive. The hand-over queue is bounded so that a slow
consumer slows the producers instead of piling batches up in memory, and closing the merged
iterator (or a failing producer) stops every producer promptly.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import partial
from typing import TypeVar

from zoho_pipelines.zoho.windows import split_window

T = TypeVar("T")

_HAND_OVER_POLL_S = 0.05


class _Finished:
    """A producer's last word: None when it ran dry, the exception when it failed."""

    def __init__(self, error: BaseException | None) -> None:
        self.error = error


class _Planned:
    """The feeder's last word: how many producers were submitted in all."""

    def __init__(self, producers: int) -> None:
        self.producers = producers


def merge_concurrently(
    producers: Iterable[Callable[[], Iterator[T]]], *, max_workers: int, max_pending: int = 4
) -> Iterator[T]:
    """Yield every item of every producer, in arrival order, running `max_workers` at a time.

    `producers` may be a lazy iterable whose own iteration makes calls (a read planned from
    probes): it is drained on a thread of its own, so the first producers run while later ones
    are still being planned; a failure while planning fails the merge like a failing producer.
    """
    if isinstance(producers, Sequence):
        if not producers:
            return
        max_workers = min(max_workers, len(producers))
    hand_over: queue.Queue[T | _Finished | _Planned] = queue.Queue(maxsize=max_pending)
    stop = threading.Event()

    def offer(item: T | _Finished | _Planned) -> bool:
        while not stop.is_set():
            try:
                hand_over.put(item, timeout=_HAND_OVER_POLL_S)
            except queue.Full:
                continue
            return True
        return False

    def run(producer: Callable[[], Iterator[T]]) -> None:
        if stop.is_set():
            return
        try:
            iterator = producer()
            try:
                for item in iterator:
                    if not offer(item):
                        return
            finally:
                close = getattr(iterator, "close", None)
                if close is not None:
                    close()
        except BaseException as error:  # handed to the consumer, which re-raises it
            offer(_Finished(error))
            return
        offer(_Finished(None))

    executor = ThreadPoolExecutor(max_workers=max(1, max_workers))

    def feed() -> None:
        submitted = 0
        iterator = iter(producers)
        try:
            for producer in iterator:
                if stop.is_set():
                    return
                executor.submit(run, producer)
                submitted += 1
        except BaseException as error:  # handed to the consumer, which re-raises it
            offer(_Finished(error))
            submitted += 1  # the failure stands for one more producer that will never finish
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()
        offer(_Planned(submitted))

    feeder = threading.Thread(target=feed, name="merge-feeder", daemon=True)
    feeder.start()
    try:
        finished, planned = 0, None
        while planned is None or finished < planned:
            item = hand_over.get()
            if isinstance(item, _Planned):
                planned = item.producers
                continue
            if isinstance(item, _Finished):
                finished += 1
                if item.error is not None:
                    raise item.error
                continue
            yield item
    finally:
        stop.set()
        feeder.join()
        executor.shutdown(wait=True, cancel_futures=True)


def read_windows_concurrently(
    read: Callable[[datetime, datetime], Iterator[T]],
    start: datetime,
    end: datetime,
    *,
    windows: int,
    max_workers: int,
) -> Iterator[T]:
    """`read(low, high)` over [start, end) cut into `windows` sub-windows, merged as they arrive."""
    producers = [partial(read, low, high) for low, high in split_window(start, end, windows)]
    return merge_concurrently(producers, max_workers=min(windows, max_workers))
