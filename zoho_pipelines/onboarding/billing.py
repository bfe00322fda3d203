"""The SetupBilling step's Books writes: the deal's customer, then its first invoice.

Books takes no idempotency key, and the transport never blindly retries a POST, so each write is
made idempotent here, and only through what the Books API documents:

- the customer is first looked for as Books' Zoho CRM integration links it: List Contacts filtered
  by `zcrm_account_id` (https://www.zoho.com/books/api/v3/contacts/#list-contacts). Create a Contact
  documents no such field, so a customer this step creates is not linked that way; it carries the
  CRM account id in a contact custom field instead, and is written with Books' upsert by a unique
  custom field value ("Update a contact using a custom field's unique value" with X-Upsert:
  https://www.zoho.com/books/api/v3/contacts/#update-a-contact-using-a-custom-fields-unique-value):
  one PUT that finds the contact an earlier attempt made (and re-applies the same values) or
  creates it. Books enforces the uniqueness, so not even two executions at the same moment can
  make two customers. Before that write, the contact an earlier attempt made is looked for by its
  name (List Contacts' `contact_name`; Books keeps names unique) and its custom field, so a retry
  normally writes nothing at all.
- the invoice carries the deal's external key as its reference_number, looked up with List
  Invoices' `reference_number` and `customer_id` filters
  (https://www.zoho.com/books/api/v3/invoices/#list-invoices); Books does not keep references
  unique, so that look-up is what prevents a second invoice.
A crash between the two writes therefore costs nothing on the retry: the customer is found, the
invoice is created once. None of this depends on when an earlier attempt ran.

Set-up (once per Books organization): Settings > Preferences > Customers and Vendors > Custom
Fields > New Custom Field: label "CRM Account ID", data type Text, "Prevent Duplicate Values" on;
its API name must be `cf_crm_account_id` (`CRM_ACCOUNT_FIELD`) and its label "CRM Account ID"
(`CRM_ACCOUNT_LABEL`: the upsert's body names custom fields by label, its headers by API name).

The invoice is created as a draft dated the day it is raised, for the deal's amount in the
customer's currency: the first bill of a new customer goes to finance for review rather than
straight to the customer's inbox from an event-driven flow. A deal without an amount gets its
customer but no invoice. (A recurring profile would need a schedule the deal does not carry; the
client can create one, `BooksClient.create_recurring_invoice`, once a deal field says so.)

Two executions for the same deal running at the very same moment could both miss the invoice and
both create one; the onboarding rule (one execution per Closed Won event, events de-duplicated
upstream) keeps that out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from zoho_pipelines.onboarding.errors import CustomerNameTaken
from zoho_pipelines.zoho.books import BooksClient
from zoho_pipelines.zoho.errors import ZohoInvalidDataError

Record = dict[str, Any]
MAX_NAME_LENGTH = 200
CRM_ACCOUNT_FIELD = "cf_crm_account_id"
CRM_ACCOUNT_LABEL = "CRM Account ID"
"""The Books contact custom field (unique) that holds the CRM account id of a customer we made."""
NAME_IN_USE = "3062"  # Books: "The contact name already exists."


@dataclass(frozen=True)
class Outcome:
    """A record the step needed, and whether this attempt created it (False: found)."""

    record: Record
    created: bool


def customer_name(deal: Mapping[str, Any]) -> str:
    """The name a customer created for the deal's account gets (Books' display name)."""
    return (deal.get("account_name") or f"CRM account {deal['account_id']}")[:MAX_NAME_LENGTH]


class BooksBilling:
    def __init__(self, books: BooksClient) -> None:
        self._books = books

    def ensure_customer(self, deal: Mapping[str, Any]) -> Outcome:
        """The Books customer of the deal's CRM account: the linked one, else ours (found or made)."""
        account_id = deal["account_id"]
        linked = [
            contact
            for contact in self._books.search("contacts", {"zcrm_account_id": account_id})
            if _customer_of(contact, account_id)
        ]
        if linked:
            return Outcome(linked[0], created=False)
        name = customer_name(deal)
        # The contact an earlier attempt made, found without a write: by its name (a List
        # Contacts filter; Books keeps names unique), confirmed by its custom field.
        same_name = self._named(name)
        ours = [contact for contact in same_name if _held_for(contact, account_id)]
        if ours:
            return Outcome(ours[0], created=False)
        if same_name:
            raise self._name_taken(same_name[0], name, account_id)
        try:
            # Every field is an argument of the upsert (https://www.zoho.com/books/api/v3/contacts/
            # #update-a-contact-using-a-custom-fields-unique-value); the sandbox refuses any other.
            record, created = self._books.upsert_contact(
                {
                    "contact_name": name,
                    "company_name": deal.get("account_name") or name,
                    "contact_type": "customer",
                    "customer_sub_type": "business",
                    "notes": f"Created by the deal onboarding of CRM deal {deal['id']}.",
                },
                unique_field=CRM_ACCOUNT_FIELD,
                unique_label=CRM_ACCOUNT_LABEL,
                unique_value=account_id,
            )
        except ZohoInvalidDataError as error:
            if error.code == NAME_IN_USE:  # taken since the look-up
                holders = self._named(name)
                raise self._name_taken(holders[0] if holders else {}, name, account_id) from None
            raise
        return Outcome(record, created=created)

    def _named(self, name: str) -> list[Record]:
        return [
            contact
            for contact in self._books.search("contacts", {"contact_name": name})
            if str(contact.get("contact_name", "")).casefold() == name.casefold()
        ]

    @staticmethod
    def _name_taken(holder: Mapping[str, Any], name: str, account_id: str) -> CustomerNameTaken:
        """Books keeps contact names unique: say which contact holds the account's name."""
        return CustomerNameTaken(
            f"the Books contact {holder.get('contact_id') or '(unknown)'} is named {name!r} but is not the "
            f"customer of CRM account {account_id}; rename one of them (or link it to the account), "
            "then redrive the execution"
        )

    def ensure_invoice(
        self, deal: Mapping[str, Any], customer: Mapping[str, Any], key: str
    ) -> Outcome | None:
        """The deal's first invoice (reference_number `key`): found, else created; None without an
        amount to bill."""
        customer_id = str(customer["contact_id"])
        existing = [
            invoice
            for invoice in self._books.search(
                "invoices", {"reference_number": key, "customer_id": customer_id}
            )
            if invoice.get("reference_number") == key and str(invoice.get("customer_id")) == customer_id
        ]
        if existing:
            return Outcome(existing[0], created=False)
        if deal["amount"] <= 0:
            return None
        # customer_id, reference_number and line_items (name, description, rate, quantity) are
        # Create an invoice's arguments (https://www.zoho.com/books/api/v3/invoices/#create-an-invoice).
        invoice = {
            "customer_id": customer_id,
            "reference_number": key,
            "line_items": [
                {
                    "name": deal["name"][:MAX_NAME_LENGTH],
                    "description": f"CRM deal {deal['id']} (Closed Won)",
                    "rate": deal["amount"],
                    "quantity": 1,
                }
            ],
        }
        return Outcome(self._books.create_invoice(invoice, send=False), created=True)


def _customer_of(contact: Mapping[str, Any], account_id: str) -> bool:
    return str(contact.get("zcrm_account_id") or "") == account_id and contact.get("contact_type") != "vendor"


def _held_for(contact: Mapping[str, Any], account_id: str) -> bool:
    """Whether the contact carries the account id in `CRM_ACCOUNT_FIELD` (list rows show custom
    fields as `cf_...` keys, records as `custom_fields` entries)."""
    values = {str(contact.get(CRM_ACCOUNT_FIELD) or "")}
    values.update(
        str(field.get("value") or "")
        for field in contact.get("custom_fields") or ()
        if isinstance(field, dict)
        and (field.get("api_name") == CRM_ACCOUNT_FIELD or field.get("label") == CRM_ACCOUNT_LABEL)
    )
    return account_id in values and contact.get("contact_type") != "vendor"
