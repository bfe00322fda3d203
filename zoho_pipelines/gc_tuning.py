"""Fewer cyclic-GC passes while a stretch of code turns JSON pages into short-lived objects.

Decoding a page (and the sandbox's encoding of one) allocates thousands of dicts and lists. At
CPython's default threshold (a young collection every 700 new containers) the collector walks
them again and again as they age, up to full collections of the whole heap: a third of a sync's
CPU on the bench's 100,000-record day (issue 10), and a third of the sandbox's for a COQL page.
Reference counting still frees every page as soon as it is dropped. Reference cycles wait for a
pass, and some are large: httpx's Response and its stream refer to each other, so a body lives
until the collector runs (`zoho.transport.json_body` breaks that cycle for the bodies it decodes).
The middle generation is collected every second young pass (CPython's default is every tenth),
so what cycles remain are freed within a few pages.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

PAGE_WORK_THRESHOLDS = (20_000, 2)
"""New containers per young collection, and young collections per middle one, while page work
runs (CPython's defaults are 700 and 10): about a page's worth of dicts per pass. Measured on the
bench's pages (decode and normalise, 15 pages in flight): 17.7 us/record at the defaults, 9.5 here,
9.9 at 100,000 and 10."""

_lock = threading.Lock()
_active = 0
_saved: tuple[int, int, int] | None = None


@contextmanager
def fewer_gc_passes() -> Iterator[None]:
    """Raise the young-collection threshold for the duration of the block.

    Blocks on several threads share one setting; the last to leave restores the thresholds the
    process had before the first entered.
    """
    global _active, _saved  # one process-wide setting, guarded by _lock
    with _lock:
        if _active == 0:
            _saved = gc.get_threshold()
            young, middle = PAGE_WORK_THRESHOLDS
            gc.set_threshold(max(young, _saved[0]), middle, _saved[2])
        _active += 1
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0 and _saved is not None:
                gc.set_threshold(*_saved)
                _saved = None
