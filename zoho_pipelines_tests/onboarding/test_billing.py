"""SetupBilling against the sandbox's Books: the customer found or created, one draft invoice for
the deal amount, and retries (after a crash between the two writes, after Zoho failed, or hours
later) that never create a second customer or invoice. The sandbox links no contact to CRM on
create, as Books documents none, so these tests show the step does not count on it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from zoho_pipelines.clock import ManualClock
from zoho_pipelines.onboarding import handlers
from zoho_pipelines.onboarding.billing import (
    CRM_ACCOUNT_FIELD,
    CRM_ACCOUNT_LABEL,
    BooksBilling,
    customer_name,
)
from zoho_pipelines.onboarding.errors import CustomerNameTaken
from zoho_pipelines.onboarding.steps import OnboardingSteps, external_key
from zoho_pipelines.sandbox.server import RunningSandbox
from zoho_pipelines.settings import load_settings
from zoho_pipelines.zoho.client import ZohoClient
from zoho_pipelines.zoho.errors import ZohoAPIError
from zoho_pipelines_tests.onboarding.conftest import calls, closed_won_event, deals

BOOKS = "/books/v3/"


def books_posts(sandbox: RunningSandbox) -> int:
    return calls(sandbox, "POST", BOOKS)


def books_puts(sandbox: RunningSandbox) -> int:
    return calls(sandbox, "PUT", BOOKS)


def books_gets(sandbox: RunningSandbox) -> int:
    return calls(sandbox, "GET", BOOKS)


def billable_deals(sandbox: RunningSandbox) -> list[dict[str, Any]]:
    """Closed Won deals with an amount to invoice."""
    return [deal for deal in deals(sandbox, closed_won=True) if (deal.get("Amount") or 0) > 0]


def invoices_of(client: ZohoClient, deal_id: str) -> list[dict[str, Any]]:
    """Every invoice in Books that carries the deal's key, read back through the API."""
    return client.books.search("invoices", {"reference_number": external_key(deal_id)})


def customers_of(client: ZohoClient, account_id: str, name: str) -> list[dict[str, Any]]:
    """Every customer under the account's name that belongs to the account, linked or ours."""
    return [
        contact
        for contact in client.books.search("contacts", {"contact_name": name})
        if account_id in (contact["zcrm_account_id"], contact.get(CRM_ACCOUNT_FIELD))
    ]


def state_of_a_new_account(sandbox: RunningSandbox, client: ZohoClient, position: int = 2) -> dict[str, Any]:
    """A Closed Won deal moved to a CRM account created after Books synced: no customer yet."""
    assert sandbox.state is not None
    deal_id = str(billable_deals(sandbox)[position]["id"])
    (account_id,) = sandbox.state.crm.mutate("Accounts", creates=1)["created"]
    moved = client.crm.update_records("Deals", [{"id": deal_id, "Account_Name": {"id": account_id}}])
    assert moved.all_ok
    return handlers.qualify_deal(closed_won_event(deal_id))


def test_a_synced_customer_is_found_and_billed_once(
    sandbox: RunningSandbox, client: ZohoClient, steps: OnboardingSteps
) -> None:
    assert sandbox.state is not None
    synced_accounts = {str(account_id) for account_id in sandbox.state.crm.ids("Accounts")}
    deal_id = next(d["id"] for d in billable_deals(sandbox) if d["Account_Name"]["id"] in synced_accounts)
    state = handlers.qualify_deal(closed_won_event(deal_id))
    deal = state["deal"]
    billing = handlers.setup_billing(state)

    customer = client.books.get("contacts", billing["customer_id"])
    assert customer["zcrm_account_id"] == deal["account_id"]
    assert customer["source"] == "zcrm"  # the Books-CRM sync made it, not this step
    assert billing["customer_created"] is False
    assert books_posts(sandbox) == 1  # the invoice only

    invoice = client.books.get("invoices", billing["invoice_id"])
    assert billing["invoice_created"] is True
    assert invoice["customer_id"] == billing["customer_id"]
    assert invoice["reference_number"] == external_key(deal["id"])
    assert invoice["status"] == "draft"
    assert invoice["total"] == pytest.approx(deal["amount"])
    assert [line["rate"] for line in invoice["line_items"]] == [pytest.approx(deal["amount"])]

    again = handlers.setup_billing(state)  # a Step Functions retry, or a redrive
    assert again == {**billing, "invoice_created": False}
    assert books_posts(sandbox) == 1
    assert [i["invoice_id"] for i in invoices_of(client, deal["id"])] == [billing["invoice_id"]]


def test_a_customer_is_created_for_an_account_books_does_not_know(
    sandbox: RunningSandbox, client: ZohoClient, steps: OnboardingSteps
) -> None:
    state = state_of_a_new_account(sandbox, client)
    deal = state["deal"]
    name = customer_name(deal)
    assert customers_of(client, deal["account_id"], name) == []

    billing = handlers.setup_billing(state)
    assert billing["customer_created"] is True
    assert billing["invoice_created"] is True
    assert (books_puts(sandbox), books_posts(sandbox)) == (1, 1)  # customer (upsert), then invoice
    (customer,) = customers_of(client, deal["account_id"], name)
    assert customer["contact_id"] == billing["customer_id"]
    assert customer["contact_type"] == "customer"
    assert customer["contact_name"] == deal["account_name"]
    assert customer[CRM_ACCOUNT_FIELD] == deal["account_id"]

    gets_before = books_gets(sandbox)
    again = handlers.setup_billing(state)
    assert again == {**billing, "customer_created": False, "invoice_created": False}
    assert (books_puts(sandbox), books_posts(sandbox)) == (1, 1)  # found: nothing written again
    # The linked customer, the name (confirmed by the custom field), the invoice's reference:
    # three look-ups, no scan of every contact.
    assert books_gets(sandbox) - gets_before == 3
    assert len(customers_of(client, deal["account_id"], name)) == 1
    assert len(invoices_of(client, deal["id"])) == 1


def test_a_retry_after_a_crash_between_customer_and_invoice_creates_neither_twice(
    sandbox: RunningSandbox, client: ZohoClient, steps: OnboardingSteps
) -> None:
    state = state_of_a_new_account(sandbox, client)
    deal = state["deal"]
    # The first attempt created the customer, then its Lambda died before creating the invoice.
    orphan = BooksBilling(client.books).ensure_customer(deal)
    assert orphan.created is True

    retried = handlers.setup_billing(state)
    assert retried["customer_id"] == orphan.record["contact_id"]
    assert retried["customer_created"] is False
    assert retried["invoice_created"] is True
    assert (books_puts(sandbox), books_posts(sandbox)) == (1, 1)  # the orphan's upsert, the invoice
    assert len(customers_of(client, deal["account_id"], customer_name(deal))) == 1
    assert len(invoices_of(client, deal["id"])) == 1


def test_a_retry_after_a_crash_once_the_invoice_exists_writes_nothing(
    sandbox: RunningSandbox, client: ZohoClient, steps: OnboardingSteps
) -> None:
    state = state_of_a_new_account(sandbox, client, position=3)
    deal = state["deal"]
    billing = BooksBilling(client.books)
    customer = billing.ensure_customer(deal)
    invoice = billing.ensure_invoice(deal, customer.record, external_key(deal["id"]))
    assert invoice is not None  # both writes landed; the answer never reached Step Functions
    assert books_posts(sandbox) == 1

    retried = handlers.setup_billing(state)
    assert retried["invoice_id"] == invoice.record["invoice_id"]
    assert (retried["customer_created"], retried["invoice_created"]) == (False, False)
    assert books_posts(sandbox) == 1


def test_a_zoho_failure_is_retryable_and_the_retry_bills_once(
    sandbox: RunningSandbox, client: ZohoClient, steps: OnboardingSteps
) -> None:
    state = state_of_a_new_account(sandbox, client)
    assert sandbox.state is not None
    sandbox.state.set_faults(fault_rate=1.0)
    with pytest.raises(ZohoAPIError) as raised:
        handlers.setup_billing(state)
    assert type(raised.value).__name__ == "ZohoAPIError"  # what the state machine's retriers match
    sandbox.state.set_faults(fault_rate=0.0)

    billing = handlers.setup_billing(state)
    assert handlers.setup_billing(state)["invoice_id"] == billing["invoice_id"]
    assert len(invoices_of(client, state["deal"]["id"])) == 1
    assert len(customers_of(client, state["deal"]["account_id"], customer_name(state["deal"]))) == 1


def test_a_name_held_by_another_accounts_contact_is_not_reused(
    sandbox: RunningSandbox, client: ZohoClient, steps: OnboardingSteps
) -> None:
    state = state_of_a_new_account(sandbox, client)
    other = client.books.create_contact(
        {
            "contact_name": customer_name(state["deal"]),
            "custom_fields": [{"label": CRM_ACCOUNT_LABEL, "value": "1234567"}],
        }
    )
    with pytest.raises(CustomerNameTaken, match=other["contact_id"]):
        handlers.setup_billing(state)  # its own class name: the state machine does not retry it
    assert books_posts(sandbox) == 1  # only the set-up's contact
    assert len(client.books.search("contacts", {"contact_name": customer_name(state["deal"])})) == 1


def test_a_deal_without_an_amount_gets_its_customer_but_no_invoice(
    sandbox: RunningSandbox, client: ZohoClient, steps: OnboardingSteps
) -> None:
    deal_id = str(deals(sandbox, closed_won=True)[4]["id"])
    assert client.crm.update_records("Deals", [{"id": deal_id, "Amount": None}]).all_ok
    billing = handlers.setup_billing(handlers.qualify_deal(closed_won_event(deal_id)))
    assert billing["customer_id"]
    assert (billing["invoice_id"], billing["invoice_created"]) == (None, False)
    assert books_posts(sandbox) == 0


def test_a_customer_renamed_in_books_is_still_found_by_its_custom_field(
    sandbox: RunningSandbox, client: ZohoClient, steps: OnboardingSteps
) -> None:
    state = state_of_a_new_account(sandbox, client)
    first = handlers.setup_billing(state)
    renamed = {"contact_name": "Renamed By Finance Ltd"}
    (contact, created) = client.books.upsert_contact(
        renamed,
        unique_field=CRM_ACCOUNT_FIELD,
        unique_label=CRM_ACCOUNT_LABEL,
        unique_value=state["deal"]["account_id"],
    )
    assert (contact["contact_id"], created) == (first["customer_id"], False)

    again = handlers.setup_billing(state)  # not found by name any more: the upsert finds it

    assert again["customer_id"] == first["customer_id"]
    assert (again["customer_created"], again["invoice_created"]) == (False, False)
    assert len(client.books.search("contacts", {"contact_name": customer_name(state["deal"])})) == 1


def test_the_same_deal_onboarded_again_hours_later_bills_once(
    sandbox_factory: Callable[..., RunningSandbox],
) -> None:
    clock = ManualClock(datetime(2026, 11, 27, 12, 0, tzinfo=UTC))
    running = sandbox_factory(records_per_module=300, clock=clock)
    with ZohoClient.from_settings(load_settings(**running.env())) as client:
        handlers.use_steps(OnboardingSteps(client))
        try:
            state = state_of_a_new_account(running, client)
            first = handlers.setup_billing(state)
            clock.advance(timedelta(hours=2))  # the same Closed Won deal, redriven two hours later
            later = handlers.setup_billing(handlers.qualify_deal(closed_won_event(state["deal"]["id"])))
            clock.advance(timedelta(days=400))  # and again, long after
            much_later = handlers.setup_billing(state)
        finally:
            handlers.use_steps(None)
        deal = state["deal"]
        assert (first["customer_created"], first["invoice_created"]) == (True, True)
        assert later == much_later == {**first, "customer_created": False, "invoice_created": False}
        assert len(customers_of(client, deal["account_id"], customer_name(deal))) == 1
        assert [invoice["invoice_id"] for invoice in invoices_of(client, deal["id"])] == [first["invoice_id"]]
