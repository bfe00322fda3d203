"""The module catalog: shipped modules, ZOHO_MODULES selection, names and keys other layers use."""

from __future__ import annotations

from pathlib import Path

import pytest

from zoho_pipelines.catalog import (
    DEFAULT_CATALOG_PATH,
    Catalog,
    CatalogError,
    CursorFormat,
    FetchStrategy,
    check_crm_modules,
    default_catalog,
    selected_modules,
    snake_case,
)
from zoho_pipelines.sandbox.server import RunningSandbox
from zoho_pipelines.settings import load_settings
from zoho_pipelines.zoho.client import ZohoClient


def test_default_selection_is_the_four_crm_modules() -> None:
    specs = selected_modules({})
    assert [spec.selector for spec in specs] == ["crm:leads", "crm:contacts", "crm:accounts", "crm:deals"]
    leads = specs[0]
    assert (leads.api_name, leads.endpoint, leads.records_key) == ("Leads", "/crm/v8/Leads", "data")
    assert (leads.primary_key, leads.cursor_field, leads.cursor_format) == ("id", "Modified_Time", "iso8601")
    assert (leads.fetch, leads.deletions, leads.has_field_metadata_api) == (FetchStrategy.AUTO, True, True)
    assert leads.lake_asset_key == ("lake", "crm", "leads")
    assert leads.warehouse_asset_key == ("warehouse", "crm", "leads")
    assert (leads.group_name, leads.warehouse_schema, leads.warehouse_table) == (
        "zoho_crm",
        "zoho_crm",
        "leads",
    )


def test_zoho_modules_selects_listed_and_unlisted_modules_in_order() -> None:
    specs = selected_modules({"ZOHO_MODULES": " crm:leads, crm:deals,crm:Vendors ,books:invoices,crm:Leads"})
    assert [spec.selector for spec in specs] == ["crm:leads", "crm:deals", "crm:vendors", "books:invoices"]
    invoices = specs[-1]
    assert (invoices.api_name, invoices.endpoint, invoices.records_key) == (
        "invoices",
        "/books/v3/invoices",
        "invoices",
    )
    assert (invoices.primary_key, invoices.cursor_field, invoices.deletions) == (
        "invoice_id",
        "last_modified_time",
        False,
    )
    assert invoices.fetch is FetchStrategy.WINDOWS
    assert not invoices.has_field_metadata_api


@pytest.mark.parametrize(
    ("name", "module", "api_name"),
    [
        ("CustomModule1", "custom_module1", "CustomModule1"),
        ("Field_Visits", "field_visits", "Field_Visits"),
        ("field_visits", "field_visits", "Field_Visits"),
        ("SalesOrders", "sales_orders", "SalesOrders"),
    ],
)
def test_any_crm_module_is_admitted_by_api_name(name: str, module: str, api_name: str) -> None:
    spec = default_catalog().get("crm", name)
    assert (spec.module, spec.api_name, spec.endpoint) == (module, api_name, f"/crm/v8/{api_name}")
    assert (spec.primary_key, spec.cursor_field, spec.deletions) == ("id", "Modified_Time", True)


def test_books_and_projects_modules_are_keyed_and_typed() -> None:
    catalog = default_catalog()
    books = {spec.module: spec for spec in catalog.select("books:*")}
    assert set(books) == {"contacts", "invoices", "bills", "customer_payments", "items"}
    assert {module: spec.primary_key for module, spec in books.items()} == {
        "contacts": "contact_id",
        "invoices": "invoice_id",
        "bills": "bill_id",
        "customer_payments": "payment_id",
        "items": "item_id",
    }
    assert books["customer_payments"].endpoint == "/books/v3/customerpayments"
    assert all(spec.fields for spec in books.values())
    tasks = catalog.get("projects", "tasks")
    assert (tasks.parent, tasks.cursor_field, tasks.cursor_format) == (
        "projects",
        "last_updated_time_long",
        CursorFormat.EPOCH_MS,
    )
    assert tasks.endpoint == "/restapi/portal/{portal_id}/projects/{project_id}/tasks/"
    assert catalog.get("projects", "projects").cursor_field == "updated_date_long"


@pytest.mark.parametrize(
    ("selection", "message"),
    [
        ("crm", "app:module"),
        ("crm:", "app:module"),
        ("erp:things", "unknown Zoho app 'erp'"),
        ("books:estimates", "unknown books module 'estimates'; known: bills, contacts"),
        ("crm:../settings", "letters, digits and underscores"),
        ("crm:Leads?fields=x", "letters, digits and underscores"),
    ],
)
def test_bad_selections_say_what_is_wrong(selection: str, message: str) -> None:
    with pytest.raises(CatalogError, match=message.replace("?", r"\?")):
        default_catalog().select(selection)


def test_adding_a_module_is_one_line_of_configuration(tmp_path: Path) -> None:
    text = DEFAULT_CATALOG_PATH.read_text(encoding="utf-8").replace(
        "[apps.crm.modules]\n", '[apps.crm.modules]\nvisits = { api_name = "Field_Visits", fetch = "bulk" }\n'
    )
    path = tmp_path / "catalog.toml"
    path.write_text(text, encoding="utf-8")

    [visits] = Catalog.from_toml(path).select("crm:visits")
    assert (visits.api_name, visits.endpoint, visits.fetch) == (
        "Field_Visits",
        "/crm/v8/Field_Visits",
        "bulk",
    )


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"apps": {"crm": {"flavour": "x"}}}, "unknown keys"),
        ({"apps": {"crm": {"modules": {"leads": {"api_name": "Leads"}}}}}, "missing setting 'endpoint'"),
        (
            {
                "apps": {
                    "x": {
                        "endpoint": "/e",
                        "primary_key": "id",
                        "cursor_field": "t",
                        "cursor_format": "iso8601",
                        "fetch": "sometimes",
                        "deletions": False,
                        "modules": {"m": {"api_name": "m"}},
                    }
                }
            },
            "'sometimes' is not a valid FetchStrategy",
        ),
        ({"apps": {}, "default_selection": ["crm:leads"]}, "unknown Zoho app 'crm'"),
    ],
)
def test_a_broken_catalog_fails_at_load(document: dict, message: str) -> None:
    with pytest.raises(CatalogError, match=message):
        Catalog.from_mapping(document)


def test_an_unreadable_catalog_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "catalog.toml"
    path.write_text("apps = [", encoding="utf-8")
    with pytest.raises(CatalogError, match=r"catalog\.toml"):
        Catalog.from_toml(path)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Leads", "leads"),
        ("Sales_Orders", "sales_orders"),
        ("CustomModule1", "custom_module1"),
        ("HTMLForms", "html_forms"),
    ],
)
def test_snake_case(name: str, expected: str) -> None:
    assert snake_case(name) == expected


def test_zoho_modules_comes_from_dotenv_and_an_error_names_it_and_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ZOHO_MODULES", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("ZOHO_MODULES=crm:deals,books:invoices\n")
    assert [spec.selector for spec in selected_modules()] == ["crm:deals", "books:invoices"]
    (tmp_path / ".env").write_text("ZOHO_MODULES=books:nosuch\n")
    with pytest.raises(CatalogError) as raised:
        selected_modules()
    message = str(raised.value)
    assert message.startswith("ZOHO_MODULES: unknown books module 'nosuch'; known: bills, ")
    assert message.endswith("(fix ZOHO_MODULES in the environment or .env)")


def test_crm_modules_are_checked_against_the_orgs_module_list(
    sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CRM admits any api name (custom modules), so only GET /settings/modules can say it exists."""
    for name, value in sandbox.env().items():
        monkeypatch.setenv(name, value)
    with ZohoClient.from_settings(load_settings()) as client:
        org_modules = client.crm.modules()
    catalog = default_catalog()
    check_crm_modules(catalog.select(None), org_modules)  # the default four exist
    check_crm_modules(catalog.select("books:invoices"), org_modules)  # only CRM modules are its business
    with pytest.raises(CatalogError) as raised:
        check_crm_modules(catalog.select("crm:deals,crm:Vendors,crm:nosuch"), org_modules)
    message = str(raised.value)
    assert message.startswith("ZOHO_MODULES: this Zoho org has no CRM module crm:vendors, crm:nosuch (fix ")
    assert "Deals" in message.split("the org's modules: ")[1]


def test_a_module_the_api_does_not_serve_counts_as_missing() -> None:
    """`api_supported: false` (e.g. Zoho's Home or Feeds) is listed but cannot be read through the API."""
    org_modules = [
        {"api_name": "Deals", "api_supported": True},
        {"api_name": "Visits", "api_supported": False},
    ]
    specs = default_catalog().select("crm:deals,crm:Visits")
    with pytest.raises(
        CatalogError, match=r"no CRM module crm:visits \(fix ZOHO_MODULES; the org's modules: Deals\)"
    ):
        check_crm_modules(specs, org_modules)
