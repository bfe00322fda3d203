"""A durable, at-least-once queue in one SQLite file, with SQS's semantics.

SQLite in WAL mode lets the ingress (writer) and the Dagster sensor (reader) work on the same
file from different processes; `synchronous=FULL` makes an acknowledged send survive a power
loss, not just a crash. Each receive happens in one IMMEDIATE transaction, so two consumers never
get the same message inside its visibility timeout. A message received `max_receive_count` times
without being deleted moves to the dead-letter table on its next receive, like an SQS redrive.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from zoho_pipelines.clock import SYSTEM_CLOCK, Clock
from zoho_pipelines.events.queues import DEFAULT_MAX_RECEIVE_COUNT, MAX_REASON_CHARS, QueueMessage
from zoho_pipelines.redaction import redact

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,
    attributes TEXT NOT NULL,
    sent_at REAL NOT NULL,
    visible_at REAL NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt TEXT UNIQUE
);
CREATE INDEX IF NOT EXISTS messages_visible ON messages (visible_at, seq);
CREATE TABLE IF NOT EXISTS dead_letters (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL,
    body TEXT NOT NULL,
    attributes TEXT NOT NULL,
    receive_count INTEGER NOT NULL,
    reason TEXT NOT NULL,
    dead_at REAL NOT NULL
);
"""

# Between checks for messages sent by other processes while a receive long-polls.
_POLL_INTERVAL_S = 0.05


@dataclass(frozen=True, slots=True)
class DeadLetter:
    message_id: str
    body: str
    reason: str
    receive_count: int
    dead_at: float
    attributes: Mapping[str, str]


class LocalQueue:
    """One queue and its dead-letter store in one SQLite file (created on first use).

    Visibility is kept as wall-clock instants (`clock`), not monotonic ones, because the writer
    (the ingress) and the reader (the sensor) are different processes sharing the file.
    """

    def __init__(
        self,
        path: Path,
        *,
        max_receive_count: int = DEFAULT_MAX_RECEIVE_COUNT,
        clock: Clock = SYSTEM_CLOCK,
        synchronous: str = "FULL",
    ) -> None:
        if max_receive_count < 1:
            raise ValueError("max_receive_count must be at least 1")
        if synchronous not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
            raise ValueError("synchronous must be OFF, NORMAL, FULL or EXTRA")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._max_receive_count = max_receive_count
        self._clock = clock
        self._lock = threading.Lock()
        self._sent = threading.Condition(self._lock)
        self._connection = sqlite3.connect(
            self.path, timeout=30.0, isolation_level=None, check_same_thread=False
        )
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.execute(f"PRAGMA synchronous={synchronous}")
        self._connection.executescript(_SCHEMA)

    def __enter__(self) -> LocalQueue:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    def send(self, body: str, attributes: Mapping[str, str] | None = None) -> str:
        return self._insert([(body, dict(attributes or {}))])[0]

    def send_batch(self, bodies: Sequence[str]) -> list[str]:
        return self._insert([(body, {}) for body in bodies])

    def receive(
        self, max_messages: int = 10, visibility_timeout: float = 30.0, wait: float = 0.0
    ) -> list[QueueMessage]:
        if max_messages < 1:
            raise ValueError("max_messages must be at least 1")
        deadline = time.monotonic() + max(wait, 0.0)
        with self._lock:
            while True:
                messages = self._receive_visible(max_messages, visibility_timeout)
                remaining = deadline - time.monotonic()
                if messages or remaining <= 0:
                    return messages
                # Woken at once by a send from this process; other processes are polled.
                self._sent.wait(min(remaining, _POLL_INTERVAL_S))

    def delete(self, receipt: str) -> None:
        """Acknowledge; a receipt from an earlier receive (the message timed out and was
        received again since) no longer deletes anything, so the newer holder keeps it."""
        with self._lock, self._transaction() as db:
            db.execute("DELETE FROM messages WHERE receipt = ?", (receipt,))

    def change_visibility(self, receipts: Sequence[str], timeout: float) -> int:
        if timeout < 0:
            raise ValueError("timeout must not be negative")
        with self._lock, self._transaction() as db:
            visible_at = self._now() + timeout
            changed = sum(
                db.execute(
                    "UPDATE messages SET visible_at = ? WHERE receipt = ?", (visible_at, receipt)
                ).rowcount
                for receipt in receipts
            )
        if timeout == 0 and changed:
            with self._lock:
                self._sent.notify_all()  # a long-polling receiver in this process may take them now
        return changed

    def dead_letter(self, message: QueueMessage, reason: str) -> None:
        with self._lock, self._transaction() as db:
            self._bury(
                db, message.message_id, message.body, dict(message.attributes), message.receive_count, reason
            )
            db.execute("DELETE FROM messages WHERE receipt = ?", (message.receipt,))

    def depth(self) -> int:
        with self._lock:
            return self._connection.execute("SELECT COUNT(*) FROM messages").fetchone()[0]

    def dlq_depth(self) -> int:
        with self._lock:
            return self._connection.execute("SELECT COUNT(*) FROM dead_letters").fetchone()[0]

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        """The oldest dead letters, for inspection (they stay in the store)."""
        with self._lock:
            rows = self._connection.execute(
                "SELECT message_id, body, reason, receive_count, dead_at, attributes"
                " FROM dead_letters ORDER BY seq LIMIT ?",
                (limit,),
            ).fetchall()
        return [
            DeadLetter(
                message_id=row[0],
                body=row[1],
                reason=row[2],
                receive_count=row[3],
                dead_at=row[4],
                attributes=json.loads(row[5]),
            )
            for row in rows
        ]

    def _now(self) -> float:
        return self._clock.now().timestamp()

    def _insert(self, messages: list[tuple[str, dict[str, str]]]) -> list[str]:
        now = self._now()
        ids = [str(uuid.uuid4()) for _ in messages]
        with self._lock:
            with self._transaction() as db:
                db.executemany(
                    "INSERT INTO messages (message_id, body, attributes, sent_at, visible_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    [
                        (message_id, body, json.dumps(attributes), now, now)
                        for message_id, (body, attributes) in zip(ids, messages, strict=True)
                    ],
                )
            self._sent.notify_all()
        return ids

    def _receive_visible(self, max_messages: int, visibility_timeout: float) -> list[QueueMessage]:
        received: list[QueueMessage] = []
        with self._transaction() as db:
            while len(received) < max_messages:
                now = self._now()
                rows = db.execute(
                    "SELECT seq, message_id, body, attributes, receive_count FROM messages"
                    " WHERE visible_at <= ? ORDER BY seq LIMIT ?",
                    (now, max_messages - len(received)),
                ).fetchall()
                if not rows:
                    break
                for seq, message_id, body, attributes, count in rows:
                    if count >= self._max_receive_count:
                        reason = (
                            f"received {count} times without being deleted (max {self._max_receive_count})"
                        )
                        self._bury(db, message_id, body, json.loads(attributes), count, reason)
                        db.execute("DELETE FROM messages WHERE seq = ?", (seq,))
                        continue
                    receipt = f"{message_id}:{uuid.uuid4()}"
                    db.execute(
                        "UPDATE messages SET receive_count = ?, visible_at = ?, receipt = ? WHERE seq = ?",
                        (count + 1, now + visibility_timeout, receipt, seq),
                    )
                    received.append(
                        QueueMessage(
                            message_id=message_id,
                            body=body,
                            receipt=receipt,
                            receive_count=count + 1,
                            attributes=json.loads(attributes),
                        )
                    )
        return received

    def _bury(
        self,
        db: sqlite3.Connection,
        message_id: str,
        body: str,
        attributes: dict[str, str],
        receive_count: int,
        reason: str,
    ) -> None:
        db.execute(
            "INSERT INTO dead_letters (message_id, body, attributes, receive_count, reason, dead_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                message_id,
                body,
                json.dumps(attributes),
                receive_count,
                redact(reason)[:MAX_REASON_CHARS],
                self._now(),
            ),
        )

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE takes the write lock up front, so concurrent receivers serialise
        instead of both reading the same visible rows."""
        db = self._connection
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
