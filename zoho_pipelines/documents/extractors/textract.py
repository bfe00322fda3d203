"""`textract`: Amazon Textract, parsed with amazon-textract-textractor (not by hand).

- Contracts: AnalyzeDocument with FeatureTypes FORMS and TABLES (key-value pairs and tables).
  https://docs.aws.amazon.com/textract/latest/APIReference/API_AnalyzeDocument.html
- Invoices and receipts: AnalyzeExpense (summary fields such as INVOICE_RECEIPT_ID, TOTAL,
  VENDOR_NAME, and line items).
  https://docs.aws.amazon.com/textract/latest/APIReference/API_AnalyzeExpense.html
- The synchronous calls take single-page documents only; a multi-page PDF goes through
  StartDocumentAnalysis / GetDocumentAnalysis (StartExpenseAnalysis / GetExpenseAnalysis), which
  read the document from S3 and page their results with NextToken.
  https://docs.aws.amazon.com/textract/latest/dg/api-async.html

Completion is polled with backoff (an injected clock and sleep, so tests do not wait) instead of an
SNS topic: the Dagster run that started the job owns its partition and its outcome, a job takes
seconds to minutes, and polling needs no topic, queue, consumer or role for Textract to publish
with (the NotificationChannel route). Get* calls cost nothing; only pages analysed are billed.
The start calls carry a ClientRequestToken derived from the object, so a retried run re-attaches
to the job it already started instead of paying for a second one.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from zoho_pipelines.clock import SYSTEM_CLOCK, Clock
from zoho_pipelines.documents.extra import require
from zoho_pipelines.documents.extractors.base import DocumentSource, ExtractorError
from zoho_pipelines.documents.model import ExtractedContent, KeyValue

NAME = "textract"
FORMS_AND_TABLES = ["FORMS", "TABLES"]
EXPENSE_KINDS = frozenset({"invoice", "receipt"})
RESULTS_PER_CALL = 1000  # GetDocumentAnalysis / GetExpenseAnalysis MaxResults maximum
EXPENSE_ROW = "EXPENSE_ROW"  # a line item's whole-row text, not a column


@dataclass(frozen=True)
class PollPolicy:
    """How long to wait between Get* calls (doubling from first to max), and for how long in all."""

    first_delay_s: float = 1.0
    max_delay_s: float = 20.0
    timeout_s: float = 900.0


class TextractExtractor:
    name = NAME

    def __init__(
        self,
        client: Any = None,
        *,
        poll: PollPolicy | None = None,
        clock: Clock = SYSTEM_CLOCK,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if client is None:
            import boto3

            client = boto3.client("textract")
        self._client = client
        self._poll = poll or PollPolicy()
        self._clock = clock
        self._sleep = sleep

    def extract(self, source: DocumentSource, kind: str) -> ExtractedContent:
        expense = kind in EXPENSE_KINDS
        pages = source.page_count
        if pages == 1:
            document = {"S3Object": source.s3_object} if source.s3_object else {"Bytes": source.content}
            if expense:
                response = self._client.analyze_expense(Document=document)
            else:
                response = self._client.analyze_document(Document=document, FeatureTypes=FORMS_AND_TABLES)
        elif source.s3_object is None:
            raise ExtractorError(
                f"a {pages}-page PDF needs Textract's asynchronous API, which reads from S3 only: "
                "use an s3:// LAKE_URL"
            )
        else:
            response = self._analyse_async(source.s3_object, expense)
        return content_from_response(response)

    def _analyse_async(self, s3_object: dict[str, str], expense: bool) -> dict[str, Any]:
        location = {"S3Object": s3_object}
        token = hashlib.sha256(f"{s3_object['Bucket']}/{s3_object['Name']}/{expense}".encode()).hexdigest()[
            :64
        ]
        if expense:
            job = self._client.start_expense_analysis(DocumentLocation=location, ClientRequestToken=token)
            get, items = self._client.get_expense_analysis, "ExpenseDocuments"
        else:
            job = self._client.start_document_analysis(
                DocumentLocation=location, FeatureTypes=FORMS_AND_TABLES, ClientRequestToken=token
            )
            get, items = self._client.get_document_analysis, "Blocks"
        first = self._wait(get, job["JobId"])
        combined = {
            key: value for key, value in first.items() if key not in ("NextToken", "ResponseMetadata")
        }
        next_token = first.get("NextToken")
        while next_token:
            page = get(JobId=job["JobId"], MaxResults=RESULTS_PER_CALL, NextToken=next_token)
            combined[items] = [*combined.get(items, []), *page.get(items, [])]
            next_token = page.get("NextToken")
        return combined

    def _wait(self, get: Callable[..., dict[str, Any]], job_id: str) -> dict[str, Any]:
        """The job's first result page once it has ended, polling with doubling delays."""
        deadline = self._clock.now().timestamp() + self._poll.timeout_s
        delay = self._poll.first_delay_s
        while True:
            response = get(JobId=job_id, MaxResults=RESULTS_PER_CALL)
            status = response.get("JobStatus")
            if status in ("SUCCEEDED", "PARTIAL_SUCCESS"):
                return response
            if status == "FAILED":
                raise ExtractorError(
                    f"Textract job {job_id} failed: {response.get('StatusMessage', 'no reason')}"
                )
            if self._clock.now().timestamp() + delay > deadline:
                raise ExtractorError(
                    f"Textract job {job_id} still {status} after {self._poll.timeout_s:.0f} s"
                )
            self._sleep(delay)
            delay = min(delay * 2, self._poll.max_delay_s)


def content_from_response(response: dict[str, Any]) -> ExtractedContent:
    """An AnalyzeDocument / AnalyzeExpense response (or their asynchronous Get* results, pages
    combined) as key-value pairs and tables, through textractor's response parser."""
    parser = require("textractor.parsers.response_parser")
    pages = int((response.get("DocumentMetadata") or {}).get("Pages") or 1)
    document = parser.parse(response)
    if "ExpenseDocuments" in response:
        return _expense_content(document, pages)
    pairs = tuple(
        KeyValue(
            " ".join(word.text for word in pair.key).strip(),
            (pair.value.get_text() if pair.value else "").strip(),
            float(pair.confidence),
            int(pair.page),
        )
        for pair in document.key_values
    )
    tables = tuple(_table_rows(table) for table in document.tables)
    return ExtractedContent(extractor=NAME, page_count=pages, key_values=pairs, tables=tables)


def _table_rows(table: Any) -> tuple[tuple[str, ...], ...]:
    cells: dict[tuple[int, int], str] = {
        (cell.row_index, cell.col_index): cell.text.strip() for cell in table.table_cells
    }
    rows = max((row for row, _ in cells), default=0)
    columns = max((column for _, column in cells), default=0)
    return tuple(
        tuple(cells.get((row, column), "") for column in range(1, columns + 1)) for row in range(1, rows + 1)
    )


def _expense_content(document: Any, pages: int) -> ExtractedContent:
    """Summary fields become pairs keyed by their normalized type (TOTAL, VENDOR_NAME, ...);
    each line-item group becomes a table whose header row is the item columns' types."""
    pairs: list[KeyValue] = []
    tables: list[tuple[tuple[str, ...], ...]] = []
    for expense in document.expense_documents:
        for field in expense.summary_fields_list:
            if field.value is None:
                continue
            pairs.append(
                KeyValue(
                    field.type.text,
                    field.value.text.strip(),
                    float(field.value.confidence) / 100,  # expense confidences are percentages
                    int(field.page or 1),
                )
            )
        for group in expense.line_items_groups:
            rows = [
                {
                    item.type.text: item.value.text.strip()
                    for item in row.expenses
                    if item.type.text != EXPENSE_ROW
                }
                for row in group.rows
            ]
            header = tuple(dict.fromkeys(name for row in rows for name in row))
            tables.append((header, *(tuple(row.get(name, "") for name in header) for row in rows)))
    return ExtractedContent(extractor=NAME, page_count=pages, key_values=tuple(pairs), tables=tuple(tables))
