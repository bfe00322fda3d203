"""Deterministic Zoho Books v3 data: customers linked to CRM accounts, vendors, items, invoices,
bills and customer payments, rendered lazily by index; plus the contacts, invoices and recurring
invoices clients create through the API.

Generated data is a pure function of (seed, anchor, history, time zone, sizes, CRM ids): two
sandboxes with the same inputs serve byte-identical pages. Created records are stored whole and
take the next index of their entity's timeline, so every listing, filter and look-up sees them
exactly like generated ones; their ids follow from the seed and the creation order. Amounts are
computed in integer cents and rendered as two-decimal JSON numbers, so totals always add up exactly.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from zoho_pipelines.sandbox.lazy_records import (
    Timeline,
    epoch_ms,
    from_epoch_ms,
    later_times,
    record_rng,
    sequential_ids,
    spread_times,
)

BOOKS_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%z"

ENTITIES = ("contacts", "items", "invoices", "bills", "customerpayments", "recurringinvoices")
SINGULAR = {
    "contacts": "contact",
    "items": "item",
    "invoices": "invoice",
    "bills": "bill",
    "customerpayments": "payment",
    "recurringinvoices": "recurring_invoice",
}
ID_FIELDS = {
    "contacts": "contact_id",
    "items": "item_id",
    "invoices": "invoice_id",
    "bills": "bill_id",
    "customerpayments": "payment_id",
    "recurringinvoices": "recurrence_id",
}
REPORT_NAMES = {
    "contacts": "Contacts",
    "items": "Items",
    "invoices": "Invoices",
    "bills": "Bills",
    "customerpayments": "Customer Payments",
    "recurringinvoices": "Recurring Invoices",
}
# Where ids of an entity start when it has no record yet (recurring profiles are never generated).
FIRST_IDS = {
    "contacts": 460_000_000_010_000,
    "invoices": 460_000_000_100_000,
    "recurringinvoices": 460_000_000_400_000,
}
# The list filters each entity understands (Books ignores the ones it does not know, and so do we).
# zcrm_account_id is one List Contacts documents: https://www.zoho.com/books/api/v3/contacts/#list-contacts
LIST_FILTERS = {
    "contacts": ("contact_name", "contact_name_contains", "zcrm_account_id"),
    "invoices": ("reference_number", "customer_id"),
    "recurringinvoices": ("recurrence_name", "customer_id"),
}
RECURRENCE_FREQUENCIES = ("days", "weeks", "months", "years")
# The organization's contact custom fields (Settings > Preferences > Customers and Vendors >
# Custom Fields): api name -> (id, label, whether "Prevent Duplicate Values" is on).
CONTACT_CUSTOM_FIELDS = {
    "cf_crm_account_id": ("460000000098001", "CRM Account ID", True),
    "cf_segment": ("460000000098003", "Segment", False),
}

BASE_CURRENCY = "USD"
# (currency_id, exchange rate to the base currency, share of customers billed in it)
CURRENCIES = {
    "USD": ("460000000000097", "1.000000", 0.55),
    "EUR": ("460000000000099", "1.080000", 0.2),
    "GBP": ("460000000000101", "1.270000", 0.1),
    "INR": ("460000000000103", "0.012000", 0.15),
}
PAYMENT_TERMS = ((0, "Due on Receipt"), (15, "Net 15"), (30, "Net 30"), (45, "Net 45"))
PAYMENT_MODES = ("banktransfer", "creditcard", "check", "cash")
TAX_PERCENTAGES = (0, 5, 12, 18)

# Invoice and bill life cycle, drawn vectorised up front because payments derive from it.
DRAFT, OPEN, PARTIALLY_PAID, PAID, VOID = range(5)
_STATUS_WEIGHTS = (0.05, 0.3, 0.1, 0.5, 0.05)

_COMPANY_WORDS = (
    "Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Wonka", "Hooli", "Vandelay", "Tyrell",
    "Cyberdyne", "Soylent", "Aperture", "Massive", "Dynamic", "Pied", "Oscorp", "Gringotts", "Nakatomi",
)  # fmt: skip
_COMPANY_SUFFIXES = ("Inc", "LLC", "Ltd", "GmbH", "Pvt Ltd", "Corp", "Group", "Partners")
_FIRST_NAMES = ("Asha", "Ben", "Chen", "Dana", "Emeka", "Farah", "Gil", "Hana", "Ivan", "Jaya", "Kofi")
_LAST_NAMES = ("Rao", "Smith", "Wong", "Okafor", "Garcia", "Müller", "Khan", "Silva", "Novak", "Ito")
_PRODUCTS = (
    ("Consulting hour", "service", "hrs", 9_000),
    ("Implementation package", "service", "pcs", 250_000),
    ("Support plan (monthly)", "service", "pcs", 49_900),
    ("Training day", "service", "days", 120_000),
    ("Laptop", "goods", "pcs", 145_000),
    ("Monitor", "goods", "pcs", 32_900),
    ("Licence seat", "goods", "pcs", 12_000),
    ("Router", "goods", "pcs", 18_950),
)
_EXPENSE_ACCOUNTS = ("Office Supplies", "IT and Internet Expenses", "Rent Expense", "Travel Expense")


@dataclass(frozen=True)
class BooksSizes:
    """How many of each entity one organization holds (customers come from the CRM accounts)."""

    vendors: int
    items: int
    invoices: int
    bills: int

    @classmethod
    def for_records(cls, records_per_module: int) -> BooksSizes:
        """Sizes proportional to the CRM's, so one knob scales the whole sandbox."""
        n = records_per_module
        return cls(vendors=max(3, n // 20), items=max(8, n // 50), invoices=n, bills=n // 2)

    @classmethod
    def none(cls) -> BooksSizes:
        return cls(vendors=0, items=0, invoices=0, bills=0)


def money(cents: int) -> float:
    """Cents as the two-decimal number Books prints (the shortest float repr is exact here)."""
    return round(cents / 100, 2)


def to_cents(amount: Decimal) -> int:
    """An amount (a validated JSON number) in whole cents, rounded half up like Books."""
    return int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def reference_number(index: int) -> str:
    """The customer's purchase-order reference of the index-th generated invoice."""
    return f"PO-{(index * 7919) % 100_000:05d}"


def books_time(moment_ms: int, zone: ZoneInfo) -> str:
    """Books' own timestamp shape, e.g. 2026-11-27T10:15:00+0530, in the organization's zone."""
    return from_epoch_ms(moment_ms).astimezone(zone).strftime(BOOKS_TIME_FORMAT)


def _books_date(moment_ms: int, zone: ZoneInfo) -> datetime:
    return from_epoch_ms(moment_ms).astimezone(zone)


@dataclass(frozen=True)
class LineItem:
    """One validated line of a created invoice or recurring profile."""

    name: str
    description: str
    rate_cents: int
    quantity: Decimal
    item_id: str = ""


@dataclass(frozen=True)
class _Party:
    """What other entities repeat about a contact (name, currency, terms)."""

    name: str
    currency: str
    terms_days: int
    terms_label: str
    first_name: str
    last_name: str
    email: str


class BooksDataset:
    """One organization's Books data: numpy columns up front, dicts only when rendered."""

    def __init__(
        self,
        *,
        seed: int,
        anchor: datetime,
        history_days: int,
        timezone: str,
        sizes: BooksSizes,
        account_ids: np.ndarray,
        contact_ids: np.ndarray,
    ) -> None:
        self.seed = seed
        self.anchor_ms = epoch_ms(anchor)
        self.zone = ZoneInfo(timezone)
        self.account_ids = np.asarray(account_ids, dtype=np.int64)
        self.crm_contact_ids = np.asarray(contact_ids, dtype=np.int64)
        rng = np.random.default_rng([seed, 0xB00C5])
        start_ms = self.anchor_ms - history_days * 86_400_000
        self.timelines: dict[str, Timeline] = {}
        self._build_contacts(rng, sizes, start_ms)
        self._build_items(rng, sizes, start_ms)
        self._build_invoices_and_payments(rng, sizes, start_ms)
        self._build_bills(rng, sizes, start_ms)
        self.timelines["recurringinvoices"] = Timeline.empty()
        # Records created through the API, by entity and index (every index past the generated ones).
        self.generated = {entity: len(timeline) for entity, timeline in self.timelines.items()}
        self._stored: dict[str, dict[int, dict[str, Any]]] = {entity: {} for entity in ENTITIES}
        self._contact_names: list[str] | None = None
        self._write_lock = threading.Lock()

    # ---- vectorised construction ------------------------------------------------------------

    def _timeline(self, rng: np.random.Generator, count: int, start_ms: int, base: int) -> Timeline:
        created = spread_times(rng, count, start_ms, self.anchor_ms)
        return Timeline(sequential_ids(rng, count, base), created, later_times(rng, created, self.anchor_ms))

    def _build_contacts(self, rng: np.random.Generator, sizes: BooksSizes, start_ms: int) -> None:
        customers = len(self.account_ids)
        total = customers + sizes.vendors
        self.timelines["contacts"] = self._timeline(rng, total, start_ms, 460_000_000_010_000)
        self.is_vendor = np.zeros(total, dtype=bool)
        self.is_vendor[rng.choice(total, size=sizes.vendors, replace=False)] = True
        self.customer_positions = np.flatnonzero(~self.is_vendor)
        self.vendor_positions = np.flatnonzero(self.is_vendor)
        # Each CRM account is exactly one Books customer, as the Books-CRM sync makes it.
        self.account_of_customer = rng.permutation(customers)
        self.customer_rank = np.full(total, -1, dtype=np.int64)
        self.customer_rank[self.customer_positions] = np.arange(customers)

    def _build_items(self, rng: np.random.Generator, sizes: BooksSizes, start_ms: int) -> None:
        # Items exist before most transactions: they are created in the first tenth of history.
        early_end = start_ms + max(1_000, (self.anchor_ms - start_ms) // 10)
        created = spread_times(rng, sizes.items, start_ms, early_end)
        ids = sequential_ids(rng, sizes.items, 460_000_000_020_000)
        self.timelines["items"] = Timeline(ids, created, later_times(rng, created, self.anchor_ms))

    def _pick_parties(
        self, rng: np.random.Generator, positions: np.ndarray, when_ms: np.ndarray
    ) -> np.ndarray:
        """For each transaction, a contact (from `positions`) created no later than it, when any."""
        if positions.size == 0:
            return np.zeros(when_ms.shape[0], dtype=np.int64)
        created = self.timelines["contacts"].created_ms[positions]
        available = np.searchsorted(created, when_ms, side="right")
        available = np.where(available > 0, available, positions.size)
        return positions[(rng.random(when_ms.shape[0]) * available).astype(np.int64)]

    def _build_invoices_and_payments(
        self, rng: np.random.Generator, sizes: BooksSizes, start_ms: int
    ) -> None:
        count = sizes.invoices if self.customer_positions.size else 0
        invoices = self._timeline(rng, count, start_ms, 460_000_000_100_000)
        self.invoice_status = rng.choice(len(_STATUS_WEIGHTS), size=count, p=_STATUS_WEIGHTS).astype(np.int8)
        self.invoice_customer = self._pick_parties(rng, self.customer_positions, invoices.created_ms)
        paid = np.flatnonzero(np.isin(self.invoice_status, (PAID, PARTIALLY_PAID)))
        paid_at = later_times(rng, invoices.created_ms[paid], self.anchor_ms)
        # Recording a payment edits the invoice (its status and balance change).
        invoices.modified_ms[paid] = np.maximum(invoices.modified_ms[paid], paid_at)
        self.timelines["invoices"] = Timeline(invoices.ids, invoices.created_ms, invoices.modified_ms)
        order = np.argsort(paid_at, kind="stable")
        self.payment_invoice = paid[order]
        created = paid_at[order]
        ids = sequential_ids(rng, created.shape[0], 460_000_000_300_000)
        modified = later_times(rng, created, self.anchor_ms)
        self.timelines["customerpayments"] = Timeline(ids, created, modified)

    def _build_bills(self, rng: np.random.Generator, sizes: BooksSizes, start_ms: int) -> None:
        count = sizes.bills if self.vendor_positions.size else 0
        self.timelines["bills"] = self._timeline(rng, count, start_ms, 460_000_000_200_000)
        self.bill_status = rng.choice(len(_STATUS_WEIGHTS), size=count, p=_STATUS_WEIGHTS).astype(np.int8)
        self.bill_vendor = self._pick_parties(rng, self.vendor_positions, self.timelines["bills"].created_ms)

    # ---- rendering --------------------------------------------------------------------------

    def render(self, entity: str, index: int) -> dict:
        """The full record (what GET /{entity}/{id} returns)."""
        stored = self._stored[entity].get(index)
        if stored is not None:
            return dict(stored)  # a copy: list rows drop keys from what this returns
        return getattr(self, f"_render_{entity}")(index)

    def list_row(self, entity: str, index: int) -> dict:
        """The record as a list endpoint shows it: Books leaves line items and nested lists out."""
        record = self.render(entity, index)
        for key in ("line_items", "invoices", "contact_persons"):
            record.pop(key, None)
        return record

    def _times(self, entity: str, index: int) -> dict:
        timeline = self.timelines[entity]
        created, modified = int(timeline.created_ms[index]), int(timeline.modified_ms[index])
        return {
            "created_time": books_time(created, self.zone),
            "last_modified_time": books_time(modified, self.zone),
        }

    def _party(self, position: int) -> _Party:
        rng = record_rng(self.seed, "books-contact", position)
        first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
        company = f"{rng.choice(_COMPANY_WORDS)} {rng.choice(_COMPANY_WORDS)} {rng.choice(_COMPANY_SUFFIXES)}"
        currencies = list(CURRENCIES)
        currency = rng.choices(currencies, weights=[CURRENCIES[c][2] for c in currencies])[0]
        terms_days, terms_label = rng.choice(PAYMENT_TERMS)
        domain = company.split()[0].lower()
        return _Party(
            company, currency, terms_days, terms_label, first, last, f"{first.lower()}@{domain}.example"
        )

    def _render_contacts(self, index: int) -> dict:
        party = self._party(index)
        vendor = bool(self.is_vendor[index])
        contact_id = str(int(self.timelines["contacts"].ids[index]))
        rng = record_rng(self.seed, "books-contact-detail", index)
        zcrm_account_id = zcrm_contact_id = ""
        if not vendor:
            account_index = int(self.account_of_customer[int(self.customer_rank[index])])
            zcrm_account_id = str(int(self.account_ids[account_index]))
            if self.crm_contact_ids.size:
                zcrm_contact_id = str(int(self.crm_contact_ids[rng.randrange(self.crm_contact_ids.size)]))
        currency_id = CURRENCIES[party.currency][0]
        return {
            "contact_id": contact_id,
            "contact_name": party.name,
            "customer_name": "" if vendor else party.name,
            "vendor_name": party.name if vendor else "",
            "company_name": party.name,
            "contact_type": "vendor" if vendor else "customer",
            "customer_sub_type": "business",
            "status": "inactive" if rng.random() < 0.05 else "active",
            "source": "user" if vendor else "zcrm",
            "is_linked_with_zohocrm": not vendor,
            "zcrm_account_id": zcrm_account_id,
            "zcrm_contact_id": zcrm_contact_id,
            "first_name": party.first_name,
            "last_name": party.last_name,
            "email": party.email,
            "phone": f"+1-555-{rng.randrange(1000, 9999)}",
            "currency_id": currency_id,
            "currency_code": party.currency,
            "payment_terms": party.terms_days,
            "payment_terms_label": party.terms_label,
            "contact_persons": [
                {
                    "contact_person_id": str(int(contact_id) + 1),
                    "first_name": party.first_name,
                    "last_name": party.last_name,
                    "email": party.email,
                    "is_primary_contact": True,
                    "zcrm_contact_id": zcrm_contact_id,
                }
            ],
            **self._times("contacts", index),
        }

    def _product(self, index: int) -> tuple[str, str, str, int]:
        name, kind, unit, base_cents = _PRODUCTS[index % len(_PRODUCTS)]
        rng = record_rng(self.seed, "books-item", index)
        return f"{name} {index // len(_PRODUCTS) + 1}", kind, unit, base_cents + rng.randrange(0, 5_000)

    def _render_items(self, index: int) -> dict:
        name, kind, unit, rate_cents = self._product(index)
        return {
            "item_id": str(int(self.timelines["items"].ids[index])),
            "name": name,
            "sku": f"SKU-{index + 1:05d}",
            "status": "active",
            "description": f"{name} ({kind})",
            "rate": money(rate_cents),
            "purchase_rate": money(rate_cents * 6 // 10),
            "unit": unit,
            "product_type": kind,
            "item_type": "sales_and_purchases",
            "is_taxable": True,
            **self._times("items", index),
        }

    def _line_items(self, rng: random.Random, *, purchase: bool) -> tuple[list[dict], int, int]:
        """Line items of one transaction and their (sub_total, tax_total) in cents."""
        item_count = len(self.timelines["items"])
        lines, sub_total, tax_total = [], 0, 0
        for line in range(rng.randint(1, 4)):
            item_index = rng.randrange(item_count) if item_count else 0
            name, _, unit, rate_cents = self._product(item_index)
            if purchase:
                rate_cents = rate_cents * 6 // 10
            quantity = rng.randint(1, 10)
            tax_percentage = rng.choice(TAX_PERCENTAGES)
            item_total = quantity * rate_cents
            sub_total += item_total
            tax_total += item_total * tax_percentage // 100
            row = {
                "line_item_id": str(rng.randrange(10**14, 10**15)),
                "item_id": str(int(self.timelines["items"].ids[item_index])) if item_count else "",
                "name": name,
                "item_order": line + 1,
                "quantity": quantity,
                "unit": unit,
                "rate": money(rate_cents),
                "tax_percentage": tax_percentage,
                "item_total": money(item_total),
            }
            if purchase:
                row["account_name"] = rng.choice(_EXPENSE_ACCOUNTS)
            lines.append(row)
        return lines, sub_total, tax_total

    def _invoice_money(self, index: int) -> tuple[list[dict], int, int, int]:
        """(line items, sub total, tax, amount paid) in cents; shared by invoice and payment renders."""
        rng = record_rng(self.seed, "books-invoice", index)
        lines, sub_total, tax_total = self._line_items(rng, purchase=False)
        total = sub_total + tax_total
        status = int(self.invoice_status[index])
        paid = {PAID: total, PARTIALLY_PAID: total * rng.randint(10, 90) // 100}.get(status, 0)
        return lines, sub_total, tax_total, paid

    def _document_status(self, code: int, due: datetime) -> str:
        if code == OPEN:
            return "overdue" if due < _books_date(self.anchor_ms, self.zone) else "sent"
        return {DRAFT: "draft", PARTIALLY_PAID: "partially_paid", PAID: "paid", VOID: "void"}[code]

    def _render_invoices(self, index: int) -> dict:
        customer = int(self.invoice_customer[index])
        party = self._party(customer)
        lines, sub_total, tax_total, paid = self._invoice_money(index)
        total = sub_total + tax_total
        code = int(self.invoice_status[index])
        issued = _books_date(int(self.timelines["invoices"].created_ms[index]), self.zone)
        due = issued + timedelta(days=party.terms_days)
        return {
            "invoice_id": str(int(self.timelines["invoices"].ids[index])),
            "invoice_number": f"INV-{index + 1:06d}",
            "reference_number": reference_number(index),
            "customer_id": str(int(self.timelines["contacts"].ids[customer])),
            "customer_name": party.name,
            "status": self._document_status(code, due),
            "date": issued.date().isoformat(),
            "due_date": due.date().isoformat(),
            "payment_terms": party.terms_days,
            "payment_terms_label": party.terms_label,
            "currency_id": CURRENCIES[party.currency][0],
            "currency_code": party.currency,
            "exchange_rate": float(CURRENCIES[party.currency][1]),
            "sub_total": money(sub_total),
            "tax_total": money(tax_total),
            "total": money(total),
            "payment_made": money(paid),
            "balance": money(0 if code == VOID else total - paid),
            "line_items": lines,
            **self._times("invoices", index),
        }

    def _render_bills(self, index: int) -> dict:
        vendor = int(self.bill_vendor[index])
        party = self._party(vendor)
        rng = record_rng(self.seed, "books-bill", index)
        lines, sub_total, tax_total = self._line_items(rng, purchase=True)
        total = sub_total + tax_total
        code = int(self.bill_status[index])
        paid = {PAID: total, PARTIALLY_PAID: total * rng.randint(10, 90) // 100}.get(code, 0)
        issued = _books_date(int(self.timelines["bills"].created_ms[index]), self.zone)
        due = issued + timedelta(days=party.terms_days)
        status = self._document_status(code, due)
        return {
            "bill_id": str(int(self.timelines["bills"].ids[index])),
            "bill_number": f"BILL-{index + 1:06d}",
            "vendor_id": str(int(self.timelines["contacts"].ids[vendor])),
            "vendor_name": party.name,
            "status": "open" if status == "sent" else status,
            "date": issued.date().isoformat(),
            "due_date": due.date().isoformat(),
            "currency_id": CURRENCIES[party.currency][0],
            "currency_code": party.currency,
            "exchange_rate": float(CURRENCIES[party.currency][1]),
            "sub_total": money(sub_total),
            "tax_total": money(tax_total),
            "total": money(total),
            "balance": money(0 if code == VOID else total - paid),
            "line_items": lines,
            **self._times("bills", index),
        }

    def _render_customerpayments(self, index: int) -> dict:
        invoice_index = int(self.payment_invoice[index])
        customer = int(self.invoice_customer[invoice_index])
        party = self._party(customer)
        _, sub_total, tax_total, paid = self._invoice_money(invoice_index)
        rng = record_rng(self.seed, "books-payment", index)
        paid_on = _books_date(int(self.timelines["customerpayments"].created_ms[index]), self.zone)
        invoice_ms = int(self.timelines["invoices"].created_ms[invoice_index])
        invoice_number = f"INV-{invoice_index + 1:06d}"
        return {
            "payment_id": str(int(self.timelines["customerpayments"].ids[index])),
            "payment_number": str(index + 1),
            "customer_id": str(int(self.timelines["contacts"].ids[customer])),
            "customer_name": party.name,
            "payment_mode": rng.choice(PAYMENT_MODES),
            "date": paid_on.date().isoformat(),
            "reference_number": f"TXN-{rng.randrange(10**8, 10**9)}",
            "currency_id": CURRENCIES[party.currency][0],
            "currency_code": party.currency,
            "exchange_rate": float(CURRENCIES[party.currency][1]),
            "amount": money(paid),
            "unused_amount": 0.0,
            "invoice_numbers": invoice_number,
            "invoices": [
                {
                    "invoice_id": str(int(self.timelines["invoices"].ids[invoice_index])),
                    "invoice_number": invoice_number,
                    "date": _books_date(invoice_ms, self.zone).date().isoformat(),
                    "invoice_amount": money(sub_total + tax_total),
                    "amount_applied": money(paid),
                    "balance_amount": money(sub_total + tax_total - paid),
                }
            ],
            **self._times("customerpayments", index),
        }

    # ---- list filters -------------------------------------------------------------------------

    def filter(self, entity: str, order: np.ndarray, filters: Mapping[str, str]) -> np.ndarray:
        """The indices of `order` whose records match every filter (exact match, case-insensitive,
        as Books compares; `_contains` for a substring), order kept."""
        for name, wanted in filters.items():
            field = name.removesuffix("_contains")
            values = self._column(entity, field, order)
            needle = wanted.casefold()
            if name.endswith("_contains"):
                mask = [needle in value.casefold() for value in values]
            else:
                mask = [value.casefold() == needle for value in values]
            order = order[np.asarray(mask, dtype=bool)]
        return order

    def _column(self, entity: str, field: str, indices: np.ndarray) -> list[str]:
        """One field of many records, without rendering the generated ones whole."""
        generated = self.generated[entity]
        values = []
        for index in indices.tolist():
            if index >= generated:
                values.append(str(self._stored[entity][index].get(field) or ""))
            else:
                values.append(self._generated_value(entity, field, index))
        return values

    def _generated_value(self, entity: str, field: str, index: int) -> str:
        if entity == "contacts" and field == "contact_name":
            return self._generated_contact_names()[index]
        if entity == "contacts" and field == "contact_type":
            return "vendor" if self.is_vendor[index] else "customer"
        if entity == "contacts" and field == "zcrm_account_id":
            if self.is_vendor[index]:
                return ""
            return str(int(self.account_ids[int(self.account_of_customer[int(self.customer_rank[index])])]))
        if entity == "invoices" and field == "reference_number":
            return reference_number(index)
        if entity == "invoices" and field == "customer_id":
            return str(int(self.timelines["contacts"].ids[int(self.invoice_customer[index])]))
        raise KeyError(f"{entity} cannot be filtered on {field}")

    def _generated_contact_names(self) -> list[str]:
        if self._contact_names is None:
            self._contact_names = [self._party(i).name for i in range(self.generated["contacts"])]
        return self._contact_names

    # ---- records created through the API ----------------------------------------------------

    def contact(self, contact_id: str) -> dict | None:
        """The contact with this id, or None."""
        index = self.timelines["contacts"].index_of(int(contact_id)) if contact_id.isdigit() else None
        return None if index is None else self.render("contacts", index)

    def name_taken(self, entity: str, field: str, name: str, *, exclude: int | None = None) -> bool:
        """Whether a record of `entity` (other than index `exclude`) already holds `name` in
        `field` (compared as Books does)."""
        everything = np.arange(len(self.timelines[entity]))
        return any(index != exclude for index in self.filter(entity, everything, {field: name}).tolist())

    def contact_with(self, api_name: str, value: str) -> int | None:
        """The index of the contact whose custom field `api_name` holds `value` (only created
        contacts carry custom field values), or None."""
        with self._write_lock:
            for index, record in self._stored["contacts"].items():
                if str(record.get(api_name) or "") == value:
                    return index
        return None

    def create_contact(self, fields: Mapping[str, Any], now_ms: int) -> dict:
        """Store a new contact; `fields` are validated request values (contact_name at least).

        Not linked to CRM: Books links a contact to a CRM account through its Zoho CRM
        integration, and Create a Contact documents no field that does it.
        """
        return self._store("contacts", now_ms, lambda record_id, index: self._contact_record(fields))

    def update_contact(self, index: int, fields: Mapping[str, Any], now_ms: int) -> dict:
        """Apply validated request values to a created contact; its last_modified_time moves
        only when a value changed, as an edit that saves nothing changes nothing."""
        with self._write_lock:
            stored = self._stored["contacts"][index]
            updated = {**stored, **self._contact_record(fields, keep=stored)}
            if updated != stored:
                timeline = self.timelines["contacts"]
                timeline.modified_ms[index] = max(int(timeline.modified_ms[index]), now_ms // 1000 * 1000)
                timeline._reindex()  # the modified-time order changed
                updated.update(self._times("contacts", index))
                self._stored["contacts"][index] = updated
            return dict(updated)

    def _contact_record(self, fields: Mapping[str, Any], *, keep: Mapping[str, Any] | None = None) -> dict:
        """A contact's stored fields from request values; on an update (`keep`), the custom
        fields the request leaves out keep their values."""
        name = fields["contact_name"]
        customer = fields.get("contact_type", "customer") == "customer"
        currency = fields.get("currency_code") or BASE_CURRENCY
        terms_days = int(fields.get("payment_terms", 0))
        custom = {api_name: str((keep or {}).get(api_name) or "") for api_name in CONTACT_CUSTOM_FIELDS}
        custom.update(fields.get("custom_fields") or {})
        return {
            "contact_name": name,
            "customer_name": name if customer else "",
            "vendor_name": "" if customer else name,
            "company_name": fields.get("company_name") or name,
            "contact_type": "customer" if customer else "vendor",
            "customer_sub_type": fields.get("customer_sub_type", "business"),
            "status": "active",
            "source": "api",
            "is_linked_with_zohocrm": False,
            "zcrm_account_id": "",
            "zcrm_contact_id": "",
            "first_name": fields.get("first_name", ""),
            "last_name": fields.get("last_name", ""),
            "email": fields.get("email", ""),
            "phone": fields.get("phone", ""),
            "currency_id": CURRENCIES[currency][0],
            "currency_code": currency,
            "payment_terms": terms_days,
            "payment_terms_label": _terms_label(terms_days),
            "notes": fields.get("notes", ""),
            "contact_persons": [],
            "custom_fields": [
                {"customfield_id": field_id, "api_name": api_name, "label": label, "value": custom[api_name]}
                for api_name, (field_id, label, _) in CONTACT_CUSTOM_FIELDS.items()
                if custom[api_name]
            ],
            **{api_name: value for api_name, value in custom.items() if value},
        }

    def create_invoice(
        self, fields: Mapping[str, Any], lines: Sequence[LineItem], now_ms: int, *, sent: bool
    ) -> dict:
        """Store a new invoice for an existing customer: a draft, or "sent" when asked to send it."""
        customer = fields["customer"]
        issued: date = fields.get("date") or from_epoch_ms(now_ms).astimezone(self.zone).date()
        terms_days = int(fields.get("payment_terms", customer["payment_terms"]))

        def build(record_id: int, index: int) -> dict:
            rendered, sub_total = _created_lines(record_id, lines)
            return {
                "invoice_number": f"INV-{index + 1:06d}",  # numbered on, like the generated ones
                "reference_number": fields.get("reference_number", ""),
                **_billing_party(customer),
                "status": "sent" if sent else "draft",
                "date": issued.isoformat(),
                "due_date": (issued + timedelta(days=terms_days)).isoformat(),
                "payment_terms": terms_days,
                "payment_terms_label": _terms_label(terms_days),
                "sub_total": money(sub_total),
                "tax_total": 0.0,
                "total": money(sub_total),
                "payment_made": 0.0,
                "balance": money(sub_total),
                "line_items": rendered,
            }

        return self._store("invoices", now_ms, build)

    def create_recurring_invoice(
        self, fields: Mapping[str, Any], lines: Sequence[LineItem], now_ms: int
    ) -> dict:
        """Store a new recurring invoice profile; Books raises its invoices from start_date on."""
        start: date = fields["start_date"]
        end: date | None = fields.get("end_date")

        def build(record_id: int, index: int) -> dict:
            rendered, sub_total = _created_lines(record_id, lines)
            return {
                "recurrence_name": fields["recurrence_name"],
                "reference_number": fields.get("reference_number", ""),
                **_billing_party(fields["customer"]),
                "status": "active",
                "recurrence_frequency": fields["recurrence_frequency"],
                "repeat_every": int(fields.get("repeat_every", 1)),
                "start_date": start.isoformat(),
                "end_date": end.isoformat() if end else "",
                "next_invoice_date": start.isoformat(),
                "last_sent_date": "",
                "sub_total": money(sub_total),
                "tax_total": 0.0,
                "total": money(sub_total),
                "line_items": rendered,
            }

        return self._store("recurringinvoices", now_ms, build)

    def _store(self, entity: str, now_ms: int, build: Callable[[int, int], dict]) -> dict:
        """Keep a created record under the next id and index of `entity` (whole seconds, like Books).

        `build(record_id, index)` shapes it; the lock makes id, index and number one step.
        """
        with self._write_lock:
            timeline = self.timelines[entity]
            rng = record_rng(self.seed, f"books-created-{entity}", len(timeline))
            last = int(timeline.ids[-1]) if len(timeline) else FIRST_IDS[entity]
            record_id = last + rng.randint(1, 63)
            moment = now_ms // 1000 * 1000
            index = timeline.append(record_id, moment, moment)
            stored = {
                ID_FIELDS[entity]: str(record_id),
                **build(record_id, index),
                **self._times(entity, index),
            }
            self._stored[entity][index] = stored
            return dict(stored)


def _terms_label(days: int) -> str:
    return dict(PAYMENT_TERMS).get(days, f"Net {days}")


def _billing_party(customer: Mapping[str, Any]) -> dict:
    """What a document repeats about its customer (billed in the customer's currency)."""
    currency = customer["currency_code"]
    return {
        "customer_id": customer["contact_id"],
        "customer_name": customer["contact_name"],
        "currency_id": CURRENCIES[currency][0],
        "currency_code": currency,
        "exchange_rate": float(CURRENCIES[currency][1]),
    }


def _created_lines(record_id: int, lines: Sequence[LineItem]) -> tuple[list[dict], int]:
    """A created document's line items (ids derived from the document's) and its total in cents."""
    rendered, sub_total = [], 0
    for order, line in enumerate(lines, start=1):
        item_total = to_cents(Decimal(line.rate_cents) * line.quantity / 100)
        sub_total += item_total
        rendered.append(
            {
                "line_item_id": f"{record_id}{order:03d}",
                "item_id": line.item_id,
                "name": line.name,
                "description": line.description,
                "item_order": order,
                "quantity": float(line.quantity),
                "rate": money(line.rate_cents),
                "tax_percentage": 0,
                "item_total": money(item_total),
            }
        )
    return rendered, sub_total
