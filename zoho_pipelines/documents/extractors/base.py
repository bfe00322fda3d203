"""The extractor contract, and the document as extractors see it."""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

from zoho_pipelines.documents.extra import require
from zoho_pipelines.documents.model import ExtractedContent


class ExtractorError(RuntimeError):
    """The document could not be read (not a PDF, a failed Textract job, a job that never ended)."""


@dataclass(frozen=True)
class DocumentSource:
    """A stored document's bytes, and its S3 location when the lake is on S3 (Textract reads it there)."""

    content: bytes
    extension: str
    s3_object: dict[str, str] | None = None

    @cached_property
    def page_count(self) -> int:
        if self.extension != "pdf":
            return 1  # images (png, jpeg, tiff) are one page to Textract
        pypdf = require("pypdf")
        try:
            return len(pypdf.PdfReader(io.BytesIO(self.content)).pages)
        except pypdf.errors.PdfReadError as error:
            raise ExtractorError(f"not a readable PDF: {error}") from None


class Extractor(Protocol):
    name: str

    def extract(self, source: DocumentSource, kind: str) -> ExtractedContent:
        """Key-value pairs and tables of `source`; `kind` (contract, invoice) chooses the analysis."""
        ...
