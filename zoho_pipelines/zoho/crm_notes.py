"""Notes on CRM records: list a record's notes, add one, delete some.

- A record's notes: `GET /crm/v8/{module}/{record_id}/Notes` with `fields` (required in v8),
  200 a page (https://www.zoho.com/crm/developer/docs/api/v8/get-notes.html);
- a new note: `POST /crm/v8/Notes` with `Note_Title`, `Note_Content` and `Parent_Id` naming the
  record and its module (https://www.zoho.com/crm/developer/docs/api/v8/create-notes.html);
- deleting: `DELETE /crm/v8/Notes?ids=...`, up to 100 ids, a result per id
  (https://www.zoho.com/crm/developer/docs/api/v8/delete-notes.html).

Zoho does not refuse a second note with the same title, so a caller that must add a note once
looks for it by title first (`titled`). The POST is not retried by the transport when its
outcome is unknown (it is not idempotent); the caller's own retry looks again first.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from zoho_pipelines.zoho.crm_records import API
from zoho_pipelines.zoho.errors import error_from_response
from zoho_pipelines.zoho.transport import ZohoTransport, json_body

NOTE_FIELDS = "Note_Title,Note_Content,Created_Time"
NOTES_PER_PAGE = 200


class CrmNotes:
    def __init__(self, transport: ZohoTransport) -> None:
        self._transport = transport

    def of_record(self, module: str, record_id: str) -> Iterator[dict[str, Any]]:
        """Every note on the record, page by page."""
        path = f"{API}/{module}/{record_id}/Notes"
        page = 1
        while True:
            response = self._transport.request(
                "GET", path, params={"fields": NOTE_FIELDS, "per_page": NOTES_PER_PAGE, "page": page}
            )
            body = json_body(response)
            yield from body.get("data") or []
            if not (body.get("info") or {}).get("more_records"):
                return
            page += 1

    def titled(self, module: str, record_id: str, title: str) -> list[dict[str, Any]]:
        return [note for note in self.of_record(module, record_id) if note.get("Note_Title") == title]

    def delete(self, note_ids: list[str]) -> None:
        """Delete the notes; one already gone counts as deleted (an overlapping run got there first)."""
        path = f"{API}/Notes"
        response = self._transport.request(
            "DELETE", path, params={"ids": ",".join(note_ids)}, ok_statuses={207, 400}
        )
        entries = json_body(response).get("data")
        if not isinstance(entries, list) or any(
            entry.get("status") != "success" and entry.get("code") != "INVALID_DATA" for entry in entries
        ):
            raise error_from_response(response, method="DELETE", path=path)

    def create(self, module: str, record_id: str, *, title: str, content: str) -> str:
        """Add a note to the record; its id."""
        path = f"{API}/Notes"
        note = {
            "Note_Title": title,
            "Note_Content": content,
            "Parent_Id": {"module": {"api_name": module}, "id": record_id},
        }
        response = self._transport.request("POST", path, json={"data": [note]}, ok_statuses={400})
        entries = json_body(response).get("data")
        if not isinstance(entries, list) or len(entries) != 1 or entries[0].get("status") != "success":
            raise error_from_response(response, method="POST", path=path)
        return str(entries[0]["details"]["id"])
