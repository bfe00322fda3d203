"""What the documents flow passes around: a document's identity, what was read from it, the outcome."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from zoho_pipelines.lake.layout import ROOT

DOCUMENTS_PREFIX = f"{ROOT}/documents/"
_PARTITION_KEY = re.compile(
    r"^(?P<module>[A-Za-z0-9_]+)/(?P<record>\d+)/(?P<attachment>[A-Za-z0-9]+)\.(?P<ext>[a-z0-9]+)$"
)


@dataclass(frozen=True)
class DocumentRef:
    """One file of one CRM record (an attachment id, or a file-upload field's file id); `key` is
    where it lives in the lake, whatever its content."""

    module: str
    record_id: str
    attachment_id: str
    extension: str

    @property
    def partition_key(self) -> str:
        """`<module>/<record id>/<attachment id>.<ext>`: the Dagster partition and the warehouse id."""
        return f"{self.module}/{self.record_id}/{self.attachment_id}.{self.extension}"

    @property
    def key(self) -> str:
        """`zoho/documents/<module>/<record id>/<attachment id>.<ext>`, relative to the lake's root."""
        return DOCUMENTS_PREFIX + self.partition_key

    @classmethod
    def from_partition_key(cls, value: str) -> DocumentRef:
        match = _PARTITION_KEY.match(value)
        if match is None:
            raise ValueError(f"not a document key (<module>/<record id>/<file id>.<ext>): {value!r}")
        return cls(match["module"], match["record"], match["attachment"], match["ext"])


@dataclass(frozen=True)
class StoredDocument:
    """A document in the lake: where, how big, which Zoho version, and whether this run fetched it."""

    ref: DocumentRef
    uri: str
    file_name: str
    size: int
    modified_time: datetime
    downloaded: bool


@dataclass(frozen=True)
class KeyValue:
    """One key-value pair as the extractor read it; confidence in [0, 1]."""

    key: str
    value: str
    confidence: float
    page: int


@dataclass(frozen=True)
class ExtractedContent:
    """Everything an extractor read from one document."""

    extractor: str
    page_count: int
    key_values: tuple[KeyValue, ...]
    tables: tuple[tuple[tuple[str, ...], ...], ...] = ()
    """Each table as rows of cell texts."""


@dataclass(frozen=True)
class Extraction:
    """One document's row in zoho_documents.extractions."""

    document: StoredDocument
    kind: str
    content: ExtractedContent
    fields: dict[str, str]
    """The mapping's named values (ISO dates, plain decimals), e.g. {"end_date": "2027-03-31"}."""
    confidence: float | None
    """The lowest confidence among the named values (None when none was found)."""
    extracted_at: datetime
    field_confidences: dict[str, float] = field(default_factory=dict)

    def key_values_json(self) -> list[dict[str, Any]]:
        return [
            {"key": item.key, "value": item.value, "confidence": round(item.confidence, 4), "page": item.page}
            for item in self.content.key_values
        ]
