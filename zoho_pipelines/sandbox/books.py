"""Zoho Books v3 endpoints of the sandbox: organizations, contacts, items, invoices, bills,
customer payments and recurring invoices, listed with page/per_page, newest first, filtered on
last_modified_time where Books documents that filter; and the writes onboarding makes: POST
/contacts, /invoices and /recurringinvoices, and PUT /contacts by a unique custom field with X-Upsert.
Each endpoint takes only the query parameters Books documents for it (`LIST_PARAMETERS`,
`WRITE_PARAMETERS`, with the pages cited there), and each write only the body fields and line item
keys its page documents (`BODY_FIELDS`, `LINE_ITEM_FIELDS`); anything else is refused, so a client
cannot come to rely on something Books never promised.

Writes take Books' JSON body (or the older form field JSONString), are validated the way Books
refuses bad input (HTTP 400 with a Books code and message; a contact name or recurrence name
already in use is refused, since Books keeps those unique, and so is a value already held by a
custom field set to prevent duplicates), answer 201 with the created record, and are kept: later
GETs, lists and filters return them. Books does not deduplicate invoices by reference number, and
neither does the sandbox: idempotency is the caller's job. A created contact is not linked to a
CRM account (`zcrm_account_id` stays empty whatever the request says): Create a Contact documents
no such field; the link is the Books-CRM integration's, which made the generated customers.

"Update a contact using a custom field's unique value"
(https://www.zoho.com/books/api/v3/contacts/#update-a-contact-using-a-custom-fields-unique-value):
PUT /contacts with X-Unique-Identifier-Key (a unique custom field's api name) and
X-Unique-Identifier-Value updates the contact holding that value (200), or with X-Upsert: true
creates it when none does (201), or answers 404.

Auth, latency, rate limits, faults and call statistics are the sandbox middleware's job; these
handlers only answer the Books protocol, including its error bodies ({"code": n, "message": ...}).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl

import numpy as np
import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from zoho_pipelines.clock import SYSTEM_CLOCK, Clock
from zoho_pipelines.sandbox.books_data import (
    BASE_CURRENCY,
    CONTACT_CUSTOM_FIELDS,
    CURRENCIES,
    ENTITIES,
    LIST_FILTERS,
    RECURRENCE_FREQUENCIES,
    REPORT_NAMES,
    SINGULAR,
    BooksDataset,
    BooksSizes,
    LineItem,
    to_cents,
)
from zoho_pipelines.sandbox.lazy_records import epoch_ms, resolve_anchor

MAX_PER_PAGE = 200
DEFAULT_PER_PAGE = 200


def _with_variants(name: str, *suffixes: str) -> set[str]:
    return {name, *(f"{name}_{suffix}" for suffix in suffixes)}


_TEXT = ("startswith", "contains")
_DATE = ("start", "end", "before", "after")
# Every Books request names its organization; every list pages with page and per_page
# (https://www.zoho.com/books/api/v3/introduction/#organization-id, .../#pagination).
COMMON_PARAMETERS = frozenset({"organization_id"})
PAGING_PARAMETERS = frozenset({"page", "per_page"})
# The query parameters each list endpoint documents, and nothing else: a parameter Books does not
# document is refused (see `UNDOCUMENTED_PARAMETER`), so a client leaning on one fails here first.
LIST_PARAMETERS: dict[str, frozenset[str]] = {
    # https://www.zoho.com/books/api/v3/contacts/#list-contacts
    "contacts": frozenset(
        {
            *_with_variants("contact_name", *_TEXT),
            *_with_variants("company_name", *_TEXT),
            *_with_variants("first_name", *_TEXT),
            *_with_variants("last_name", *_TEXT),
            *_with_variants("address", *_TEXT),
            *_with_variants("email", *_TEXT),
            *_with_variants("phone", *_TEXT),
            "filter_by",
            "search_text",
            "sort_column",
            "zcrm_contact_id",
            "zcrm_account_id",
            "zcrm_vendor_id",
        }
    ),
    # https://www.zoho.com/books/api/v3/invoices/#list-invoices
    "invoices": frozenset(
        {
            *_with_variants("invoice_number", *_TEXT),
            *_with_variants("item_name", *_TEXT),
            "item_id",
            *_with_variants("item_description", *_TEXT),
            "reference_number",
            "customer_name",
            "recurring_invoice_id",
            "email",
            "total",
            "balance",
            *_with_variants("custom_field", *_TEXT),
            *_with_variants("date", *_DATE),
            *_with_variants("due_date", *_DATE),
            "last_modified_time",
            "status",
            "customer_id",
            "filter_by",
            "search_text",
            "sort_column",
            "zcrm_potential_id",
            "response_option",
        }
    ),
    # https://www.zoho.com/books/api/v3/bills/#list-bills
    "bills": frozenset(
        {
            "bill_number",
            "date",
            "description",
            "filter_by",
            "item_id",
            "last_modified_time",
            "purchaseorder_id",
            "recurring_bill_id",
            "reference_number",
            "search_text",
            "sort_column",
            "sort_order",
            "status",
            "total",
            "vendor_id",
            "vendor_name",
        }
    ),
    # https://www.zoho.com/books/api/v3/customer-payments/#list-customer-payments
    "customerpayments": frozenset(
        {
            "amount",
            "customer_id",
            "customer_name",
            "date",
            "filter_by",
            "notes",
            "payment_mode",
            "reference_number",
            "search_text",
            "sort_column",
        }
    ),
    # https://www.zoho.com/books/api/v3/items/#list-items
    "items": frozenset(
        {
            "name",
            "description",
            "rate",
            "tax_id",
            "tax_name",
            "is_taxable",
            "tax_exemption_id",
            "account_id",
            "filter_by",
            "search_text",
            "sat_item_key_code",
            "unitkey_code",
        }
    ),
    # https://www.zoho.com/books/api/v3/recurring-invoices/#list-all-recurring-invoice (the filters the
    # sandbox models; the page itself was not at hand to list the rest)
    "recurringinvoices": frozenset({"recurrence_name", "customer_id"}),
}
# Query parameters of the writes: Create an invoice documents `send` and
# `ignore_auto_number_generation` (https://www.zoho.com/books/api/v3/invoices/#create-an-invoice).
WRITE_PARAMETERS: dict[str, frozenset[str]] = {
    "invoices": frozenset({"send", "ignore_auto_number_generation"}),
}
# Sort columns the sandbox models, each documented for its list (contacts: created_time and
# last_modified_time among others; invoices: created_time among others, not last_modified_time).
SORT_COLUMNS: dict[str, tuple[str, ...]] = {"contacts": ("created_time", "last_modified_time")}
DEFAULT_SORT_COLUMNS = ("created_time",)
# Books documents no answer to a parameter it does not know; the sandbox answers the shape Books
# gives a bad list parameter (HTTP 400, code 2, "Invalid value passed for <name>"), a choice of ours.
UNDOCUMENTED_PARAMETER = 2
# The body fields each write documents, and nothing else: one Books does not document is refused
# like an undocumented query parameter (`UNDOCUMENTED_PARAMETER`). Each list is the "Arguments" of
# the page cited beside it, as Zoho's OpenAPI document linked from that page lists them.
_TAX_FIELDS = frozenset(
    {
        "vat_treatment",
        "tax_treatment",
        "gst_no",
        "gst_treatment",
        "avatax_use_code",
        "avatax_exempt_no",
        "tax_authority_id",
        "tax_exemption_id",
        "tax_id",
    }
)
_CONTACT_FIELDS = frozenset(
    {
        *_TAX_FIELDS,
        "contact_name",
        "company_name",
        "website",
        "contact_type",
        "customer_sub_type",
        "credit_limit",
        "tags",
        "currency_id",
        "payment_terms",
        "payment_terms_label",
        "notes",
        "billing_address",
        "shipping_address",
        "contact_persons",
        "default_templates",
        "custom_fields",
        "opening_balances",
        "vat_reg_no",
        "owner_id",
        "tax_reg_no",
        "tax_exemption_certificate_number",
        "country_code",
        "tax_regime",
        "legal_name",
        "is_tds_registered",
        "place_of_contact",
        "tax_authority_name",
        "tax_exemption_code",
        "is_taxable",
        "facebook",
        "twitter",
        "track_1099",
        "tax_id_type",
        "tax_id_value",
    }
)
_DOCUMENT_FIELDS = frozenset(
    {
        *_TAX_FIELDS,
        "customer_id",
        "currency_id",
        "contact_persons_associated",
        "place_of_supply",
        "is_reverse_charge_applied",
        "cfdi_usage",
        "reference_number",
        "template_id",
        "payment_terms",
        "payment_terms_label",
        "discount",
        "is_discount_before_tax",
        "discount_type",
        "is_inclusive_tax",
        "exchange_rate",
        "location_id",
        "salesperson_name",
        "custom_fields",
        "line_items",
        "payment_options",
        "allow_partial_payments",
        "shipping_charge",
        "adjustment",
        "adjustment_description",
        "avatax_tax_code",
    }
)
BODY_FIELDS: dict[str, frozenset[str]] = {
    # https://www.zoho.com/books/api/v3/contacts/#create-a-contact
    "contacts": frozenset(
        {
            *_CONTACT_FIELDS,
            "language_code",
            "pricebook_id",
            "contact_number",
            "ignore_auto_number_generation",
            "is_portal_enabled",
            "tds_tax_id",
        }
    ),
    # https://www.zoho.com/books/api/v3/invoices/#create-an-invoice
    "invoices": frozenset(
        {
            *_DOCUMENT_FIELDS,
            "contact_persons",
            "invoice_number",
            "date",
            "due_date",
            "recurring_invoice_id",
            "invoiced_estimate_id",
            "send",
            "custom_body",
            "custom_subject",
            "notes",
            "terms",
            "reason",
            "billing_address_id",
            "shipping_address_id",
            "expense_id",
            "salesorder_item_id",
            "time_entry_ids",
            "batch_payments",
        }
    ),
    # https://www.zoho.com/books/api/v3/recurring-invoices/#create-a-recurring-invoice
    "recurringinvoices": frozenset(
        {
            *_DOCUMENT_FIELDS,
            "recurrence_name",
            "start_date",
            "end_date",
            "recurrence_frequency",
            "repeat_every",
            "email",
            "billing_address",
            "shipping_address",
        }
    ),
    # https://www.zoho.com/books/api/v3/contacts/#update-a-contact-using-a-custom-fields-unique-value
    "contacts upsert": _CONTACT_FIELDS,
}
# The keys of one entry of `line_items`, as the same pages document them.
LINE_ITEM_FIELDS: dict[str, frozenset[str]] = {
    "invoices": frozenset(
        {
            "item_id",
            "project_id",
            "time_entry_ids",
            "product_type",
            "hsn_or_sac",
            "sat_item_key_code",
            "unitkey_code",
            "location_id",
            "expense_id",
            "bill_id",
            "bill_item_id",
            "expense_receipt_name",
            "name",
            "description",
            "item_order",
            "bcy_rate",
            "rate",
            "quantity",
            "unit",
            "discount_amount",
            "discount",
            "tags",
            "tax_id",
            "tds_tax_id",
            "tax_name",
            "tax_type",
            "tax_percentage",
            "tax_treatment_code",
            "header_name",
            "salesorder_item_id",
        }
    ),
    # The page lists line_item_id, quantity, name, item_total, product_type, hsn_or_sac,
    # sat_item_key_code, unitkey_code, tags, location_id, tax_id, tds_tax_id, tax_treatment_code,
    # project_id and header_name inside line_items, and item_id, name, description, rate, quantity
    # and unit right after them, a line's keys everywhere else in Books: both sets are taken.
    "recurringinvoices": frozenset(
        {
            "line_item_id",
            "quantity",
            "name",
            "item_total",
            "product_type",
            "hsn_or_sac",
            "sat_item_key_code",
            "unitkey_code",
            "tags",
            "location_id",
            "tax_id",
            "tds_tax_id",
            "tax_treatment_code",
            "project_id",
            "header_name",
            "item_id",
            "description",
            "rate",
            "unit",
        }
    ),
}
MAX_NAME_LENGTH = 200
MAX_REFERENCE_LENGTH = 100
INVALID_VALUE = 4  # Books: "Invalid value passed for <field>"
NAME_IN_USE = 3062
RECURRENCE_NAME_IN_USE = 11012
CUSTOM_VALUE_IN_USE = 3075
NOT_FOUND = 1002


class BooksError(Exception):
    """A Books-shaped failure: HTTP status plus Books' numeric code and message."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def books_json(payload: dict[str, Any], status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json;charset=UTF-8")


@dataclass(frozen=True)
class Organization:
    """An organization's profile and its data set."""

    organization_id: str
    name: str
    is_default_org: bool
    data: BooksDataset

    def profile(self, timezone: str) -> dict[str, Any]:
        return {
            "organization_id": self.organization_id,
            "name": self.name,
            "contact_name": "Sandbox Admin",
            "email": "admin@sandbox.example",
            "is_default_org": self.is_default_org,
            "language_code": "en",
            "fiscal_year_start_month": 0,
            "account_created_date": "2020-01-01",
            "time_zone": timezone,
            "is_org_active": True,
            "currency_id": CURRENCIES[BASE_CURRENCY][0],
            "currency_code": BASE_CURRENCY,
            "currency_symbol": "$",
            "currency_format": "###,##0.00",
            "price_precision": 2,
        }


def build_organizations(
    *,
    seed: int,
    anchor: datetime,
    history_days: int,
    timezone: str,
    records_per_module: int,
    account_ids: np.ndarray,
    contact_ids: np.ndarray,
) -> list[Organization]:
    """The organizations the sandbox user belongs to.

    The first one listed is an empty, non-default organization on purpose: a client that takes
    the first organization instead of the default one reads nothing, and a test shows it.
    """
    main_id = 10_234_695 + seed * 1_000
    common = {"seed": seed, "anchor": anchor, "history_days": history_days, "timezone": timezone}
    empty = np.zeros(0, dtype=np.int64)
    return [
        Organization(
            str(main_id + 1),
            "Sandbox Holdings (empty)",
            False,
            BooksDataset(**common, sizes=BooksSizes.none(), account_ids=empty, contact_ids=empty),
        ),
        Organization(
            str(main_id),
            "Sandbox Traders",
            True,
            BooksDataset(
                **common,
                sizes=BooksSizes.for_records(records_per_module),
                account_ids=account_ids,
                contact_ids=contact_ids,
            ),
        ),
    ]


def parse_books_time(value: str, data: BooksDataset) -> int:
    """A filter time in Books' format (or any ISO 8601) as epoch ms; naive means the org's zone."""
    try:
        moment = datetime.fromisoformat(value.strip().replace(" ", "+"))
    except ValueError:
        raise BooksError(400, 2, "Invalid value passed for last_modified_time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=data.zone)
    return epoch_ms(moment)


def _refuse_undocumented(request: Request, documented: frozenset[str]) -> None:
    """Raise for the first query parameter the endpoint does not document."""
    for name in request.query_params:
        if name not in documented and name not in COMMON_PARAMETERS:
            raise BooksError(400, UNDOCUMENTED_PARAMETER, f"Invalid value passed for {name}")


def _refuse_undocumented_fields(body: Mapping[str, Any], write: str) -> None:
    """Raise for the first body field, or key of a line item, that the write does not document,
    answered the way an undocumented query parameter is."""
    lines = body.get("line_items")
    line_keys = (
        [key for line in lines if isinstance(line, dict) for key in line] if isinstance(lines, list) else []
    )
    undocumented = [name for name in body if name not in BODY_FIELDS[write]]
    undocumented += [key for key in line_keys if key not in LINE_ITEM_FIELDS.get(write, frozenset())]
    if undocumented:
        raise BooksError(400, UNDOCUMENTED_PARAMETER, f"Invalid value passed for {undocumented[0]}")


def _int_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BooksError(400, 2, f"Invalid value passed for {name}") from None
    if value < 1:
        raise BooksError(400, 2, f"Invalid value passed for {name}")
    return value


class BooksApi:
    """The handlers, bound to the organizations they serve.

    `modified_time_listing=False` makes list endpoints ignore last_modified_time and sort by
    creation, as some Books list endpoints do: clients must cope with both.
    """

    def __init__(
        self,
        organizations: list[Organization],
        timezone: str,
        *,
        clock: Clock = SYSTEM_CLOCK,
        modified_time_listing: bool = True,
    ) -> None:
        self.organizations = {org.organization_id: org for org in organizations}
        self.timezone = timezone
        self.clock = clock
        self.modified_time_listing = modified_time_listing

    def routes(self) -> list[BaseRoute]:
        return [
            Mount(
                "/books/v3",
                routes=[
                    Route("/organizations", self.list_organizations),
                    Route("/organizations/{organization_id}", self.get_organization),
                    Route("/{entity}", self.collection, methods=["GET", "POST", "PUT"]),
                    Route("/{entity}/{record_id}", self.get_record, methods=["GET"]),
                ],
            )
        ]

    async def collection(self, request: Request) -> Response:
        """GET lists an entity, POST creates one (contacts, invoices, recurring invoices), PUT
        updates (or upserts) a contact by a unique custom field."""
        if request.method == "GET":
            return await self.list_records(request)
        if request.method == "PUT":
            if request.path_params["entity"] != "contacts":
                return books_json({"code": 5, "message": "Invalid URL Passed"}, 404)
            return await self.upsert_contact(request)
        create = {
            "contacts": self.create_contact,
            "invoices": self.create_invoice,
            "recurringinvoices": self.create_recurring_invoice,
        }.get(request.path_params["entity"])
        if create is None:
            return books_json({"code": 5, "message": "Invalid URL Passed"}, 404)
        return await create(request)

    def _organization(self, request: Request) -> Organization:
        organization_id = request.query_params.get("organization_id", "").strip()
        if not organization_id:
            raise BooksError(400, 2, "Invalid value passed for organization_id")
        org = self.organizations.get(organization_id)
        if org is None:
            raise BooksError(
                400, 6041, f"This user is not associated with the CompanyID/CompanyName:{organization_id}."
            )
        return org

    @staticmethod
    def _entity(request: Request) -> str:
        entity = request.path_params["entity"]
        if entity not in ENTITIES:
            raise BooksError(404, 5, "Invalid URL Passed")
        return entity

    async def list_organizations(self, request: Request) -> Response:
        profiles = [org.profile(self.timezone) for org in self.organizations.values()]
        return books_json({"code": 0, "message": "success", "organizations": profiles})

    async def get_organization(self, request: Request) -> Response:
        org = self.organizations.get(request.path_params["organization_id"])
        if org is None:
            return books_json({"code": 1002, "message": "Organization does not exist."}, 404)
        return books_json({"code": 0, "message": "success", "organization": org.profile(self.timezone)})

    async def list_records(self, request: Request) -> Response:
        try:
            entity = self._entity(request)
            _refuse_undocumented(request, LIST_PARAMETERS[entity] | PAGING_PARAMETERS)
            org = self._organization(request)
            page = _int_param(request, "page", 1)
            per_page = min(_int_param(request, "per_page", DEFAULT_PER_PAGE), MAX_PER_PAGE)
            sort_column = request.query_params.get("sort_column") or "created_time"
            if sort_column not in SORT_COLUMNS.get(entity, DEFAULT_SORT_COLUMNS):
                raise BooksError(400, 2, "Invalid value passed for sort_column")
            sort_order = (request.query_params.get("sort_order") or "D").upper()
            if sort_order not in ("A", "D"):
                raise BooksError(400, 2, "Invalid value passed for sort_order")
            since_raw = request.query_params.get("last_modified_time")
            since_ms = parse_books_time(since_raw, org.data) if since_raw else None
            if not self.modified_time_listing:
                sort_column, sort_order, since_raw, since_ms = "created_time", "D", None, None
        except BooksError as error:
            return books_json({"code": error.code, "message": error.message}, error.status)
        order = org.data.timelines[entity].select(
            modified_since_ms=since_ms,
            sort_by_modified=sort_column == "last_modified_time",
            descending=sort_order == "D",
        )
        filters = {
            name: request.query_params[name]
            for name in LIST_FILTERS.get(entity, ())
            if request.query_params.get(name)
        }
        if filters:
            order = org.data.filter(entity, order, filters)
        start = (page - 1) * per_page
        window = order[start : start + per_page]
        page_context: dict[str, Any] = {
            "page": page,
            "per_page": per_page,
            "has_more_page": bool(order.shape[0] > start + per_page),
            "report_name": REPORT_NAMES[entity],
            "applied_filter": "Status.All",
            "sort_column": sort_column,
            "sort_order": sort_order,
        }
        if since_raw:
            page_context["search_criteria"] = [
                {"column_name": "last_modified_time", "search_text": since_raw, "comparator": "greater_equal"}
            ]
        rows = [org.data.list_row(entity, int(index)) for index in window]
        return books_json({"code": 0, "message": "success", entity: rows, "page_context": page_context})

    async def get_record(self, request: Request) -> Response:
        try:
            entity = self._entity(request)
            _refuse_undocumented(request, frozenset())
            org = self._organization(request)
        except BooksError as error:
            return books_json({"code": error.code, "message": error.message}, error.status)
        raw_id = request.path_params["record_id"]
        index = org.data.timelines[entity].index_of(int(raw_id)) if raw_id.isdigit() else None
        if index is None:
            label = SINGULAR[entity].capitalize()
            return books_json({"code": 1002, "message": f"{label} does not exist."}, 404)
        record = org.data.render(entity, index)
        return books_json({"code": 0, "message": "success", SINGULAR[entity]: record})

    # ---- writes -------------------------------------------------------------------------------

    async def create_contact(self, request: Request) -> Response:
        return await self._create(
            request,
            "contacts",
            "The contact has been added.",
            _contact_fields,
            lambda data, fields, now_ms: data.create_contact(fields, now_ms),
        )

    async def upsert_contact(self, request: Request) -> Response:
        try:
            _refuse_undocumented(request, frozenset())
            org = self._organization(request)
            api_name = (request.headers.get("x-unique-identifier-key") or "").strip()
            value = (request.headers.get("x-unique-identifier-value") or "").strip()
            if api_name not in CONTACT_CUSTOM_FIELDS or not CONTACT_CUSTOM_FIELDS[api_name][2]:
                raise _invalid("X-Unique-Identifier-Key")
            if not value:
                raise _invalid("X-Unique-Identifier-Value")
            body = await _request_body(request)
            _refuse_undocumented_fields(body, "contacts upsert")
            index = org.data.contact_with(api_name, value)
            if index is None and (request.headers.get("x-upsert") or "").lower() != "true":
                raise BooksError(404, NOT_FOUND, "Contact does not exist.")
            label = CONTACT_CUSTOM_FIELDS[api_name][1]
            custom = [*(body.get("custom_fields") or []), {"label": label, "value": value}]
            fields = _contact_fields(org.data, {**body, "custom_fields": custom}, exclude=index)
        except BooksError as error:
            return books_json({"code": error.code, "message": error.message}, error.status)
        now_ms = epoch_ms(self.clock.now())
        if index is None:
            record = org.data.create_contact(fields, now_ms)
            return books_json({"code": 0, "message": "The contact has been added.", "contact": record}, 201)
        record = org.data.update_contact(index, fields, now_ms)
        return books_json({"code": 0, "message": "Contact information has been saved.", "contact": record})

    async def create_invoice(self, request: Request) -> Response:
        sent = (request.query_params.get("send") or "false").lower() == "true"
        return await self._create(
            request,
            "invoices",
            "The invoice has been created.",
            _document_fields,
            lambda data, fields, now_ms: data.create_invoice(fields, fields["lines"], now_ms, sent=sent),
        )

    async def create_recurring_invoice(self, request: Request) -> Response:
        return await self._create(
            request,
            "recurringinvoices",
            "The recurring invoice has been created.",
            _recurring_fields,
            lambda data, fields, now_ms: data.create_recurring_invoice(fields, fields["lines"], now_ms),
        )

    async def _create(
        self,
        request: Request,
        entity: str,
        message: str,
        validate: Callable[[BooksDataset, dict[str, Any]], dict[str, Any]],
        create: Callable[[BooksDataset, dict[str, Any], int], dict],
    ) -> Response:
        try:
            _refuse_undocumented(request, WRITE_PARAMETERS.get(entity, frozenset()))
            org = self._organization(request)
            body = await _request_body(request)
            _refuse_undocumented_fields(body, entity)
            fields = validate(org.data, body)
        except BooksError as error:
            return books_json({"code": error.code, "message": error.message}, error.status)
        record = create(org.data, fields, epoch_ms(self.clock.now()))
        return books_json({"code": 0, "message": message, SINGULAR[entity]: record}, 201)


async def _request_body(request: Request) -> dict[str, Any]:
    """The JSON object Books takes as the body, or in the form field JSONString (older clients)."""
    raw = await request.body()
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        raw = dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True)).get("JSONString", "").encode()
    try:
        body = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        body = None
    if not isinstance(body, dict):
        raise _invalid("JSONString")
    return body


def _invalid(field: str) -> BooksError:
    return BooksError(400, INVALID_VALUE, f"Invalid value passed for {field}")


def _text(
    body: Mapping[str, Any], field: str, *, required: bool = False, limit: int = MAX_NAME_LENGTH
) -> str:
    value = body.get(field)
    if value is None or value == "":
        if required:
            raise _invalid(field)
        return ""
    if not isinstance(value, str) or len(value.strip()) > limit or not value.strip():
        raise _invalid(field)
    return value.strip()


def _date(body: Mapping[str, Any], field: str, *, required: bool = False) -> date | None:
    raw = body.get(field)
    if raw in (None, ""):
        if required:
            raise _invalid(field)
        return None
    try:
        return date.fromisoformat(str(raw))
    except ValueError:
        raise _invalid(field) from None


def _whole(body: Mapping[str, Any], field: str, default: int, minimum: int) -> int:
    value = body.get(field, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _invalid(field)
    return value


def _contact_fields(
    data: BooksDataset, body: dict[str, Any], *, exclude: int | None = None
) -> dict[str, Any]:
    """Validated contact values; `exclude` is the contact being updated (its own name and
    custom values do not count as taken)."""
    name = _text(body, "contact_name", required=True)
    if data.name_taken("contacts", "contact_name", name, exclude=exclude):
        raise BooksError(
            400, NAME_IN_USE, "The contact name already exists. Please specify a different name."
        )
    contact_type = body.get("contact_type", "customer")
    if contact_type not in ("customer", "vendor"):
        raise _invalid("contact_type")
    sub_type = body.get("customer_sub_type", "business")
    if sub_type not in ("business", "individual"):
        raise _invalid("customer_sub_type")
    currency = _currency_code(body.get("currency_id"))
    person = _primary_person(body.get("contact_persons"))
    email = _text(person, "email", limit=100)
    if email and "@" not in email:
        raise _invalid("email")
    return {
        "contact_name": name,
        "company_name": _text(body, "company_name"),
        "contact_type": contact_type,
        "customer_sub_type": sub_type,
        "currency_code": currency,
        "payment_terms": _whole(body, "payment_terms", 0, 0),
        "custom_fields": _custom_values(data, body.get("custom_fields"), exclude=exclude),
        "first_name": _text(person, "first_name", limit=100),
        "last_name": _text(person, "last_name", limit=100),
        "email": email,
        "phone": _text(person, "phone", limit=50),
        "notes": _text(body, "notes", limit=5_000),
    }


def _currency_code(currency_id: Any) -> str:
    """The code of the currency `currency_id` names (Books takes the id; the base one when absent)."""
    if currency_id in (None, ""):
        return BASE_CURRENCY
    code = next((code for code, (known_id, _, _) in CURRENCIES.items() if known_id == str(currency_id)), None)
    if code is None:
        raise _invalid("currency_id")
    return code


def _primary_person(raw: Any) -> Mapping[str, Any]:
    """The contact person marked primary (else the first): Books documents the contact's own
    names, email and phone only there, not as fields of the contact."""
    if raw in (None, []):
        return {}
    if not isinstance(raw, list) or not all(isinstance(person, dict) for person in raw):
        raise _invalid("contact_persons")
    return next((person for person in raw if person.get("is_primary_contact")), raw[0])


CUSTOM_FIELD_ENTRY_KEYS = frozenset({"index", "label", "customfield_id", "value"})


def _custom_values(data: BooksDataset, raw: Any, *, exclude: int | None) -> dict[str, str]:
    """`custom_fields` as {api name: value}; a value a duplicate-preventing field already holds on
    another contact is refused.

    Entries name their field as Books documents for contact requests: by `index` (its position
    among the organization's contact custom fields, from 1) or `label`
    (https://www.zoho.com/books/api/v3/contacts/#create-a-contact,
    #update-a-contact-using-a-custom-fields-unique-value); `customfield_id` as in invoice requests
    (https://www.zoho.com/books/api/v3/invoices/#create-an-invoice). Any other key (an API name
    included) is refused.
    """
    if raw in (None, []):
        return {}
    if not isinstance(raw, list):
        raise _invalid("custom_fields")
    by_id = {field_id: api_name for api_name, (field_id, _, _) in CONTACT_CUSTOM_FIELDS.items()}
    by_label = {label: api_name for api_name, (_, label, _) in CONTACT_CUSTOM_FIELDS.items()}
    by_index = {str(position): api_name for position, api_name in enumerate(CONTACT_CUSTOM_FIELDS, start=1)}
    values: dict[str, str] = {}
    for entry in raw:
        if not isinstance(entry, dict) or not set(entry) <= CUSTOM_FIELD_ENTRY_KEYS:
            raise _invalid("custom_fields")
        api_name = (
            by_label.get(str(entry.get("label") or ""))
            or by_index.get(str(entry.get("index") or ""))
            or by_id.get(str(entry.get("customfield_id") or ""))
        )
        if api_name not in CONTACT_CUSTOM_FIELDS:
            raise _invalid("custom_fields")
        value = entry.get("value")
        if value is None or isinstance(value, dict | list) or len(str(value)) > MAX_NAME_LENGTH:
            raise _invalid(api_name)
        values[api_name] = str(value).strip()
    for api_name, value in values.items():
        holder = data.contact_with(api_name, value) if value and CONTACT_CUSTOM_FIELDS[api_name][2] else None
        if holder is not None and holder != exclude:
            label = CONTACT_CUSTOM_FIELDS[api_name][1]
            raise BooksError(400, CUSTOM_VALUE_IN_USE, f"The value {value} already exists for {label}.")
    return values


def _document_fields(data: BooksDataset, body: dict[str, Any]) -> dict[str, Any]:
    """What invoices and recurring profiles share: an existing customer, a reference, lines."""
    customer_id = str(body.get("customer_id") or "")
    customer = data.contact(customer_id)
    if customer is None or customer["contact_type"] != "customer":
        raise _invalid("customer_id")
    fields: dict[str, Any] = {
        "customer": customer,
        "reference_number": _text(body, "reference_number", limit=MAX_REFERENCE_LENGTH),
        "lines": _line_items(data, body.get("line_items")),
        "date": _date(body, "date"),
    }
    if "payment_terms" in body:
        fields["payment_terms"] = _whole(body, "payment_terms", 0, 0)
    return fields


def _recurring_fields(data: BooksDataset, body: dict[str, Any]) -> dict[str, Any]:
    name = _text(body, "recurrence_name", required=True, limit=MAX_REFERENCE_LENGTH)
    if data.name_taken("recurringinvoices", "recurrence_name", name):
        raise BooksError(400, RECURRENCE_NAME_IN_USE, "Recurrence name already exists.")
    frequency = body.get("recurrence_frequency")
    if frequency not in RECURRENCE_FREQUENCIES:
        raise _invalid("recurrence_frequency")
    start = _date(body, "start_date", required=True)
    end = _date(body, "end_date")
    if start is not None and end is not None and end < start:
        raise _invalid("end_date")
    return {
        **_document_fields(data, body),
        "recurrence_name": name,
        "recurrence_frequency": frequency,
        "repeat_every": _whole(body, "repeat_every", 1, 1),
        "start_date": start,
        "end_date": end,
    }


def _line_items(data: BooksDataset, raw: Any) -> list[LineItem]:
    if not isinstance(raw, list) or not raw:
        raise _invalid("line_items")
    lines = []
    for row in raw:
        if not isinstance(row, dict):
            raise _invalid("line_items")
        item_id = str(row.get("item_id") or "")
        item = None
        if item_id:
            index = data.timelines["items"].index_of(int(item_id)) if item_id.isdigit() else None
            if index is None:
                raise _invalid("item_id")
            item = data.render("items", index)
        name = _text(row, "name") or (item["name"] if item else "")
        if not name:
            raise _invalid("name")
        rate = _amount(row.get("rate", item["rate"] if item else None), "rate", minimum=Decimal(0))
        quantity = _amount(row.get("quantity", 1), "quantity", minimum=Decimal("0.01"))
        lines.append(
            LineItem(name, _text(row, "description", limit=2_000), to_cents(rate), quantity, item_id)
        )
    return lines


def _amount(value: Any, field: str, *, minimum: Decimal) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _invalid(field)
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise _invalid(field) from None
    if not amount.is_finite() or amount < minimum:
        raise _invalid(field)
    return amount


def organizations_for(config: Any, crm: Any) -> list[Organization]:
    """The organizations a sandbox with this config and CRM serves (also the tests' ground truth)."""
    return build_organizations(
        seed=config.seed,
        anchor=resolve_anchor(config.anchor),
        history_days=config.history_days,
        timezone=config.timezone,
        records_per_module=config.records_per_module,
        account_ids=np.asarray(crm.ids("Accounts")),
        contact_ids=np.asarray(crm.ids("Contacts")),
    )


def routes(state: Any) -> list[BaseRoute]:
    """Books routes over the sandbox state; customers are the CRM's accounts."""
    return BooksApi(
        organizations_for(state.config, state.crm), state.config.timezone, clock=state.clock
    ).routes()
