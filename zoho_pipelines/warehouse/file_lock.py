"""An exclusive OS lock on a file (`flock`), waited for with a bound, naming its holder.

Why: DuckDB lets one process at a time open a database file (read-write), and a second opener
fails at once ("Could not set lock on file"). Two runs that overlap (a rerun next to the daily
schedule, an event refresh next to a backfill) must take turns instead. `flock` is the kernel's
own turn-taking: waiters block without polling, and a process that dies (even by SIGKILL) lets
go because the kernel closes its descriptors, so there is never a stale lock to clean up.

The holder writes who it is (pid, host, what it is doing, since when) into the lock file, so a
waiter that runs out of time can say whom it waited for. The file itself is never deleted:
deleting a lock file while someone waits on it lets two processes "hold" two different files.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path


@dataclass(frozen=True)
class Holder:
    """Who holds the lock, as it described itself."""

    pid: int
    host: str
    doing: str
    since: str

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}, {self.doing or 'working'} since {self.since}"


class LockTimeout(TimeoutError):
    """The lock stayed held for the whole wait; `holder` is who held it, if it said."""

    def __init__(self, path: Path, waited_s: float, holder: Holder | None) -> None:
        self.path, self.waited_s, self.holder = path, waited_s, holder
        who = holder.describe() if holder else "a holder that has not described itself yet"
        super().__init__(f"{path} stayed locked for {waited_s:g} s by {who}")


def read_holder(path: Path) -> Holder | None:
    """The description the current holder wrote, if it is complete."""
    try:
        document = json.loads(path.read_text())
        return Holder(
            int(document["pid"]), str(document["host"]), str(document["doing"]), str(document["since"])
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


class _PendingLock:
    """A blocking `flock` on a helper thread, so the caller can stop waiting after a bound.

    The kernel wakes the helper the moment the lock is free (no polling). If the caller stops
    waiting first (the bound ran out, or it was interrupted), the helper owns the descriptor from
    then on and closes it once the lock comes, which releases the lock again at once.
    """

    def __init__(self, descriptor: int) -> None:
        self._descriptor = descriptor
        self._guard = threading.Lock()
        self._settled = threading.Event()
        self._abandoned = False
        self._error: OSError | None = None

    def run(self) -> None:
        try:
            fcntl.flock(self._descriptor, fcntl.LOCK_EX)
        except OSError as exc:
            self._error = exc
        with self._guard:
            if self._abandoned:
                os.close(self._descriptor)
                return
            self._settled.set()

    def wait(self, timeout_s: float) -> bool:
        """True: the descriptor holds the lock. False: the wait ran out and the helper owns the
        descriptor. Raises (descriptor closed) when `flock` failed."""
        try:
            self._settled.wait(timeout_s)
        finally:
            with self._guard:
                self._abandoned = not self._settled.is_set()
        if self._abandoned:
            return False
        if self._error is not None:
            os.close(self._descriptor)
            raise self._error
        return True


class Lease:
    """A held lock; `release` lets the next waiter in."""

    def __init__(self, descriptor: int) -> None:
        self._descriptor: int | None = descriptor

    def release(self) -> None:
        if self._descriptor is None:
            return
        descriptor, self._descriptor = self._descriptor, None
        try:
            os.ftruncate(descriptor, 0)  # nobody holds it: no description to mislead a reader
        finally:
            os.close(descriptor)  # closing the descriptor releases the lock


class FileLock:
    """`lease = FileLock(path, timeout_s=600).acquire("merging zoho_crm.leads")`, later `lease.release()`.

    Exclusive across processes and across threads (each `acquire` opens its own descriptor, and
    `flock` locks belong to the open file, not the process). `on_wait` is called with the holder's
    description when the lock is busy, before waiting, to say why nothing is happening.
    """

    def __init__(
        self, path: Path, *, timeout_s: float, on_wait: Callable[[Holder | None], None] | None = None
    ) -> None:
        self.path = path
        self.timeout_s = timeout_s
        self._on_wait = on_wait

    def acquire(self, doing: str) -> Lease:
        """Wait (at most `timeout_s`) for the lock and describe this holder as doing `doing`."""
        descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        if not self._lock(descriptor):
            raise LockTimeout(self.path, self.timeout_s, read_holder(self.path))
        lease = Lease(descriptor)
        try:
            _describe_holder(descriptor, doing)
        except BaseException:
            lease.release()
            raise
        return lease

    def _lock(self, descriptor: int) -> bool:
        """True: `descriptor` holds the lock. Otherwise it is closed, or the helper thread's to close."""
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            pass  # held by someone else: wait below
        except BaseException:
            os.close(descriptor)
            raise
        if self.timeout_s <= 0:
            os.close(descriptor)
            return False
        try:
            if self._on_wait is not None:
                self._on_wait(read_holder(self.path))
        except BaseException:
            os.close(descriptor)
            raise
        pending = _PendingLock(descriptor)
        threading.Thread(target=pending.run, name=f"flock {self.path.name}", daemon=True).start()
        return pending.wait(self.timeout_s)


def _describe_holder(descriptor: int, doing: str) -> None:
    document = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "doing": doing,
        "since": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    encoded = json.dumps(document).encode()
    os.pwrite(descriptor, encoded, 0)
    os.ftruncate(descriptor, len(encoded))
