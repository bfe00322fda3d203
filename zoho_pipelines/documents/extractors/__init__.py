"""Extractors: the document's key-value pairs and tables, from Amazon Textract or the PDF text layer.

`DOCUMENT_EXTRACTOR` picks one: `pdf-text` (default; offline, exact for generated PDFs, blind to
scans) or `textract`.
"""

from __future__ import annotations

from typing import Any

from zoho_pipelines.documents.extractors.base import DocumentSource, Extractor, ExtractorError
from zoho_pipelines.settings import Settings

EXTRACTORS = ("pdf-text", "textract")


def extractor_for(settings: Settings, *, textract_client: Any = None) -> Extractor:
    """The extractor DOCUMENT_EXTRACTOR names."""
    if settings.document_extractor == "textract":
        from zoho_pipelines.documents.extractors.textract import TextractExtractor

        return TextractExtractor(textract_client)
    from zoho_pipelines.documents.extractors.pdf_text import PdfTextExtractor

    return PdfTextExtractor()


__all__ = ["EXTRACTORS", "DocumentSource", "Extractor", "ExtractorError", "extractor_for"]
