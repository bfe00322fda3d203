"""The sandbox's Zoho Books v3 endpoints, spoken to with plain httpx over loopback."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import numpy as np
import pytest

from zoho_pipelines.sandbox.books import organizations_for
from zoho_pipelines.sandbox.books_data import BOOKS_TIME_FORMAT, BooksDataset, BooksSizes
from zoho_pipelines.sandbox.lazy_records import epoch_ms
from zoho_pipelines.sandbox.server import RunningSandbox, SandboxConfig, start_sandbox

ANCHOR = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
RECORDS = 700


def api_client(running: RunningSandbox) -> httpx.Client:
    env = running.env()
    token = httpx.post(
        f"{env['ZOHO_ACCOUNTS_URL']}/oauth/v2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": env["ZOHO_REFRESH_TOKEN"],
            "client_id": env["ZOHO_CLIENT_ID"],
            "client_secret": env["ZOHO_CLIENT_SECRET"],
        },
    ).json()["access_token"]
    return httpx.Client(base_url=running.url, headers={"Authorization": f"Zoho-oauthtoken {token}"})


@pytest.fixture(scope="module")
def running() -> Iterator[RunningSandbox]:
    with start_sandbox(SandboxConfig(seed=11, records_per_module=RECORDS, anchor=ANCHOR)) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def api(running: RunningSandbox) -> Iterator[httpx.Client]:
    with api_client(running) as client:
        yield client


@pytest.fixture(scope="module")
def truth(running: RunningSandbox) -> BooksDataset:
    """The default organization's data rebuilt from the same inputs (proves determinism too)."""
    assert running.state is not None
    return next(
        org for org in organizations_for(running.state.config, running.state.crm) if org.is_default_org
    ).data


@pytest.fixture(scope="module")
def org_id(api: httpx.Client) -> str:
    organizations = api.get("/books/v3/organizations").json()["organizations"]
    return next(org["organization_id"] for org in organizations if org["is_default_org"])


def list_all(api: httpx.Client, entity: str, params: dict) -> list[dict]:
    rows, page = [], 1
    while True:
        body = api.get(f"/books/v3/{entity}", params={**params, "page": page}).json()
        assert body["code"] == 0
        assert body["page_context"]["page"] == page
        rows.extend(body[entity])
        if not body["page_context"]["has_more_page"]:
            return rows
        page += 1


def test_organizations_list_a_default_one_after_an_empty_one(api: httpx.Client) -> None:
    body = api.get("/books/v3/organizations").json()
    assert body["code"] == 0
    flags = [org["is_default_org"] for org in body["organizations"]]
    assert flags == [False, True]
    empty = body["organizations"][0]["organization_id"]
    listing = api.get("/books/v3/invoices", params={"organization_id": empty}).json()
    assert listing["invoices"] == []
    assert listing["page_context"]["has_more_page"] is False


def test_organization_id_is_required_and_checked(api: httpx.Client) -> None:
    missing = api.get("/books/v3/invoices")
    assert missing.status_code == 400
    assert missing.json() == {"code": 2, "message": "Invalid value passed for organization_id"}
    wrong = api.get("/books/v3/contacts", params={"organization_id": "999"})
    assert wrong.status_code == 400
    assert wrong.json()["code"] == 6041
    assert api.get("/books/v3/ledgers", params={"organization_id": "999"}).status_code == 404


@pytest.mark.parametrize("entity", ["contacts", "items", "invoices", "bills", "customerpayments"])
def test_pages_cover_every_record_once(
    api: httpx.Client, org_id: str, truth: BooksDataset, entity: str
) -> None:
    rows = list_all(api, entity, {"organization_id": org_id, "per_page": 150})
    id_field = {"customerpayments": "payment_id"}.get(entity, entity[:-1] + "_id")
    expected = {str(int(value)) for value in truth.timelines[entity].ids}
    assert len(rows) == len(expected) > 0
    assert {row[id_field] for row in rows} == expected


def test_per_page_is_capped_at_200(api: httpx.Client, org_id: str) -> None:
    body = api.get("/books/v3/invoices", params={"organization_id": org_id, "per_page": 500}).json()
    assert body["page_context"]["per_page"] == 200
    assert len(body["invoices"]) == 200
    bad = api.get("/books/v3/invoices", params={"organization_id": org_id, "page": "zero"})
    assert bad.status_code == 400
    assert bad.json()["code"] == 2


def test_last_modified_time_filters_and_sorts(api: httpx.Client, org_id: str, truth: BooksDataset) -> None:
    since = (ANCHOR - timedelta(days=9, hours=5)).astimezone(truth.zone)
    rows = list_all(
        api,
        "invoices",
        {
            "organization_id": org_id,
            "sort_column": "last_modified_time",
            "sort_order": "A",
            "last_modified_time": since.strftime(BOOKS_TIME_FORMAT),
        },
    )
    times = [datetime.strptime(row["last_modified_time"], BOOKS_TIME_FORMAT) for row in rows]
    assert times == sorted(times)
    assert all(moment >= since for moment in times)
    expected = int((truth.timelines["invoices"].modified_ms >= epoch_ms(since)).sum())
    assert len(rows) == expected > 200  # more than one page


def test_invoice_detail_adds_up_and_lists_leave_line_items_out(
    api: httpx.Client, org_id: str, truth: BooksDataset
) -> None:
    listing = api.get("/books/v3/invoices", params={"organization_id": org_id, "per_page": 40}).json()
    for row in listing["invoices"]:
        assert "line_items" not in row
        detail = api.get(f"/books/v3/invoices/{row['invoice_id']}", params={"organization_id": org_id}).json()
        invoice = detail["invoice"]
        lines = invoice["line_items"]
        assert lines
        assert sum(Decimal(str(line["item_total"])) for line in lines) == Decimal(str(invoice["sub_total"]))
        total = Decimal(str(invoice["sub_total"])) + Decimal(str(invoice["tax_total"]))
        assert Decimal(str(invoice["total"])) == total
        if invoice["status"] == "void":
            assert invoice["balance"] == 0
        else:
            assert Decimal(str(invoice["balance"])) == total - Decimal(str(invoice["payment_made"]))
        assert {key: value for key, value in invoice.items() if key != "line_items"} == row
    missing = api.get("/books/v3/invoices/460000000000001", params={"organization_id": org_id})
    assert missing.status_code == 404
    assert missing.json()["code"] == 1002


def test_customers_are_the_crm_accounts(api: httpx.Client, org_id: str, running: RunningSandbox) -> None:
    assert running.state is not None
    accounts = {str(int(value)) for value in running.state.crm.ids("Accounts")}
    crm_contacts = {str(int(value)) for value in running.state.crm.ids("Contacts")}
    contacts = list_all(api, "contacts", {"organization_id": org_id})
    customers = [row for row in contacts if row["contact_type"] == "customer"]
    vendors = [row for row in contacts if row["contact_type"] == "vendor"]
    assert {row["zcrm_account_id"] for row in customers} == accounts
    assert len(customers) == len(accounts)
    assert all(row["zcrm_contact_id"] in crm_contacts for row in customers)
    assert vendors
    assert all(row["zcrm_account_id"] == "" for row in vendors)


def test_payments_settle_their_invoices(api: httpx.Client, org_id: str) -> None:
    payments = api.get(
        "/books/v3/customerpayments", params={"organization_id": org_id, "per_page": 25}
    ).json()
    for row in payments["customerpayments"]:
        payment = api.get(
            f"/books/v3/customerpayments/{row['payment_id']}", params={"organization_id": org_id}
        ).json()["payment"]
        applied = payment["invoices"][0]
        invoice = api.get(
            f"/books/v3/invoices/{applied['invoice_id']}", params={"organization_id": org_id}
        ).json()["invoice"]
        assert invoice["status"] in ("paid", "partially_paid")
        assert invoice["customer_id"] == payment["customer_id"]
        assert applied["amount_applied"] == payment["amount"] == invoice["payment_made"]
        recorded = datetime.strptime(payment["created_time"], BOOKS_TIME_FORMAT)
        assert datetime.strptime(invoice["last_modified_time"], BOOKS_TIME_FORMAT) >= recorded


def test_bills_belong_to_vendors(api: httpx.Client, org_id: str) -> None:
    vendors = {
        row["contact_id"]
        for row in list_all(api, "contacts", {"organization_id": org_id})
        if row["contact_type"] == "vendor"
    }
    bills = api.get("/books/v3/bills", params={"organization_id": org_id}).json()["bills"]
    assert bills
    assert {bill["vendor_id"] for bill in bills} <= vendors


def test_same_seed_serves_identical_pages(running: RunningSandbox, api: httpx.Client, org_id: str) -> None:
    config = SandboxConfig(seed=11, records_per_module=RECORDS, anchor=ANCHOR)
    params = {"organization_id": org_id, "page": 2, "sort_column": "last_modified_time", "sort_order": "A"}
    with start_sandbox(config) as twin, api_client(twin) as twin_api:
        assert (
            twin_api.get("/books/v3/invoices", params=params).content
            == api.get("/books/v3/invoices", params=params).content
        )


def test_a_million_entities_are_columns_not_dicts() -> None:
    started = time.perf_counter()
    data = BooksDataset(
        seed=3,
        anchor=ANCHOR,
        history_days=365,
        timezone="Europe/Berlin",
        sizes=BooksSizes.for_records(420_000),
        account_ids=np.arange(1, 100_001, dtype=np.int64),
        contact_ids=np.arange(1, 100_001, dtype=np.int64),
    )
    built_s = time.perf_counter() - started
    entities = sum(len(timeline) for timeline in data.timelines.values())
    column_bytes = sum(
        array.nbytes
        for timeline in data.timelines.values()
        for array in (timeline.ids, timeline.created_ms, timeline.modified_ms)
    )
    assert entities >= 1_000_000
    assert column_bytes < 64 * entities  # a few int64 columns; a dict per record would be ~1-2 kB
    assert built_s < 10
    last = len(data.timelines["invoices"]) - 1
    assert data.render("invoices", last)["invoice_number"] == f"INV-{last + 1:06d}"
