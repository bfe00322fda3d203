"""zoho_documents.extractions on DuckDB and the real PostgreSQL: one row per document, the newest
extraction wins, a replayed older one changes nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from zoho_pipelines.documents.flow import save_extraction
from zoho_pipelines.documents.model import DocumentRef, ExtractedContent, Extraction, KeyValue, StoredDocument
from zoho_pipelines.documents.tables import EXTRACTIONS_TABLE
from zoho_pipelines.warehouse import SqlWarehouse
from zoho_pipelines_tests.warehouse.conftest import postgres_server, postgres_url, warehouse  # noqa: F401

FIRST = datetime(2026, 11, 27, 12, tzinfo=UTC)
REF = DocumentRef("Deals", "5726167000000000062", "5725767900000001001", "pdf")


def extraction(at: datetime, end_date: str) -> Extraction:
    content = ExtractedContent("pdf-text", 2, (KeyValue("Contract End Date", end_date, 1.0, 1),))
    document = StoredDocument(REF, f"file:///lake/{REF.key}", "contract.pdf", 2050, FIRST, True)
    return Extraction(document, "contract", content, {"end_date": end_date}, 1.0, at, {"end_date": 1.0})


def stored(warehouse: SqlWarehouse) -> list[tuple[str, str, str]]:  # noqa: F811
    rows = warehouse.query(f'SELECT "id", "extractor", "fields" FROM {EXTRACTIONS_TABLE.sql}')  # noqa: S608
    return [(key, extractor, json.loads(fields)["end_date"]) for key, extractor, fields in rows]


def test_the_newest_extraction_of_a_document_wins(warehouse: SqlWarehouse) -> None:  # noqa: F811
    older = extraction(FIRST, "2027-01-31")
    newer = extraction(FIRST + timedelta(hours=1), "2028-01-31")
    save_extraction(warehouse, older)
    save_extraction(warehouse, newer)
    save_extraction(warehouse, older)  # a replayed run
    assert stored(warehouse) == [(REF.partition_key, "pdf-text", "2028-01-31")]
