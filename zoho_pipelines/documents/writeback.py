"""Writing extracted values back onto the CRM record, only where Zoho does not already hold them.

The record's current values are read first and only differing fields are sent, so a second run
(or a rerun of one document) writes nothing and leaves Modified_Time alone; the outcome of each
record (written, unchanged, failed with Zoho's reason) is kept in zoho_documents.writebacks.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from zoho_pipelines.documents.mapping import DocumentMapping
from zoho_pipelines.documents.model import DocumentRef
from zoho_pipelines.documents.tables import WritebackOutcome
from zoho_pipelines.zoho.crm import CrmClient
from zoho_pipelines.zoho.errors import ZohoAPIError

WRITTEN, UNCHANGED, FAILED = "written", "unchanged", "failed"


def _same(kind: str, current: Any, wanted: str) -> bool:
    if current is None:
        return False
    if kind == "amount":
        try:
            return Decimal(str(current)) == Decimal(wanted)
        except InvalidOperation:
            return False
    return str(current) == wanted


def _as_zoho(kind: str, value: str) -> Any:
    """Currency and number fields take JSON numbers; dates (yyyy-MM-dd) and text take strings."""
    return float(Decimal(value)) if kind == "amount" else value


def write_back(
    crm: CrmClient,
    ref: DocumentRef,
    kind: str,
    fields: dict[str, str],
    mapping: DocumentMapping,
    now: datetime,
) -> WritebackOutcome | None:
    """Apply the mapping's write-back rules for one document; None when its kind has none."""
    rules = mapping.writebacks_for(kind, ref.module)
    if not rules:
        return None
    types = {field.name: field.type for field in mapping.kind(kind).fields}
    wanted = {rule.zoho_field: (types[rule.field], fields.get(rule.field)) for rule in rules}
    values = {name: value for name, (_, value) in wanted.items()}

    def outcome(status: str, reason: str = "", written: tuple[str, ...] = ()) -> WritebackOutcome:
        return WritebackOutcome(ref, status, reason, values, written, now)

    missing = sorted(rule.field for rule in rules if not fields.get(rule.field))
    if missing:
        return outcome(FAILED, f"not found in the document: {', '.join(missing)}")
    try:
        records = [
            record for page in crm.iter_by_ids(ref.module, [ref.record_id], list(wanted)) for record in page
        ]
        if not records:
            return outcome(FAILED, f"{ref.module} record {ref.record_id} not found (deleted?)")
        current = records[0]
        changes = {
            name: _as_zoho(field_type, value)
            for name, (field_type, value) in wanted.items()
            if value is not None and not _same(field_type, current.get(name), value)
        }
        if not changes:
            return outcome(UNCHANGED)
        result = crm.update_records(ref.module, [{"id": ref.record_id, **changes}])
    except ZohoAPIError as error:
        return outcome(FAILED, str(error))
    update = result.outcomes[0]
    if not update.ok:
        return outcome(FAILED, f"{update.code}: {update.message} {update.details or ''}".strip())
    return outcome(WRITTEN, written=tuple(sorted(changes)))
