"""`zoho_documents.extractions`, merged by document key, and `zoho_documents.writebacks`, a history.

The rows go through the warehouse's own merge (one transaction, the table locked, the newer
`_modified_time` wins), so re-extracting a document replaces its row and a replayed older run
cannot undo a newer one. A write-back attempt is its own row (id `<document key>@<attempt time>`,
`document` the key): a later "unchanged" must not hide when a value was "written", and a replayed
attempt lands on its own row again. Nested values (key-value pairs, tables, named values) are JSON text:
one column type every backend stores (Redshift's VARCHAR(65535) included).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from zoho_pipelines.documents.model import DocumentRef, Extraction
from zoho_pipelines.lake import Lake
from zoho_pipelines.schema import DELETED, ID_COLUMN, MODIFIED_TIME, PARTITION, SYNCED_AT, UTC_TIMESTAMP
from zoho_pipelines.warehouse import MergeResult, SqlWarehouse, TableRef

APP = "documents"
EXTRACTIONS = "extractions"
WRITEBACKS = "writebacks"
_SYSTEM = [
    pa.field(ID_COLUMN, pa.string(), nullable=False),
    pa.field(MODIFIED_TIME, UTC_TIMESTAMP),
    pa.field(DELETED, pa.bool_()),
    pa.field(SYNCED_AT, UTC_TIMESTAMP),
    pa.field(PARTITION, pa.date32()),
]
EXTRACTIONS_SCHEMA = pa.schema(
    [
        *_SYSTEM,
        pa.field("module", pa.string()),
        pa.field("record_id", pa.string()),
        pa.field("attachment_id", pa.string()),
        pa.field("file_name", pa.string()),
        pa.field("lake_uri", pa.string()),
        pa.field("size_bytes", pa.int64()),
        pa.field("kind", pa.string()),
        pa.field("extractor", pa.string()),
        pa.field("page_count", pa.int64()),
        pa.field("confidence", pa.float64()),
        pa.field("fields", pa.string()),
        pa.field("key_values", pa.string()),
        pa.field("tables", pa.string()),
    ],
    metadata={b"zoho.app": APP.encode(), b"zoho.module": EXTRACTIONS.encode()},
)
WRITEBACKS_SCHEMA = pa.schema(
    [
        *_SYSTEM,
        pa.field("document", pa.string()),
        pa.field("module", pa.string()),
        pa.field("record_id", pa.string()),
        pa.field("status", pa.string()),
        pa.field("reason", pa.string()),
        pa.field("values", pa.string()),
        pa.field("written_fields", pa.string()),
    ],
    metadata={b"zoho.app": APP.encode(), b"zoho.module": WRITEBACKS.encode()},
)
EXTRACTIONS_TABLE = TableRef.for_module(APP, EXTRACTIONS)
WRITEBACKS_TABLE = TableRef.for_module(APP, WRITEBACKS)


@dataclass(frozen=True)
class WritebackOutcome:
    """What one write-back attempt did to the record a document hangs off: written, unchanged or failed."""

    ref: DocumentRef
    status: str
    reason: str
    values: dict[str, Any]
    written_fields: tuple[str, ...]
    at: datetime


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _system(key: str, moment: datetime) -> dict[str, Any]:
    moment = moment.astimezone(UTC)
    return {
        ID_COLUMN: key,
        MODIFIED_TIME: moment,
        DELETED: False,
        SYNCED_AT: moment,
        PARTITION: moment.date(),
    }


def attempt_id(ref: DocumentRef, at: datetime) -> str:
    """`<document key>@<attempt time, UTC ISO 8601>`: one writebacks row per attempt."""
    return f"{ref.partition_key}@{at.astimezone(UTC).isoformat()}"


def extraction_rows(extractions: Sequence[Extraction]) -> pa.RecordBatch:
    rows = [
        {
            **_system(item.document.ref.partition_key, item.extracted_at),
            "module": item.document.ref.module,
            "record_id": item.document.ref.record_id,
            "attachment_id": item.document.ref.attachment_id,
            "file_name": item.document.file_name,
            "lake_uri": item.document.uri,
            "size_bytes": item.document.size,
            "kind": item.kind,
            "extractor": item.content.extractor,
            "page_count": item.content.page_count,
            "confidence": item.confidence,
            "fields": _json(item.fields),
            "key_values": _json(item.key_values_json()),
            "tables": _json([list(map(list, table)) for table in item.content.tables]),
        }
        for item in extractions
    ]
    return pa.RecordBatch.from_pylist(rows, schema=EXTRACTIONS_SCHEMA)


def writeback_rows(outcomes: Sequence[WritebackOutcome]) -> pa.RecordBatch:
    rows = [
        {
            **_system(attempt_id(item.ref, item.at), item.at),
            "document": item.ref.partition_key,
            "module": item.ref.module,
            "record_id": item.ref.record_id,
            "status": item.status,
            "reason": item.reason,
            "values": _json(item.values),
            "written_fields": _json(list(item.written_fields)),
        }
        for item in outcomes
    ]
    return pa.RecordBatch.from_pylist(rows, schema=WRITEBACKS_SCHEMA)


def merge(warehouse: SqlWarehouse, batch: pa.RecordBatch, *, staging: Lake | None = None) -> MergeResult:
    """Merge rows into their table; `staging` (a lake prefix) is how rows reach Redshift (COPY)."""
    from zoho_pipelines.events.processing.refresh import merge_rows

    return merge_rows(warehouse, batch.schema, [batch], staging=staging)
