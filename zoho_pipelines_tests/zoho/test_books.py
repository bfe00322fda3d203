"""BooksClient over the real transport against the sandbox on loopback."""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import uvicorn
from starlette.applications import Starlette

from zoho_pipelines.sandbox.books import BooksApi, organizations_for
from zoho_pipelines.sandbox.books_data import ENTITIES, ID_FIELDS, BooksDataset
from zoho_pipelines.sandbox.lazy_records import epoch_ms
from zoho_pipelines.sandbox.server import RunningSandbox, SandboxConfig, start_sandbox
from zoho_pipelines.settings import load_settings
from zoho_pipelines.zoho.books import BooksClient
from zoho_pipelines.zoho.credentials import credentials_from_settings
from zoho_pipelines.zoho.datacenters import endpoints
from zoho_pipelines.zoho.errors import ZohoInvalidDataError, ZohoNotFoundError, ZohoServerError
from zoho_pipelines.zoho.retry import RetryPolicy
from zoho_pipelines.zoho.transport import ZohoTransport
from zoho_pipelines_tests.conftest import own_org

ANCHOR = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
HISTORY_START = ANCHOR - timedelta(days=31)


@pytest.fixture(scope="module")
def running() -> Iterator[RunningSandbox]:
    with start_sandbox(own_org(SandboxConfig(seed=13, records_per_module=900, anchor=ANCHOR))) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def transport(running: RunningSandbox) -> Iterator[ZohoTransport]:
    with ZohoTransport.from_settings(load_settings(**running.env())) as zoho:
        yield zoho


@pytest.fixture(scope="module")
def truth(running: RunningSandbox) -> BooksDataset:
    assert running.state is not None
    organizations = organizations_for(running.state.config, running.state.crm)
    return next(org for org in organizations if org.is_default_org).data


def expected_ids(truth: BooksDataset, entity: str, start: datetime, end: datetime) -> list[str]:
    timeline = truth.timelines[entity]
    inside = (timeline.modified_ms >= epoch_ms(start)) & (timeline.modified_ms < epoch_ms(end))
    return sorted(str(int(value)) for value in timeline.ids[inside])


def read_ids(client: BooksClient, entity: str, start: datetime, end: datetime) -> list[str]:
    return sorted(
        record[ID_FIELDS[entity]] for batch in client.iter_records(entity, start, end) for record in batch
    )


def test_discovers_the_default_organization_not_the_first(transport: ZohoTransport) -> None:
    client = BooksClient(transport)
    organizations = client.organizations()
    default = next(org["organization_id"] for org in organizations if org["is_default_org"])
    assert organizations[0]["organization_id"] != default
    assert client.organization_id == default


@pytest.mark.parametrize("entity", ENTITIES)
def test_whole_history_window_matches_ground_truth(
    transport: ZohoTransport, truth: BooksDataset, entity: str
) -> None:
    client = BooksClient(transport)
    assert read_ids(client, entity, HISTORY_START, ANCHOR + timedelta(hours=1)) == sorted(
        str(int(value)) for value in truth.timelines[entity].ids
    )


def test_daily_windows_partition_the_history_exactly(transport: ZohoTransport, truth: BooksDataset) -> None:
    client = BooksClient(transport)
    days = [ANCHOR - timedelta(days=offset) for offset in range(12, -1, -1)]
    seen: list[str] = []
    for start, end in itertools.pairwise(days):
        window = read_ids(client, "invoices", start, end)
        assert window == expected_ids(truth, "invoices", start, end)
        seen.extend(window)
    assert len(seen) == len(set(seen)) == len(expected_ids(truth, "invoices", days[0], days[-1]))


def test_window_is_half_open_to_the_second(transport: ZohoTransport, truth: BooksDataset) -> None:
    client = BooksClient(transport)
    timeline = truth.timelines["contacts"]
    index = len(timeline) // 2
    moment = datetime.fromtimestamp(int(timeline.modified_ms[index]) / 1000, UTC)
    record_id = str(int(timeline.ids[index]))
    assert record_id in read_ids(client, "contacts", moment, moment + timedelta(seconds=1))
    assert record_id not in read_ids(client, "contacts", moment - timedelta(seconds=1), moment)


def test_paging_costs_about_one_call_per_200_records(transport: ZohoTransport, truth: BooksDataset) -> None:
    client = BooksClient(transport)
    assert client.organization_id  # discovery is not what is measured here
    before = transport.stats.snapshot()["calls"]
    ids = read_ids(client, "invoices", HISTORY_START, ANCHOR + timedelta(hours=1))
    calls = transport.stats.snapshot()["calls"] - before
    assert len(ids) == len(truth.timelines["invoices"]) > 4 * 200
    assert calls <= len(ids) // 190 + 2


def test_an_invoice_window_reads_only_the_pages_its_modified_time_filter_leaves(
    transport: ZohoTransport, truth: BooksDataset
) -> None:
    client = BooksClient(transport)
    assert client.organization_id
    start, end = ANCHOR - timedelta(days=2), ANCHOR + timedelta(hours=1)
    before = transport.stats.snapshot()["calls"]
    assert read_ids(client, "invoices", start, end) == expected_ids(truth, "invoices", start, end)
    calls = transport.stats.snapshot()["calls"] - before
    assert calls < int(np.ceil(len(truth.timelines["invoices"]) / 200))  # not a full scan


def test_get_returns_the_detail_with_line_items(transport: ZohoTransport, truth: BooksDataset) -> None:
    client = BooksClient(transport)
    invoice_id = str(int(truth.timelines["invoices"].ids[5]))
    invoice = client.get("invoices", invoice_id)
    assert invoice["invoice_id"] == invoice_id
    assert invoice["line_items"]
    with pytest.raises(ZohoNotFoundError):
        client.get("invoices", "460000000000001")


def test_wrong_organization_is_an_error_naming_books_code(transport: ZohoTransport) -> None:
    client = BooksClient(transport, organization_id="999")
    with pytest.raises(ZohoInvalidDataError) as raised:
        next(client.iter_records("invoices", HISTORY_START, ANCHOR))
    assert raised.value.code == "6041"
    assert raised.value.status == 400


def test_naive_window_bounds_are_refused(transport: ZohoTransport) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next(BooksClient(transport).iter_records("invoices", datetime(2026, 11, 1), ANCHOR))


@pytest.fixture
def unsorted_books(running: RunningSandbox, truth: BooksDataset) -> Iterator[str]:
    """A Books server whose lists ignore the last_modified_time filter (on its own loopback port)."""
    assert running.state is not None
    organizations = organizations_for(running.state.config, running.state.crm)
    app = Starlette(routes=BooksApi(organizations, "UTC", modified_time_listing=False).routes())
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        thread.join(0.01)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    server.should_exit = True
    thread.join(10)


def test_a_books_that_ignores_the_modified_time_filter_still_yields_the_exact_window(
    running: RunningSandbox, unsorted_books: str, truth: BooksDataset
) -> None:
    settings = load_settings(**running.env())
    with ZohoTransport(
        credentials_from_settings(settings),
        endpoints("com", running.url, unsorted_books),
        trust_token_api_domain=False,
    ) as transport:
        client = BooksClient(transport)
        start, end = ANCHOR - timedelta(days=4), ANCHOR - timedelta(days=2)
        assert read_ids(client, "bills", start, end) == expected_ids(truth, "bills", start, end)
        calls = transport.stats.snapshot()["calls"]
    assert calls >= int(np.ceil(len(truth.timelines["bills"]) / 200))  # it had to read every page


def test_windows_stay_exact_through_injected_faults(sandbox_factory) -> None:
    faulty = sandbox_factory(
        seed=13,
        records_per_module=900,
        fault_rate=0.15,
        rate_limit_rate=0.1,
        drop_rate=0.05,
        retry_after_s=0.01,
    )
    assert faulty.state is not None
    truth = next(
        org for org in organizations_for(faulty.state.config, faulty.state.crm) if org.is_default_org
    )
    policy = RetryPolicy(max_attempts=12, initial_backoff_s=0.01, max_backoff_s=0.05)
    with ZohoTransport.from_settings(load_settings(**faulty.env()), retry_policy=policy) as transport:
        client = BooksClient(transport)
        start, end = ANCHOR - timedelta(days=20), ANCHOR - timedelta(days=5)
        assert read_ids(client, "invoices", start, end) == expected_ids(truth.data, "invoices", start, end)
        assert transport.stats.snapshot()["retries"] > 0


# ---- writes ------------------------------------------------------------------------------------


@pytest.fixture
def writer(sandbox_factory) -> Iterator[tuple[RunningSandbox, BooksClient]]:
    """A Books client on a private sandbox (writes must not reach the shared ground truth)."""
    sandbox = sandbox_factory(seed=13, records_per_module=120)
    policy = RetryPolicy(max_attempts=3, initial_backoff_s=0.01, max_backoff_s=0.02)
    with ZohoTransport.from_settings(load_settings(**sandbox.env()), retry_policy=policy) as transport:
        yield sandbox, BooksClient(transport)


def test_created_records_are_read_back_by_id_search_and_window(
    writer: tuple[RunningSandbox, BooksClient],
) -> None:
    sandbox, client = writer
    before = sandbox.clock.now() - timedelta(seconds=1)  # Books stamps writes with its own time
    with pytest.raises(
        ZohoInvalidDataError, match="zcrm_account_id"
    ):  # Create a Contact documents no CRM link
        client.create_contact({"contact_name": "Client Test Ltd", "zcrm_account_id": "4242"})
    contact = client.create_contact({"contact_name": "Client Test Ltd"})
    invoice = client.create_invoice(
        {
            "customer_id": contact["contact_id"],
            "reference_number": "zoho-deal-4242",
            "line_items": [{"name": "Onboarding", "rate": 50_000, "quantity": 1}],
        }
    )
    profile = client.create_recurring_invoice(
        {
            "recurrence_name": "client-test-monthly",
            "customer_id": contact["contact_id"],
            "recurrence_frequency": "months",
            "start_date": "2027-01-01",
            "line_items": [{"name": "Support", "rate": 250}],
        }
    )
    assert invoice["status"] == "draft"  # send=False unless asked
    # A contact we create is not linked to a CRM account; Books' CRM integration makes those links.
    assert client.get("contacts", contact["contact_id"])["zcrm_account_id"] == ""
    assert client.search("contacts", {"zcrm_account_id": "4242"}) == []
    assert client.get("invoices", invoice["invoice_id"])["total"] == 50_000
    assert (
        client.get("recurringinvoices", profile["recurrence_id"])["recurrence_name"] == "client-test-monthly"
    )
    assert [
        row["invoice_id"] for row in client.search("invoices", {"reference_number": "zoho-deal-4242"})
    ] == [invoice["invoice_id"]]
    after = sandbox.clock.now() + timedelta(seconds=2)
    assert read_ids(client, "contacts", before, after) == [contact["contact_id"]]
    assert read_ids(client, "recurringinvoices", before, after) == [profile["recurrence_id"]]


def test_a_linked_customer_is_found_by_its_crm_account(writer: tuple[RunningSandbox, BooksClient]) -> None:
    sandbox, client = writer
    assert sandbox.state is not None
    account_id = str(sandbox.state.crm.ids("Accounts")[7])
    (customer,) = client.search("contacts", {"zcrm_account_id": account_id})
    assert (customer["zcrm_account_id"], customer["contact_type"]) == (account_id, "customer")


def test_upsert_by_a_unique_custom_field_creates_once_then_finds(
    writer: tuple[RunningSandbox, BooksClient],
) -> None:
    sandbox, client = writer
    contact = {"contact_name": "Upsert Test GmbH", "contact_type": "customer"}

    first, created = client.upsert_contact(
        contact, unique_field="cf_crm_account_id", unique_label="CRM Account ID", unique_value="777"
    )
    again, created_again = client.upsert_contact(
        contact, unique_field="cf_crm_account_id", unique_label="CRM Account ID", unique_value="777"
    )
    other, _ = client.upsert_contact(
        {"contact_name": "Upsert Test Two"},
        unique_field="cf_crm_account_id",
        unique_label="CRM Account ID",
        unique_value="778",
    )

    assert (created, created_again) == (True, False)
    assert again["contact_id"] == first["contact_id"] != other["contact_id"]
    assert first["cf_crm_account_id"] == "777"
    assert [row["contact_id"] for row in client.search("contacts", {"contact_name": "Upsert Test GmbH"})] == [
        first["contact_id"]
    ]
    assert sum(sandbox.stats()["calls"]["PUT /books/v3/{entity}"].values()) == 3
    with pytest.raises(ZohoInvalidDataError) as raised:  # Books keeps the field's values unique
        client.create_contact(
            {
                "contact_name": "Sneaky Copy",
                "custom_fields": [{"label": "CRM Account ID", "value": "777"}],
            }
        )
    assert raised.value.status == 400
    with pytest.raises(ZohoInvalidDataError, match="X-Unique-Identifier-Key"):
        client.upsert_contact(
            contact, unique_field="cf_segment", unique_label="Segment", unique_value="777"
        )  # not unique


def test_search_pages_through_every_match(writer: tuple[RunningSandbox, BooksClient]) -> None:
    sandbox, client = writer
    assert sandbox.state is not None
    contacts = client.search("contacts", {})
    customers = [row for row in contacts if row["contact_type"] == "customer"]
    assert len(customers) == len(sandbox.state.crm.ids("Accounts")) > 0
    assert client.search("invoices", {"reference_number": "no-such-reference"}) == []


def test_a_filter_books_does_not_document_is_refused(writer: tuple[RunningSandbox, BooksClient]) -> None:
    """List Contacts documents no contact_type filter: the sandbox refuses it as Books would not
    apply it, so a client relying on it fails here instead of reading every contact."""
    _, client = writer
    with pytest.raises(ZohoInvalidDataError, match="contact_type") as raised:
        client.search("contacts", {"contact_type": "customer"})
    assert (raised.value.status, raised.value.code) == (400, "2")


def test_a_refused_write_raises_with_books_code(writer: tuple[RunningSandbox, BooksClient]) -> None:
    _, client = writer
    client.create_contact({"contact_name": "Only Once Inc"})
    with pytest.raises(ZohoInvalidDataError) as raised:
        client.create_contact({"contact_name": "Only Once Inc"})
    assert (raised.value.status, raised.value.code) == (400, "3062")
    with pytest.raises(ZohoInvalidDataError, match="customer_id"):
        client.create_invoice({"customer_id": "1", "line_items": [{"name": "x", "rate": 1}]})
    with pytest.raises(ValueError, match="does not create bills"):
        client._create("bills", {})


def test_a_failed_create_is_not_retried_blindly(writer: tuple[RunningSandbox, BooksClient]) -> None:
    sandbox, client = writer
    assert sandbox.state is not None
    assert client.organization_id  # discovered before the faults start
    sandbox.state.set_faults(fault_rate=1.0)
    with pytest.raises(ZohoServerError):
        client.create_contact({"contact_name": "Maybe Created Ltd"})
    sandbox.state.set_faults(fault_rate=0.0)
    # One attempt only: a 5xx may come after Zoho acted, so a second POST could duplicate.
    statuses = sandbox.stats()["calls"]["POST /books/v3/{entity}"]
    assert sum(statuses.values()) == 1
    assert all(int(status) >= 500 for status in statuses)
    assert client.search("contacts", {"contact_name": "Maybe Created Ltd"}) == []
