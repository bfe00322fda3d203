"""The documents flow, step by step: discover, fetch into the lake, extract, merge, write back.

Each step is idempotent on its own: the lake key and the warehouse id are the document's key, the
fetch skips an unchanged file, the merge keeps the newest row, the write-back sends only values
Zoho does not hold yet (each attempt kept as its own row). Dagster (defs/documents.py) has one
partition per document and runs a range of them through `batch`, as the CLI's `documents` does.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from zoho_pipelines.clock import Clock
from zoho_pipelines.documents.extractors import DocumentSource, Extractor
from zoho_pipelines.documents.mapping import DocumentMapping
from zoho_pipelines.documents.model import DocumentRef, Extraction, StoredDocument
from zoho_pipelines.documents.store import DocumentStore
from zoho_pipelines.documents.tables import (
    EXTRACTIONS_TABLE,
    WritebackOutcome,
    extraction_rows,
    merge,
    writeback_rows,
)
from zoho_pipelines.documents.writeback import write_back
from zoho_pipelines.lake import Lake
from zoho_pipelines.warehouse import SqlWarehouse
from zoho_pipelines.zoho.client import ZohoClient
from zoho_pipelines.zoho.crm_attachments import Attachment, CrmAttachments, file_upload

DISCOVERY_START = datetime(2000, 1, 1, tzinfo=UTC)
CONTENT_TYPES = {"pdf": "application/pdf", "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg"}
FILE_UPLOAD_TYPE = "fileupload"
READABLE_EXTENSIONS = frozenset({"pdf", "png", "jpg", "jpeg", "tiff", "tif"})  # what Textract reads


def _uploaded(module: str, record_id: str, record: dict, fields: Iterable[str]) -> list[Attachment]:
    return [file_upload(module, record_id, item) for field in fields for item in record.get(field) or []]


class DocumentGone(LookupError):
    """The attachment is no longer on its record (deleted in Zoho since it was discovered)."""


@dataclass(frozen=True)
class Discovered:
    """A readable attachment of a known kind, and the document key it is processed under."""

    attachment: Attachment
    kind: str

    @property
    def ref(self) -> DocumentRef:
        return ref_for(self.attachment)


def ref_for(attachment: Attachment) -> DocumentRef:
    return DocumentRef(attachment.module, attachment.record_id, attachment.id, attachment.extension)


class DocumentsFlow:
    """The steps, bound to one org, one lake, one warehouse, one extractor and one mapping."""

    def __init__(
        self,
        zoho: ZohoClient,
        store: DocumentStore,
        extractor: Extractor,
        mapping: DocumentMapping,
        clock: Clock,
    ) -> None:
        self.zoho = zoho
        self.attachments = CrmAttachments(zoho.transport)
        self.store = store
        self.extractor = extractor
        self.mapping = mapping
        self.clock = clock
        self._upload_fields: dict[str, tuple[str, ...]] = {}

    # ---- discover ---------------------------------------------------------------------------

    def discover(self, module: str, since: datetime | None, until: datetime) -> Iterator[Discovered]:
        """Files of the records modified in [since, until), readable and of a mapped kind: each
        record's Attachments list, and the files in the module's file-upload fields.

        Zoho has no org-wide attachment listing, so this reads the modified records' ids and
        file-upload fields (200 a call) and each one's Attachments list (one call per record):
        the cursor keeps it to the records that changed since the last look.
        """
        uploads = self.file_upload_fields(module)
        for page in self.zoho.crm.iter_modified(
            module, ["Modified_Time", *uploads], since or DISCOVERY_START, until
        ):
            for record in page:
                record_id = str(record["id"])
                yield from self._readable(self.attachments.list(module, record_id))
                yield from self._readable(_uploaded(module, record_id, record, uploads))

    def file_upload_fields(self, module: str) -> tuple[str, ...]:
        """The module's file-upload fields (field metadata, data_type "fileupload"), read once.
        https://www.zoho.com/crm/developer/docs/api/v8/field-meta.html"""
        if module not in self._upload_fields:
            self._upload_fields[module] = tuple(
                str(field["api_name"])
                for field in self.zoho.crm.fields(module)
                if field.get("data_type") == FILE_UPLOAD_TYPE
            )
        return self._upload_fields[module]

    def _readable(self, attachments: Iterable[Attachment]) -> Iterator[Discovered]:
        for attachment in attachments:
            kind = self.mapping.kind_of(attachment.file_name)
            if kind is not None and attachment.extension in READABLE_EXTENSIONS:
                yield Discovered(attachment, kind)

    def find(self, ref: DocumentRef) -> Discovered:
        """The file a document key names (attachment or file-upload), with Zoho's current metadata."""
        candidates = [*self.attachments.list(ref.module, ref.record_id), *self._uploaded_now(ref)]
        for attachment in candidates:
            if attachment.id == ref.attachment_id:
                kind = self.mapping.kind_of(attachment.file_name)
                if kind is None:
                    raise DocumentGone(f"{ref.partition_key}: {attachment.file_name!r} is of no mapped kind")
                return Discovered(attachment, kind)
        raise DocumentGone(f"{ref.partition_key} is no longer on its record")

    def _uploaded_now(self, ref: DocumentRef) -> list[Attachment]:
        """The files now in the record's file-upload fields (no call when the module has none)."""
        uploads = self.file_upload_fields(ref.module)
        if not uploads:
            return []
        pages = self.zoho.crm.iter_by_ids(ref.module, [ref.record_id], list(uploads))
        return [
            item
            for page in pages
            for record in page
            for item in _uploaded(ref.module, ref.record_id, record, uploads)
        ]

    # ---- fetch ------------------------------------------------------------------------------

    def fetch(self, attachment: Attachment) -> StoredDocument:
        """The file in the lake; downloaded only when absent or changed (size or time)."""
        ref = ref_for(attachment)
        present = self.store.head(ref.key)
        unchanged = (
            present is not None
            and present.modified_time == attachment.modified_time
            and (attachment.size is None or present.size == attachment.size)
        )
        size = present.size if present is not None else 0
        if not unchanged:
            with self.attachments.download(attachment) as chunks:
                size = self.store.put(
                    ref.key,
                    chunks,
                    attachment.modified_time,
                    CONTENT_TYPES.get(attachment.extension, "application/octet-stream"),
                )
        return StoredDocument(
            ref=ref,
            uri=self.store.uri(ref.key),
            file_name=attachment.file_name,
            size=size,
            modified_time=attachment.modified_time,
            downloaded=not unchanged,
        )

    # ---- extract ----------------------------------------------------------------------------

    def extract(self, document: StoredDocument, kind: str) -> Extraction:
        source = DocumentSource(
            self.store.read(document.ref.key), document.ref.extension, self.store.s3_object(document.ref.key)
        )
        content = self.extractor.extract(source, kind)
        fields, confidences = self.mapping.named_values(kind, content)
        return Extraction(
            document=document,
            kind=kind,
            content=content,
            fields=fields,
            confidence=min(confidences.values()) if confidences else None,
            extracted_at=self.clock.now(),
            field_confidences=confidences,
        )

    # ---- write back -------------------------------------------------------------------------

    def write_back(self, ref: DocumentRef, kind: str, fields: dict[str, str]) -> WritebackOutcome | None:
        return write_back(self.zoho.crm, ref, kind, fields, self.mapping, self.clock.now())


def save_extraction(warehouse: SqlWarehouse, extraction: Extraction, staging: Lake | None = None) -> None:
    merge(warehouse, extraction_rows([extraction]), staging=staging)


def save_writeback(warehouse: SqlWarehouse, outcome: WritebackOutcome, staging: Lake | None = None) -> None:
    merge(warehouse, writeback_rows([outcome]), staging=staging)


def stored_extraction(warehouse: SqlWarehouse, ref: DocumentRef) -> tuple[str, dict[str, str]]:
    """(kind, named values) of a document's extraction row: the write-back works from the table."""
    rows = warehouse.query(
        f'SELECT "kind", "fields" FROM {EXTRACTIONS_TABLE.sql} WHERE "id" = {warehouse.placeholder}',  # noqa: S608
        (ref.partition_key,),
    )
    if not rows:
        raise LookupError(f"{ref.partition_key} has no extraction yet: materialize its extraction first")
    kind, fields = rows[0]
    return str(kind), json.loads(fields)
