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


def list_contacts(books: httpx.Client) -> list[dict]:
    """Every contact of the `books` client's organization, newest first."""
    return list_all(books, "contacts", {})


@pytest.mark.parametrize(
    ("entity", "undocumented"),
    [
        ("invoices", {"sort_order": "A"}),  # List Invoices documents no sort_order
        ("invoices", {"sort_column": "last_modified_time"}),  # nor this sort column
        ("contacts", {"last_modified_time": "2026-11-20T00:00:00+0000"}),  # a contacts filter it lacks
        ("contacts", {"contact_type": "customer"}),
        ("items", {"modified_since": "2026-11-20"}),
    ],
)
def test_undocumented_list_parameters_are_refused(
    api: httpx.Client, org_id: str, entity: str, undocumented: dict
) -> None:
    response = api.get(f"/books/v3/{entity}", params={"organization_id": org_id, **undocumented})
    assert response.status_code == 400
    (name,) = undocumented
    assert response.json() == {"code": 2, "message": f"Invalid value passed for {name}"}


def test_undocumented_write_parameters_and_upsert_fields_are_refused(api: httpx.Client, org_id: str) -> None:
    invoice = api.post("/books/v3/invoices", params={"organization_id": org_id, "draft": "true"}, json={})
    assert invoice.json() == {"code": 2, "message": "Invalid value passed for draft"}
    upsert = api.put(
        "/books/v3/contacts",
        params={"organization_id": org_id},
        headers={
            "X-Unique-Identifier-Key": "cf_crm_account_id",
            "X-Unique-Identifier-Value": "1",
            "X-Upsert": "true",
        },
        json={"contact_name": "Undocumented Field Ltd", "zcrm_account_id": "1"},
    )
    assert upsert.status_code == 400
    assert upsert.json() == {"code": 2, "message": "Invalid value passed for zcrm_account_id"}


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


def test_last_modified_time_filters_invoices(api: httpx.Client, org_id: str, truth: BooksDataset) -> None:
    since = (ANCHOR - timedelta(days=9, hours=5)).astimezone(truth.zone)
    rows = list_all(
        api, "invoices", {"organization_id": org_id, "last_modified_time": since.strftime(BOOKS_TIME_FORMAT)}
    )
    times = [datetime.strptime(row["last_modified_time"], BOOKS_TIME_FORMAT) for row in rows]
    created = [datetime.strptime(row["created_time"], BOOKS_TIME_FORMAT) for row in rows]
    assert created == sorted(created, reverse=True)  # Books' default order: newest first
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
    params = {"organization_id": org_id, "page": 2, "sort_column": "created_time"}
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


# ---- writes: contacts, invoices and recurring invoices created through the API ---------------


@pytest.fixture(scope="module")
def writable() -> Iterator[RunningSandbox]:
    """A sandbox of its own: the ground-truth tests above must not see created records."""
    with start_sandbox(SandboxConfig(seed=11, records_per_module=RECORDS, anchor=ANCHOR)) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def books(writable: RunningSandbox) -> Iterator[httpx.Client]:
    with api_client(writable) as client:
        org = next(
            org["organization_id"]
            for org in client.get("/books/v3/organizations").json()["organizations"]
            if org["is_default_org"]
        )
        client.params = client.params.set("organization_id", org)
        yield client


def created(response: httpx.Response, key: str) -> dict:
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["code"] == 0
    assert body["message"]
    return body[key]


def test_a_created_contact_is_kept_listed_and_found_by_name(books: httpx.Client) -> None:
    contact = created(
        books.post(
            "/books/v3/contacts",
            json={
                "contact_name": "Zephyr Onboarding Ltd",
                "currency_id": "460000000000099",  # EUR
                "contact_persons": [
                    {"first_name": "Zoe", "email": "zoe@zephyr.example", "is_primary_contact": True}
                ],
            },
        ),
        "contact",
    )
    assert contact["contact_type"] == "customer"
    # Create a Contact documents no CRM link (Books' CRM integration makes those): not linked.
    assert (contact["zcrm_account_id"], contact["is_linked_with_zohocrm"]) == ("", False)
    assert contact["currency_code"] == "EUR"
    assert (contact["first_name"], contact["email"]) == ("Zoe", "zoe@zephyr.example")
    assert books.get(f"/books/v3/contacts/{contact['contact_id']}").json()["contact"] == contact
    found = books.get("/books/v3/contacts", params={"contact_name": "zephyr onboarding ltd"}).json()
    assert [row["contact_id"] for row in found["contacts"]] == [contact["contact_id"]]
    partial = books.get("/books/v3/contacts", params={"contact_name_contains": "Onboarding L"}).json()
    assert contact["contact_id"] in [row["contact_id"] for row in partial["contacts"]]
    newest = books.get("/books/v3/contacts", params={"per_page": 5}).json()["contacts"]
    assert newest[0]["contact_id"] == contact["contact_id"]  # created_time descending, like Books
    assert "contact_persons" not in newest[0]
    by_modification = books.get("/books/v3/contacts", params={"sort_column": "last_modified_time"}).json()
    assert by_modification["contacts"][0]["contact_id"] == contact["contact_id"]  # the newest edit first


def test_contact_names_are_unique_as_in_books(books: httpx.Client) -> None:
    created(books.post("/books/v3/contacts", json={"contact_name": "Unique Name GmbH"}), "contact")
    again = books.post("/books/v3/contacts", json={"contact_name": "unique name gmbh"})
    assert again.status_code == 400
    assert again.json()["code"] == 3062
    generated = list_contacts(books)[-1]  # the oldest: one the sandbox generated
    taken = generated["contact_name"]
    assert books.post("/books/v3/contacts", json={"contact_name": taken}).json()["code"] == 3062


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "contact_name"),
        ({"contact_name": "   "}, "contact_name"),
        ({"contact_name": "x" * 201}, "contact_name"),
        ({"contact_name": "Bad Type", "contact_type": "partner"}, "contact_type"),
        ({"contact_name": "Bad Currency", "currency_id": "1"}, "currency_id"),
        (
            {"contact_name": "Bad Field", "custom_fields": [{"label": "No Such Field", "value": "1"}]},
            "custom_fields",
        ),
        (  # Books documents index/label/value entries in contact requests, not API names
            {"contact_name": "API Name", "custom_fields": [{"api_name": "cf_segment", "value": "1"}]},
            "custom_fields",
        ),
        ({"contact_name": "Bad Terms", "payment_terms": -1}, "payment_terms"),
    ],
)
def test_invalid_contacts_are_refused_the_books_way(books: httpx.Client, body: dict, field: str) -> None:
    response = books.post("/books/v3/contacts", json=body)
    assert response.status_code == 400
    assert response.json() == {"code": 4, "message": f"Invalid value passed for {field}"}


def test_a_contact_is_upserted_by_a_unique_custom_field_value(books: httpx.Client) -> None:
    headers = {"X-Unique-Identifier-Key": "cf_crm_account_id", "X-Unique-Identifier-Value": "5551"}
    body = {"contact_name": "Upserted Ltd"}
    missing = books.put("/books/v3/contacts", json=body, headers=headers)
    assert (missing.status_code, missing.json()["code"]) == (404, 1002)  # no X-Upsert: update only
    first = books.put("/books/v3/contacts", json=body, headers={**headers, "X-Upsert": "true"})
    again = books.put("/books/v3/contacts", json=body, headers={**headers, "X-Upsert": "true"})
    assert (first.status_code, again.status_code) == (201, 200)
    contact = first.json()["contact"]
    assert again.json()["contact"]["contact_id"] == contact["contact_id"]
    assert again.json()["contact"]["last_modified_time"] == contact["last_modified_time"]  # nothing changed
    assert contact["custom_fields"] == [
        {
            "customfield_id": "460000000098001",
            "api_name": "cf_crm_account_id",
            "label": "CRM Account ID",
            "value": "5551",
        }
    ]
    renamed = books.put("/books/v3/contacts", json={"contact_name": "Upserted Two Ltd"}, headers=headers)
    assert renamed.json()["contact"]["contact_name"] == "Upserted Two Ltd"
    not_unique = {
        "X-Unique-Identifier-Key": "cf_segment",
        "X-Unique-Identifier-Value": "x",
        "X-Upsert": "true",
    }
    assert books.put("/books/v3/contacts", json=body, headers=not_unique).status_code == 400


def test_the_older_jsonstring_form_is_accepted_and_garbage_refused(books: httpx.Client) -> None:
    form = books.post("/books/v3/contacts", data={"JSONString": '{"contact_name": "Form Posted Inc"}'})
    assert created(form, "contact")["contact_name"] == "Form Posted Inc"
    garbage = books.post("/books/v3/contacts", content=b"[1, 2", headers={"Content-Type": "application/json"})
    assert garbage.status_code == 400
    assert garbage.json()["code"] == 4
    assert books.post("/books/v3/items", json={"name": "x"}).status_code == 404


def test_a_created_invoice_adds_up_and_is_found_by_reference(books: httpx.Client) -> None:
    customer = created(books.post("/books/v3/contacts", json={"contact_name": "Invoice Me Corp"}), "contact")
    item = books.get("/books/v3/items", params={"per_page": 1}).json()["items"][0]
    invoice = created(
        books.post(
            "/books/v3/invoices",
            json={
                "customer_id": customer["contact_id"],
                "reference_number": "zoho-deal-555",
                "line_items": [
                    {"name": "Onboarding", "rate": 1234.565, "quantity": 3},
                    {"item_id": item["item_id"], "quantity": 2},
                ],
            },
        ),
        "invoice",
    )
    assert invoice["status"] == "draft"
    assert invoice["customer_name"] == "Invoice Me Corp"
    lines = invoice["line_items"]
    assert lines[0]["rate"] == 1234.57  # cents, rounded half up
    assert lines[1]["name"] == item["name"]
    assert lines[1]["rate"] == item["rate"]
    assert sum(Decimal(str(line["item_total"])) for line in lines) == Decimal(str(invoice["total"]))
    assert Decimal(str(invoice["total"])) == Decimal("1234.57") * 3 + Decimal(str(item["rate"])) * 2
    assert invoice["balance"] == invoice["total"]
    all_invoices = books.get("/books/v3/invoices", params={"per_page": 1}).json()
    assert (
        all_invoices["invoices"][0]["invoice_number"] == invoice["invoice_number"] == f"INV-{RECORDS + 1:06d}"
    )
    by_reference = books.get("/books/v3/invoices", params={"reference_number": "zoho-deal-555"}).json()
    assert [row["invoice_id"] for row in by_reference["invoices"]] == [invoice["invoice_id"]]
    by_customer = books.get("/books/v3/invoices", params={"customer_id": customer["contact_id"]}).json()
    assert [row["invoice_id"] for row in by_customer["invoices"]] == [invoice["invoice_id"]]
    detail = books.get(f"/books/v3/invoices/{invoice['invoice_id']}").json()["invoice"]
    assert detail == invoice


def test_books_does_not_deduplicate_invoices_and_neither_does_the_sandbox(books: httpx.Client) -> None:
    customer = created(books.post("/books/v3/contacts", json={"contact_name": "Twice Billed"}), "contact")
    body = {
        "customer_id": customer["contact_id"],
        "reference_number": "same-reference",
        "line_items": [{"name": "x", "rate": 10}],
    }
    first = created(books.post("/books/v3/invoices", json=body), "invoice")
    second = created(books.post("/books/v3/invoices", json=body, params={"send": "true"}), "invoice")
    assert first["invoice_id"] != second["invoice_id"]
    assert second["status"] == "sent"
    listed = books.get("/books/v3/invoices", params={"reference_number": "same-reference"}).json()["invoices"]
    assert len(listed) == 2  # which is why callers look their key up before creating


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"customer_id": "1"}, "customer_id"),
        ({"line_items": []}, "line_items"),
        ({"line_items": [{"name": "x", "rate": -1}]}, "rate"),
        ({"line_items": [{"name": "x", "rate": 1, "quantity": 0}]}, "quantity"),
        ({"line_items": [{"rate": 1}]}, "name"),
        ({"line_items": [{"item_id": "42", "rate": 1}]}, "item_id"),
        ({"date": "2026-13-01"}, "date"),
    ],
)
def test_invalid_invoices_are_refused(books: httpx.Client, change: dict, field: str) -> None:
    customer = next(row for row in list_contacts(books) if row["contact_type"] == "customer")
    body = {
        "customer_id": customer["contact_id"],
        "line_items": [{"name": "x", "rate": 1}],
        **change,
    }
    response = books.post("/books/v3/invoices", json=body)
    assert response.status_code == 400
    assert response.json() == {"code": 4, "message": f"Invalid value passed for {field}"}


def test_a_vendor_cannot_be_invoiced(books: httpx.Client) -> None:
    vendor = next(row for row in list_contacts(books) if row["contact_type"] == "vendor")
    body = {"customer_id": vendor["contact_id"], "line_items": [{"name": "x", "rate": 1}]}
    assert books.post("/books/v3/invoices", json=body).json()["code"] == 4


def test_a_recurring_invoice_is_kept_with_a_unique_name(books: httpx.Client) -> None:
    customer = created(
        books.post("/books/v3/contacts", json={"contact_name": "Monthly Support Co"}), "contact"
    )
    body = {
        "recurrence_name": "support-monthly",
        "customer_id": customer["contact_id"],
        "recurrence_frequency": "months",
        "repeat_every": 1,
        "start_date": "2026-12-01",
        "end_date": "2027-11-30",
        "line_items": [{"name": "Support plan", "rate": 499}],
    }
    profile = created(books.post("/books/v3/recurringinvoices", json=body), "recurring_invoice")
    assert profile["status"] == "active"
    assert profile["next_invoice_date"] == "2026-12-01"
    assert profile["total"] == 499
    assert (
        books.get(f"/books/v3/recurringinvoices/{profile['recurrence_id']}").json()["recurring_invoice"]
        == profile
    )
    listed = books.get("/books/v3/recurringinvoices", params={"recurrence_name": "support-monthly"}).json()
    assert [row["recurrence_id"] for row in listed["recurringinvoices"]] == [profile["recurrence_id"]]
    duplicate = books.post("/books/v3/recurringinvoices", json=body)
    assert duplicate.status_code == 400
    assert duplicate.json()["code"] == 11012
    for change, field in (
        ({"recurrence_frequency": "fortnights"}, "recurrence_frequency"),
        ({"end_date": "2026-11-01"}, "end_date"),
        ({"start_date": None}, "start_date"),
        ({"repeat_every": 0}, "repeat_every"),
    ):
        refused = books.post(
            "/books/v3/recurringinvoices", json={**body, "recurrence_name": f"r-{field}", **change}
        )
        assert refused.json() == {"code": 4, "message": f"Invalid value passed for {field}"}


def test_created_ids_follow_from_the_seed_and_the_order_of_creation() -> None:
    config = SandboxConfig(seed=5, records_per_module=60, anchor=ANCHOR)
    ids = []
    for _ in range(2):
        with start_sandbox(config) as sandbox, api_client(sandbox) as client:
            org = next(
                o
                for o in client.get("/books/v3/organizations").json()["organizations"]
                if o["is_default_org"]
            )
            params = {"organization_id": org["organization_id"]}
            contact = created(
                client.post("/books/v3/contacts", params=params, json={"contact_name": "Same Ltd"}), "contact"
            )
            invoice = created(
                client.post(
                    "/books/v3/invoices",
                    params=params,
                    json={"customer_id": contact["contact_id"], "line_items": [{"name": "x", "rate": 1}]},
                ),
                "invoice",
            )
            ids.append(
                (contact["contact_id"], invoice["invoice_id"], invoice["line_items"][0]["line_item_id"])
            )
    assert ids[0] == ids[1]


# Last of the `books` tests: the writes it accepts would shift the invoice numbers others expect.
@pytest.mark.parametrize(
    ("entity", "documented", "undocumented"),
    [
        # https://www.zoho.com/books/api/v3/contacts/#create-a-contact: no CRM link, no top-level email
        ("contacts", {"notes": "n"}, {"zcrm_account_id": "1"}),
        ("contacts", {"website": "https://x.example"}, {"email": "a@x.example"}),
        # https://www.zoho.com/books/api/v3/invoices/#create-an-invoice
        ("invoices", {"notes": "n"}, {"draft": True}),
        ("invoices", {"terms": "t"}, {"line_items": [{"name": "x", "rate": 1, "price": 1}]}),
        # https://www.zoho.com/books/api/v3/recurring-invoices/#create-a-recurring-invoice
        ("recurringinvoices", {"salesperson_name": "S"}, {"notes": "n"}),
        ("recurringinvoices", {"repeat_every": 2}, {"line_items": [{"name": "x", "rate": 1, "amount": 1}]}),
    ],
)
def test_undocumented_body_fields_of_every_write_are_refused(
    books: httpx.Client, entity: str, documented: dict, undocumented: dict
) -> None:
    case = f"{entity} {sorted(documented)} {sorted(undocumented)}"
    customer = created(books.post("/books/v3/contacts", json={"contact_name": f"Customer {case}"}), "contact")
    bodies = {
        "contacts": {"contact_name": f"Contact {case}"},
        "invoices": {"customer_id": customer["contact_id"], "line_items": [{"name": "x", "rate": 1}]},
        "recurringinvoices": {
            "recurrence_name": f"body {case}",
            "customer_id": customer["contact_id"],
            "recurrence_frequency": "months",
            "start_date": "2026-12-01",
            "line_items": [{"name": "x", "rate": 1}],
        },
    }
    refused = books.post(f"/books/v3/{entity}", json={**bodies[entity], **documented, **undocumented})
    assert refused.status_code == 400
    named = next(iter(undocumented))
    if named == "line_items":
        named = next(key for key in undocumented["line_items"][0] if key not in ("name", "rate"))
    assert refused.json() == {"code": 2, "message": f"Invalid value passed for {named}"}
    assert books.post(f"/books/v3/{entity}", json={**bodies[entity], **documented}).status_code == 201
