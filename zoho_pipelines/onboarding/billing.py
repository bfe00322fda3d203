"""The SetupBilling step's Books writes: the deal's customer, then its first invoice.

Books takes no idempotency key, and the transport never blindly retries a POST, so each write is
made idempotent here by looking for its own key first:
- the customer is the Books contact linked to the deal's CRM account (`zcrm_account_id`). Zoho's
  Books-CRM sync usually made it already; otherwise this step creates it under the account's name.
  Books keeps contact names unique, so the name is also the look-up that finds a customer this step
  created before a crash, in one call; the account-wide scan only runs when that finds nothing.
- the invoice carries the deal's external key as its reference_number; Books does not keep those
  unique, so the look-up (filtered by reference and customer) is what prevents a second invoice.
A crash between the two writes therefore costs nothing on the retry: the customer is found, the
invoice is created once.

The invoice is created as a draft dated the day it is raised, for the deal's amount in the
customer's currency: the first bill of a new customer goes to finance for review rather than
straight to the customer's inbox from an event-driven flow. A deal without an amount gets its
customer but no invoice. (A recurring profile would need a schedule the deal does not carry; the
client can create one, `BooksClient.create_recurring_invoice`, once a deal field says so.)

Two executions for the same deal running at the very same moment could both miss and both create;
the onboarding rule (one execution per Closed Won event, events de-duplicated upstream) keeps that
out, and Books' unique contact names stop the customer half of it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from zoho_pipelines.onboarding.errors import CustomerNameTaken
from zoho_pipelines.zoho.books import BooksClient

Record = dict[str, Any]
# Books contacts of every age qualify: a customer synced years ago is still the customer.
BEGINNING = datetime(2000, 1, 1, tzinfo=UTC)
MAX_NAME_LENGTH = 200


@dataclass(frozen=True)
class Outcome:
    """A record the step needed, and whether this attempt created it (False: found)."""

    record: Record
    created: bool


def customer_name(deal: Mapping[str, Any]) -> str:
    """The name a customer created for the deal's account gets (Books' display name)."""
    return (deal.get("account_name") or f"CRM account {deal['account_id']}")[:MAX_NAME_LENGTH]


class BooksBilling:
    def __init__(self, books: BooksClient, *, clock: Callable[[], datetime]) -> None:
        self._books = books
        self._clock = clock

    def ensure_customer(self, deal: Mapping[str, Any]) -> Outcome:
        """The Books customer linked to the deal's CRM account: found, else created."""
        account_id = deal["account_id"]
        name = customer_name(deal)
        same_name = [
            contact
            for contact in self._books.search("contacts", {"contact_name": name})
            if str(contact.get("contact_name", "")).casefold() == name.casefold()
        ]
        for contact in same_name:
            if _customer_of(contact, account_id):
                return Outcome(contact, created=False)
        synced = self._linked_customer(account_id)
        if synced is not None:
            return Outcome(synced, created=False)
        if same_name:
            raise CustomerNameTaken(
                f"the Books contact {same_name[0].get('contact_id')} is named {name!r} but belongs to CRM "
                f"account {same_name[0].get('zcrm_account_id') or '(none)'}, not {account_id}; "
                "rename one of them, then redrive the execution"
            )
        created = self._books.create_contact(
            {
                "contact_name": name,
                "company_name": deal.get("account_name") or name,
                "contact_type": "customer",
                "customer_sub_type": "business",
                "zcrm_account_id": account_id,
                "notes": f"Created by the deal onboarding of CRM deal {deal['id']}.",
            }
        )
        return Outcome(created, created=True)

    def _linked_customer(self, account_id: str) -> Record | None:
        """A scan of every contact: the sync may have named the customer differently."""
        until = self._clock() + timedelta(minutes=5)
        for batch in self._books.iter_records("contacts", BEGINNING, until):
            for contact in batch:
                if _customer_of(contact, account_id):
                    return contact
        return None

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
