"""Zoho Books v3: organization discovery, modified-time windows of any list entity, single records,
filtered look-ups, and creating contacts, invoices and recurring invoices.

Every Books call names its organization (`organization_id`). When none is configured
(ZOHO_BOOKS_ORGANIZATION_ID), the organization is discovered once: the user's default one, or the
only one. Taking "the first listed" is a known connector bug (users with a demo or second company
read an empty ledger), so an ambiguous account is an error that says what to configure.

A modified-time window is read only through what each List endpoint documents. List Invoices and
List Bills document a `last_modified_time` filter (records modified after it); the other lists
document none (nor a sort by modification that could stand in for one), so they are read in full
and filtered here. Either way the pages come in Books' default order, by creation: a record
edited during the read keeps its place, one created meanwhile lands at the newest end and shifts
the rest by one (a record read twice is dropped by its id); only a record deleted during the read
can shift an unread one onto a page already read.

Creating is a POST, which the transport does not retry once Zoho may have acted on it, and Books
takes no idempotency key: a caller that must not create twice looks its record up first by a key
it controls with `search`, through filters the list endpoints document (an invoice's
reference_number, a recurring profile's recurrence_name, which Books keeps unique), or, for a
contact, upserts it by a custom field Books keeps unique (`upsert_contact`), which is one
idempotent call.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from zoho_pipelines.zoho.ascending_window import Record, in_window
from zoho_pipelines.zoho.errors import ZohoAPIError
from zoho_pipelines.zoho.transport import ZohoTransport
from zoho_pipelines.zoho.windows import floor_second, require_aware

API = "/books/v3"
PER_PAGE = 200
# https://www.zoho.com/books/api/v3/contacts/#update-a-contact-using-a-custom-fields-unique-value
UNIQUE_KEY_HEADER = "X-Unique-Identifier-Key"
UNIQUE_VALUE_HEADER = "X-Unique-Identifier-Value"
UPSERT_HEADER = "X-Upsert"
BOOKS_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%z"

# list endpoint -> (key of the single record in GET /{entity}/{id}, its id field)
ENTITIES: dict[str, tuple[str, str]] = {
    "contacts": ("contact", "contact_id"),
    "items": ("item", "item_id"),
    "invoices": ("invoice", "invoice_id"),
    "bills": ("bill", "bill_id"),
    "customerpayments": ("payment", "payment_id"),
    "recurringinvoices": ("recurring_invoice", "recurrence_id"),
}
CREATABLE = frozenset({"contacts", "invoices", "recurringinvoices"})
# The lists that document a `last_modified_time` filter ("modified after the value"):
# https://www.zoho.com/books/api/v3/invoices/#list-invoices, https://www.zoho.com/books/api/v3/bills/#list-bills
MODIFIED_TIME_FILTERED = frozenset({"invoices", "bills"})


def parse_books_time(value: str) -> datetime:
    """A Books timestamp (2026-11-27T10:15:00+0530) as an aware UTC datetime."""
    return require_aware(datetime.fromisoformat(value), "Books time").astimezone(UTC)


def books_time(moment: datetime) -> str:
    """A filter value in Books' own format, in UTC, floored to the second Books resolves."""
    return floor_second(moment.astimezone(UTC)).strftime(BOOKS_TIME_FORMAT)


def _entity(entity: str) -> tuple[str, str]:
    try:
        return ENTITIES[entity]
    except KeyError:
        raise ValueError(f"unknown Books entity {entity!r}; known: {', '.join(ENTITIES)}") from None


class BooksClient:
    """Reads and writes one Books organization through a `ZohoTransport`; thread-safe."""

    def __init__(self, transport: ZohoTransport, organization_id: str | None = None) -> None:
        self._transport = transport
        self._organization_id = organization_id or None
        self._discovery = threading.Lock()

    def organizations(self) -> list[Record]:
        """Every organization the token's user belongs to."""
        response = self._transport.request("GET", f"{API}/organizations")
        return list(response.json().get("organizations") or [])

    @property
    def organization_id(self) -> str:
        """The configured organization, else the discovered one (the default, or the only one)."""
        if self._organization_id is None:
            with self._discovery:
                if self._organization_id is None:
                    self._organization_id = self._discover()
        return self._organization_id

    def _discover(self) -> str:
        organizations = self.organizations()
        defaults = [org for org in organizations if org.get("is_default_org")]
        chosen = defaults if defaults else organizations
        if len(chosen) != 1:
            names = ", ".join(f"{org.get('organization_id')} ({org.get('name')})" for org in organizations)
            raise ZohoAPIError(
                f"cannot choose a Books organization among [{names or 'none'}]: "
                "set ZOHO_BOOKS_ORGANIZATION_ID",
                method="GET",
                path=f"{API}/organizations",
            )
        return str(chosen[0]["organization_id"])

    def get(self, entity: str, record_id: str | int) -> Record:
        """One record with everything Books shows on its detail page (line items included); GET
        /{entity}/{id} with organization_id only (e.g. https://www.zoho.com/books/api/v3/invoices/#get-an-invoice)."""
        key, _ = _entity(entity)
        response = self._transport.request(
            "GET", f"{API}/{entity}/{record_id}", params={"organization_id": self.organization_id}
        )
        return dict(response.json()[key])

    def search(self, entity: str, filters: Mapping[str, str]) -> list[Record]:
        """Every list row matching Books' own list filters (`{"reference_number": ...}`), all pages.

        Meant for narrow look-ups by a key: the filters must be ones Books applies to `entity`,
        because Books ignores the ones it does not know and would answer the whole list.
        """
        _entity(entity)
        rows: list[Record] = []
        page = 1
        while True:
            body = self._list(entity, {**filters, "page": page})
            rows.extend(body.get(entity) or [])
            if not (body.get("page_context") or {}).get("has_more_page"):
                return rows
            page += 1

    def create_contact(self, contact: Mapping[str, Any]) -> Record:
        """Create a customer or vendor with the caller's fields, which must be Create a Contact's
        arguments (https://www.zoho.com/books/api/v3/contacts/#create-a-contact): e.g. currency_id,
        not currency_code; the person's names, email and phone inside contact_persons; no
        zcrm_account_id (the sandbox refuses anything else)."""
        return self._create("contacts", contact)

    def upsert_contact(
        self, contact: Mapping[str, Any], *, unique_field: str, unique_label: str, unique_value: str
    ) -> tuple[Record, bool]:
        """The contact whose custom field `unique_field` (API name; `unique_label` its label) holds
        `unique_value`, updated with `contact`, or created with it (and that value) when there is
        none; (record, created).

        Books' documented "Update a contact using a custom field's unique value" with X-Upsert
        (https://www.zoho.com/books/api/v3/contacts/#update-a-contact-using-a-custom-fields-unique-value):
        the field must be a contact custom field set to prevent duplicate values. One PUT, so a
        retry (the transport retries PUTs) finds what the first attempt made instead of adding
        a second contact.
        """
        body = dict(contact)
        # The request's custom_fields entries are documented with `index`, `value` and `label`
        # only (no API name): the field is named by its label, the headers name it by API name.
        fields = [field for field in body.get("custom_fields") or () if field.get("label") != unique_label]
        body["custom_fields"] = [*fields, {"label": unique_label, "value": unique_value}]
        response = self._transport.request(
            "PUT",
            f"{API}/contacts",
            params={"organization_id": self.organization_id},
            json=body,
            headers={
                UNIQUE_KEY_HEADER: unique_field,
                UNIQUE_VALUE_HEADER: unique_value,
                UPSERT_HEADER: "true",
            },
        )
        return self._record(response, "contacts", "PUT"), response.status_code == 201

    def create_invoice(self, invoice: Mapping[str, Any], *, send: bool = False) -> Record:
        """Create an invoice: a draft, unless `send` mails it to the customer's contact persons.

        `send` is Create an invoice's documented query parameter; the body's fields are the caller's
        (https://www.zoho.com/books/api/v3/invoices/#create-an-invoice).
        """
        return self._create("invoices", invoice, {"send": str(send).lower()})

    def create_recurring_invoice(self, profile: Mapping[str, Any]) -> Record:
        """Create a recurring invoice profile from Create a Recurring Invoice's arguments
        (recurrence_name, customer_id, recurrence_frequency, start_date, line_items...:
        https://www.zoho.com/books/api/v3/recurring-invoices/#create-a-recurring-invoice)."""
        return self._create("recurringinvoices", profile)

    def _create(
        self, entity: str, record: Mapping[str, Any], params: Mapping[str, str] | None = None
    ) -> Record:
        _entity(entity)
        if entity not in CREATABLE:
            raise ValueError(
                f"this client does not create {entity}; it creates {', '.join(sorted(CREATABLE))}"
            )
        query = {"organization_id": self.organization_id, **(params or {})}
        response = self._transport.request("POST", f"{API}/{entity}", params=query, json=dict(record))
        return self._record(response, entity, "POST")

    @staticmethod
    def _record(response: Any, entity: str, method: str) -> Record:
        """The written record of a write's answer; Books signals most refusals with an HTTP
        error, and a 2xx without the record is one too."""
        key, _ = _entity(entity)
        body = response.json()
        if body.get("code") != 0 or not isinstance(body.get(key), dict):
            raise ZohoAPIError(
                f"Books did not write the {key}: {body.get('message') or 'no record in the answer'}",
                status=response.status_code,
                code=None if body.get("code") is None else str(body.get("code")),
                method=method,
                path=f"{API}/{entity}",
            )
        return dict(body[key])

    def iter_records(
        self, entity: str, modified_from: datetime, modified_to: datetime
    ) -> Iterator[list[Record]]:
        """Batches (one per call) of `entity` records with last_modified_time in [from, to), each once.

        List rows are what Books' list endpoints return (no line items: `get` has those).
        """
        _, id_field = _entity(entity)
        start = require_aware(modified_from, "modified_from")
        end = require_aware(modified_to, "modified_to")
        params: dict[str, Any] = {}
        if entity in MODIFIED_TIME_FILTERED:
            # A second earlier: whether Books compares "after" or "at or after", `start` is in.
            params["last_modified_time"] = books_time(start - timedelta(seconds=1))
        seen: set[str] = set()
        page = 1
        while True:
            body = self._list(entity, {**params, "page": page})
            rows = [
                record
                for record in body.get(entity) or []
                if in_window(parse_books_time(record["last_modified_time"]), start, end)
                and str(record[id_field]) not in seen
            ]
            seen.update(str(record[id_field]) for record in rows)
            if rows:
                yield rows
            if not (body.get("page_context") or {}).get("has_more_page"):
                return
            page += 1

    def _list(self, entity: str, params: dict[str, Any]) -> dict[str, Any]:
        """One page of a List endpoint: organization_id, page and per_page (at most 200) are what
        every Books list takes (https://www.zoho.com/books/api/v3/introduction/#pagination)."""
        query = {"organization_id": self.organization_id, "per_page": PER_PAGE, **params}
        return self._transport.request("GET", f"{API}/{entity}", params=query).json()
