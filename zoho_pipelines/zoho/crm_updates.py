"""Updating CRM records, with each record's own outcome reported back.

Zoho applies a batch update record by record: some may succeed while others fail validation, and
it says so per record, in input order, with HTTP 200, 207 or 400. A partial failure is therefore
data, not an exception: the caller gets every record's status (and decides what to retry or
dead-letter) rather than an error that hides the successes or a success that hides the failures.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from zoho_pipelines.zoho.batching import batched
from zoho_pipelines.zoho.crm_records import API, IDS_PER_CALL
from zoho_pipelines.zoho.errors import error_from_response
from zoho_pipelines.zoho.transport import ZohoTransport, json_body


@dataclass(frozen=True)
class RecordOutcome:
    """What happened to the record at `index` of the caller's input."""

    index: int
    id: str | None
    status: str
    code: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "success"


@dataclass(frozen=True)
class UpdateResult:
    """Every record's outcome, in input order."""

    outcomes: list[RecordOutcome]

    @property
    def succeeded(self) -> list[RecordOutcome]:
        return [outcome for outcome in self.outcomes if outcome.ok]

    @property
    def failed(self) -> list[RecordOutcome]:
        return [outcome for outcome in self.outcomes if not outcome.ok]

    @property
    def all_ok(self) -> bool:
        return all(outcome.ok for outcome in self.outcomes)


class RecordUpdater:
    """PUT /crm/v8/{Module} in batches of 100."""

    def __init__(self, transport: ZohoTransport) -> None:
        self._transport = transport

    def update(
        self, module: str, records: Iterable[dict[str, Any]], *, trigger: Sequence[str] = ()
    ) -> UpdateResult:
        """Apply `records` (each with its `id`); `trigger` lists workflow/approval/blueprint to run."""
        outcomes: list[RecordOutcome] = []
        for chunk in batched(records, IDS_PER_CALL):
            outcomes.extend(self._update_batch(module, chunk, list(trigger), offset=len(outcomes)))
        return UpdateResult(outcomes)

    def _update_batch(
        self, module: str, records: list[dict[str, Any]], trigger: list[str], *, offset: int
    ) -> list[RecordOutcome]:
        path = f"{API}/{module}"
        response = self._transport.request(
            "PUT", path, json={"data": records, "trigger": trigger}, ok_statuses={400}
        )
        body = json_body(response)
        entries = body.get("data") if isinstance(body, dict) else None
        if not isinstance(entries, list) or len(entries) != len(records):
            # A 400 about the request as a whole (bad module, malformed body) is not per record.
            raise error_from_response(response, method="PUT", path=path)
        return [
            RecordOutcome(
                index=offset + position,
                id=_record_id(entry, record),
                status=str(entry.get("status", "error")),
                code=str(entry.get("code", "")),
                message=str(entry.get("message", "")),
                details=entry.get("details") if isinstance(entry.get("details"), dict) else {},
            )
            for position, (entry, record) in enumerate(zip(entries, records, strict=True))
        ]


def _record_id(entry: dict[str, Any], record: dict[str, Any]) -> str | None:
    details = entry.get("details")
    if isinstance(details, dict) and details.get("id"):
        return str(details["id"])
    return str(record["id"]) if record.get("id") is not None else None
