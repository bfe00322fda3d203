"""`pdf-text`: key-value pairs from the PDF's own text layer (pypdf), for the offline demo.

Exact for PDFs that carry text (generated or exported documents: the sandbox's), blind to scans
and photos, and with no table structure; rows are labelled `extractor = "pdf-text"` so nobody
mistakes them for Textract's. Every `Label: value` line is a pair; the text layer is the document
itself, so its confidence is 1.
"""

from __future__ import annotations

import io
import re

from zoho_pipelines.documents.extra import require
from zoho_pipelines.documents.extractors.base import DocumentSource, ExtractorError
from zoho_pipelines.documents.model import ExtractedContent, KeyValue

NAME = "pdf-text"
_PAIR = re.compile(r"^\s*(?P<key>[^:\n]{1,60}?)\s*:\s*(?P<value>\S.*?)\s*$")


class PdfTextExtractor:
    name = NAME

    def extract(self, source: DocumentSource, kind: str) -> ExtractedContent:
        if source.extension != "pdf":
            raise ExtractorError(
                f"{NAME} reads PDFs only, not .{source.extension} (use DOCUMENT_EXTRACTOR=textract)"
            )
        pypdf = require("pypdf")
        try:
            pages = pypdf.PdfReader(io.BytesIO(source.content)).pages
            texts = [page.extract_text() or "" for page in pages]
        except pypdf.errors.PdfReadError as error:
            raise ExtractorError(f"not a readable PDF: {error}") from None
        pairs = tuple(
            KeyValue(match["key"], match["value"], 1.0, number)
            for number, text in enumerate(texts, start=1)
            for line in text.splitlines()
            if (match := _PAIR.match(line))
        )
        return ExtractedContent(extractor=NAME, page_count=len(texts), key_values=pairs)
