"""Contract and invoice PDFs with known values, so tests can compare what was extracted with the truth.

Each document is a pure function of its truth (and the truth of the seed), rendered with fpdf2
into a real PDF with a text layer: a contract runs over two pages (so Textract's asynchronous API
is the one that can read it), an invoice fits on one. The creation date is fixed, so the same
truth always gives the same bytes (and the same size and digest in the lake).

fpdf2 is in the `documents` extra: imported when a PDF is rendered, never when the sandbox loads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from zoho_pipelines.documents.extra import require

FIXED_CREATION = datetime(2026, 1, 1, tzinfo=UTC)
CURRENCY = "USD"


@dataclass(frozen=True)
class ContractTruth:
    """The values printed on a generated contract."""

    contract_number: str
    customer_name: str
    start_date: date
    end_date: date
    value: Decimal


@dataclass(frozen=True)
class InvoiceTruth:
    """The values printed on a generated invoice."""

    number: str
    invoice_date: date
    vendor: str
    customer_name: str
    lines: tuple[tuple[str, int, Decimal], ...]  # (description, quantity, unit price)

    @property
    def total(self) -> Decimal:
        return sum((quantity * price for _, quantity, price in self.lines), Decimal("0.00"))


def _money(amount: Decimal) -> str:
    return f"{CURRENCY} {amount:,.2f}"


def _long_date(day: date) -> str:
    return f"{day:%B} {day.day}, {day.year}"


def _new_pdf(title: str):  # -> fpdf.FPDF, typed loosely so the module imports without fpdf2
    pdf = require("fpdf").FPDF(format="A4")
    pdf.set_creation_date(FIXED_CREATION)
    pdf.set_title(title)
    pdf.set_author("Zoho sandbox")
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 18)
    pdf.cell(0, 12, title, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    return pdf


def _field(pdf, label: str, value: str) -> None:
    """One `Label: value` line: the form a key-value reader (Textract FORMS, the text layer) finds."""
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(55, 8, f"{label}:")
    pdf.set_font("Helvetica", "", 11)
    pdf.cell(0, 8, value, new_x="LMARGIN", new_y="NEXT")


TERMS = (
    "1. Services. The Provider delivers the subscription and onboarding services described in the order.",
    "2. Fees. The Customer pays the contract value in the currency stated, invoiced annually in advance.",
    "3. Term. This agreement runs from the start date to the contract end date unless renewed in writing.",
    "4. Confidentiality. Each party keeps the other's confidential information private.",
    "5. Governing law. This agreement is governed by the laws of the Provider's place of incorporation.",
)


def contract_pdf(truth: ContractTruth) -> bytes:
    pdf = _new_pdf("Service Agreement")
    _field(pdf, "Contract Number", truth.contract_number)
    _field(pdf, "Customer Name", truth.customer_name)
    _field(pdf, "Contract Start Date", _long_date(truth.start_date))
    _field(pdf, "Contract End Date", _long_date(truth.end_date))
    _field(pdf, "Contract Value", _money(truth.value))
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 13)
    pdf.cell(0, 10, "Terms and Conditions", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    for clause in TERMS:
        pdf.multi_cell(0, 6, clause, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
    return bytes(pdf.output())


def invoice_pdf(truth: InvoiceTruth) -> bytes:
    pdf = _new_pdf("Invoice")
    _field(pdf, "Invoice Number", truth.number)
    _field(pdf, "Invoice Date", _long_date(truth.invoice_date))
    _field(pdf, "Vendor", truth.vendor)
    _field(pdf, "Bill To", truth.customer_name)
    pdf.ln(4)
    pdf.set_font("Helvetica", "", 10)
    with pdf.table(col_widths=(90, 25, 35, 35), text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT")) as table:
        table.row(("Description", "Quantity", "Unit price", "Amount"))
        for description, quantity, price in truth.lines:
            table.row((description, str(quantity), f"{price:,.2f}", f"{quantity * price:,.2f}"))
    pdf.ln(4)
    _field(pdf, "Total", _money(truth.total))
    return bytes(pdf.output())
