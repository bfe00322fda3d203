"""Textract at the edge: AWS's published responses served through botocore's Stubber (moto 5.2.5
has no AnalyzeDocument or AnalyzeExpense), parsed by textractor, landing in the same table shape
as the offline extractor's rows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from zoho_pipelines.clock import ManualClock
from zoho_pipelines.documents.extractors import DocumentSource, ExtractorError
from zoho_pipelines.documents.extractors.pdf_text import PdfTextExtractor
from zoho_pipelines.documents.extractors.textract import PollPolicy, TextractExtractor, content_from_response
from zoho_pipelines.documents.flow import save_extraction
from zoho_pipelines.documents.mapping import load_mapping
from zoho_pipelines.documents.model import DocumentRef, Extraction, StoredDocument
from zoho_pipelines.documents.tables import EXTRACTIONS_TABLE, extraction_rows
from zoho_pipelines.sandbox.documents_pdf import ContractTruth, InvoiceTruth, contract_pdf, invoice_pdf
from zoho_pipelines.warehouse import SqlWarehouse
from zoho_pipelines_tests.documents.conftest import fixture_response

NOW = datetime(2026, 11, 27, 13, tzinfo=UTC)
S3_OBJECT = {"Bucket": "zoho-pipelines-lake-test", "Name": "zoho/documents/Deals/1/2.pdf"}
CONTRACT = ContractTruth(
    "CTR-000001", "Northwind Traders", NOW.date(), NOW.date() + timedelta(days=364), Decimal("1000.00")
)
INVOICE = InvoiceTruth(
    "INV-000001",
    NOW.date(),
    "Zylker Cloud Services",
    "Northwind Traders",
    (("Support", 1, Decimal("10.00")),),
)


class RecordingSleep:
    """Sleeps by moving the manual clock, and remembers each delay."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        self.clock.advance(timedelta(seconds=seconds))


@pytest.fixture
def textract() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client(
        "textract", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def extraction_of(content: Any, kind: str, ref: DocumentRef) -> Extraction:
    fields, confidences = load_mapping().named_values(kind, content)
    document = StoredDocument(ref, f"file:///lake/{ref.key}", f"{kind}.pdf", 1, NOW, True)
    return Extraction(
        document, kind, content, fields, min(confidences.values(), default=None), NOW, confidences
    )


def test_analyze_document_forms_and_tables_maps_into_extractions(
    textract: tuple[Any, Stubber], warehouse: SqlWarehouse
) -> None:
    client, stubber = textract
    stubber.add_response(
        "analyze_document",
        fixture_response("analyze_document_forms_tables.json"),
        {"Document": {"Bytes": ANY}, "FeatureTypes": ["FORMS", "TABLES"]},
    )
    single_page = invoice_pdf(INVOICE)
    content = TextractExtractor(client).extract(DocumentSource(single_page, "pdf"), "contract")
    assert content.extractor == "textract"
    assert content.page_count == 1
    pairs = {item.key: item.value for item in content.key_values}
    assert pairs["Name of package:"] == "Textractor"
    assert pairs["Date :"] == "08/14/2022"
    assert content.tables[0][0] == ("Cell 1", "Cell 2", "", "Cell 4", "Cell 5")
    assert len(content.tables[0]) == 3

    textract_ref = DocumentRef("Deals", "1", "2", "pdf")
    offline_ref = DocumentRef("Deals", "1", "3", "pdf")
    offline = PdfTextExtractor().extract(DocumentSource(contract_pdf(CONTRACT), "pdf"), "contract")
    save_extraction(warehouse, extraction_of(content, "contract", textract_ref))
    save_extraction(warehouse, extraction_of(offline, "contract", offline_ref))
    rows = warehouse.query(
        f'SELECT "id", "extractor", "page_count", "key_values", "tables" '  # noqa: S608
        f'FROM {EXTRACTIONS_TABLE.sql} ORDER BY "id"'
    )
    assert [(row[0], row[1], row[2]) for row in rows] == [
        (textract_ref.partition_key, "textract", 1),
        (offline_ref.partition_key, "pdf-text", 2),
    ]
    stored_pairs = json.loads(rows[0][3])
    assert {name: stored_pairs[0][name] for name in ("key", "value", "page")} == {
        "key": "Name of package:",
        "value": "Textractor",
        "page": 1,
    }
    assert json.loads(rows[0][4])[0][1][0] == "Cell 6"
    assert (
        extraction_rows([extraction_of(content, "contract", textract_ref)]).schema
        == extraction_rows([extraction_of(offline, "contract", offline_ref)]).schema
    )


def test_analyze_expense_gives_the_invoice_values(textract: tuple[Any, Stubber]) -> None:
    client, stubber = textract
    stubber.add_response(
        "analyze_expense", fixture_response("analyze_expense.json"), {"Document": {"Bytes": ANY}}
    )
    content = TextractExtractor(client).extract(DocumentSource(invoice_pdf(INVOICE), "pdf"), "invoice")
    fields, confidences = load_mapping().named_values("invoice", content)
    assert fields == {
        "number": "21772",
        "date": "2019-12-07",
        "total": "1810.46",
        "vendor": "MEGA MARKET PLUS",
    }
    assert all(0.9 < confidence <= 1.0 for confidence in confidences.values())
    assert content.tables[0][0] == ("ITEM", "PRICE")
    assert content.tables[0][1] == ("LG FLATSCREEN 65", "$899.99 S")


def _paged(response: dict[str, Any], items: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The published result split into two Get* pages joined by a NextToken, as large results come."""
    half = len(response[items]) // 2
    first = {**response, items: response[items][:half], "NextToken": "page-2"}
    second = {**response, items: response[items][half:]}
    return first, second


def test_a_multi_page_pdf_goes_through_the_asynchronous_analysis(textract: tuple[Any, Stubber]) -> None:
    client, stubber = textract
    clock = ManualClock(NOW)
    sleep = RecordingSleep(clock)
    published = fixture_response("get_document_analysis_multipage.json")
    first, second = _paged(published, "Blocks")
    stubber.add_response(
        "start_document_analysis",
        {"JobId": "job-1"},
        {
            "DocumentLocation": {"S3Object": S3_OBJECT},
            "FeatureTypes": ["FORMS", "TABLES"],
            "ClientRequestToken": ANY,
        },
    )
    for _ in range(2):
        stubber.add_response(
            "get_document_analysis", {"JobStatus": "IN_PROGRESS"}, {"JobId": "job-1", "MaxResults": 1000}
        )
    stubber.add_response("get_document_analysis", first, {"JobId": "job-1", "MaxResults": 1000})
    stubber.add_response(
        "get_document_analysis", second, {"JobId": "job-1", "MaxResults": 1000, "NextToken": "page-2"}
    )
    extractor = TextractExtractor(client, clock=clock, sleep=sleep)
    content = extractor.extract(DocumentSource(contract_pdf(CONTRACT), "pdf", S3_OBJECT), "contract")
    assert sleep.delays == [1.0, 2.0]
    assert content.page_count == 2
    assert {item.page for item in content.key_values} == {1, 2}
    assert content == content_from_response(published)  # the two pages joined are the whole result


def test_a_multi_page_invoice_goes_through_the_asynchronous_expense_analysis(
    textract: tuple[Any, Stubber],
) -> None:
    client, stubber = textract
    published = {**fixture_response("analyze_expense.json"), "JobStatus": "SUCCEEDED"}
    stubber.add_response(
        "start_expense_analysis",
        {"JobId": "job-2"},
        {"DocumentLocation": {"S3Object": S3_OBJECT}, "ClientRequestToken": ANY},
    )
    stubber.add_response("get_expense_analysis", published, {"JobId": "job-2", "MaxResults": 1000})
    content = TextractExtractor(
        client, clock=ManualClock(NOW), sleep=RecordingSleep(ManualClock(NOW))
    ).extract(DocumentSource(contract_pdf(CONTRACT), "pdf", S3_OBJECT), "invoice")
    assert load_mapping().named_values("invoice", content)[0]["total"] == "1810.46"


def test_a_job_that_never_ends_times_out_without_waiting(textract: tuple[Any, Stubber]) -> None:
    client, stubber = textract
    clock = ManualClock(NOW)
    sleep = RecordingSleep(clock)
    stubber.add_response("start_document_analysis", {"JobId": "job-3"})
    for _ in range(4):
        stubber.add_response("get_document_analysis", {"JobStatus": "IN_PROGRESS"})
    extractor = TextractExtractor(client, poll=PollPolicy(1.0, 4.0, 10.0), clock=clock, sleep=sleep)
    with pytest.raises(ExtractorError, match="still IN_PROGRESS"):
        extractor.extract(DocumentSource(contract_pdf(CONTRACT), "pdf", S3_OBJECT), "contract")
    assert sleep.delays == [1.0, 2.0, 4.0]


def test_a_failed_job_says_why(textract: tuple[Any, Stubber]) -> None:
    client, stubber = textract
    stubber.add_response("start_document_analysis", {"JobId": "job-4"})
    stubber.add_response(
        "get_document_analysis", {"JobStatus": "FAILED", "StatusMessage": "Unsupported document"}
    )
    with pytest.raises(ExtractorError, match="Unsupported document"):
        TextractExtractor(client, sleep=RecordingSleep(ManualClock(NOW))).extract(
            DocumentSource(contract_pdf(CONTRACT), "pdf", S3_OBJECT), "contract"
        )


def test_a_multi_page_pdf_outside_s3_is_refused_before_any_call(textract: tuple[Any, Stubber]) -> None:
    client, _ = textract
    with pytest.raises(ExtractorError, match="s3:// LAKE_URL"):
        TextractExtractor(client).extract(DocumentSource(contract_pdf(CONTRACT), "pdf"), "contract")
