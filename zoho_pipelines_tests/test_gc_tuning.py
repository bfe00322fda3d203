"""`fewer_gc_passes`: raised while any block runs, the process's own thresholds back after the last."""

from __future__ import annotations

import gc
import threading

import pytest

from zoho_pipelines.gc_tuning import PAGE_WORK_THRESHOLDS, fewer_gc_passes

YOUNG, MIDDLE = PAGE_WORK_THRESHOLDS


def test_thresholds_are_raised_inside_and_restored_after() -> None:
    before = gc.get_threshold()
    with fewer_gc_passes():
        inside = gc.get_threshold()
    assert inside == (max(YOUNG, before[0]), MIDDLE, before[2])
    assert gc.get_threshold() == before


def test_overlapping_blocks_restore_only_when_the_last_one_leaves() -> None:
    before = gc.get_threshold()
    entered, release = threading.Event(), threading.Event()

    def other_sync() -> None:
        with fewer_gc_passes():
            entered.set()
            release.wait()

    thread = threading.Thread(target=other_sync)
    with fewer_gc_passes():
        thread.start()
        entered.wait()
    try:
        assert gc.get_threshold()[:2] == (max(YOUNG, before[0]), MIDDLE)  # the thread still runs
    finally:
        release.set()
        thread.join()
    assert gc.get_threshold() == before


def test_a_failing_block_restores_the_thresholds() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), fewer_gc_passes():
        raise RuntimeError("page failed")
    assert gc.get_threshold() == before
