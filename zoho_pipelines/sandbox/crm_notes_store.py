"""The sandbox's CRM notes, by parent record (served by `crm_notes`)."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from typing import Any

FIRST_NOTE_ID = 5_725_767_000_000_100_001


@dataclass
class NotesStore:
    """Notes by parent record, in creation order; shared by the routes and tests."""

    _notes: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(FIRST_NOTE_ID))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, module: str, record_id: str, title: str, content: str, created: str) -> dict[str, Any]:
        with self._lock:
            note = {
                "id": str(next(self._ids)),
                "Note_Title": title,
                "Note_Content": content,
                "Created_Time": created,
                "Parent_Id": {"module": {"api_name": module}, "id": record_id},
            }
            self._notes.setdefault((module, record_id), []).append(note)
            return dict(note)

    def delete(self, note_id: str) -> bool:
        """Remove the note; False when no such note exists (any more)."""
        with self._lock:
            for notes in self._notes.values():
                for position, note in enumerate(notes):
                    if note["id"] == note_id:
                        del notes[position]
                        return True
            return False

    def of_record(self, module: str, record_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(note) for note in self._notes.get((module, record_id), [])]
