"""Every CRM field type, as Zoho's Fields Metadata API reports it and the records API returns it.

Expectations are written out literally from Zoho's documentation so a reviewer can compare them:
- Fields Metadata API: https://www.zoho.com/crm/developer/docs/api/v8/field-meta.html
  (data_type and json_type; formula.return_type; subform, multiselectlookup, multi_module_lookup,
  rollup_summary objects).
- Records: https://www.zoho.com/crm/developer/docs/api/v8/get-records.html and the record schemas
  of Zoho's v8 OpenAPI spec (record.json: Record.Tag -> tags.json Tag, Image_Upload, FileDetails).
- Subforms: https://www.zoho.com/crm/developer/docs/api/v8/subforms.html (rows carry id,
  Parent_Id and Created_Time).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from zoho_pipelines.sandbox.server import RunningSandbox
from zoho_pipelines_tests.sandbox.helpers import api_client

MODULE = "Service_Contracts"
EXPECTED_TYPES = {
    "Owner": ("ownerlookup", "jsonobject"),
    "Name": ("text", "string"),
    "Contract_Number": ("autonumber", "string"),
    "Account_Name": ("lookup", "jsonobject"),
    "Email": ("email", "string"),
    "Phone": ("phone", "string"),
    "Portal_URL": ("website", "string"),
    "Status": ("picklist", "string"),
    "Service_Lines": ("multiselectpicklist", "jsonarray"),
    "Seats": ("integer", "integer"),
    "Billing_Reference": ("bigint", "string"),
    "Uptime_SLA": ("double", "double"),
    "Contract_Value": ("currency", "double"),
    "Discount": ("percent", "double"),
    "Auto_Renew": ("boolean", "boolean"),
    "Start_Date": ("date", "string"),
    "Signed_At": ("datetime", "string"),
    "Notes": ("textarea", "string"),
    "Account_Manager": ("userlookup", "jsonobject"),
    "Related_Deals": ("multiselectlookup", "jsonarray"),
    "Reviewers": ("multiuserlookup", "jsonarray"),
    "Regarding": ("multi_module_lookup", "jsonobject"),
    "Line_Items": ("subform", "jsonarray"),
    "Signed_Documents": ("fileupload", "jsonarray"),
    "Site_Photos": ("imageupload", "jsonarray"),
    "Record_Image": ("profileimage", "string"),
    "Days_To_Renewal": ("formula", "double"),
    "Monthly_Value": ("formula", "double"),
    "Status_Label": ("formula", "string"),
    "Is_Expired": ("formula", "boolean"),
    "Renewal_Notice_Date": ("formula", "string"),
    "Renewal_Due_At": ("formula", "string"),
    "Total_Billed": ("rollup_summary", "double"),
    "Data_Processing_Basis_Details": ("consent_lookup", "jsonobject"),
    "Tag": ("text", "jsonarray"),
    "Created_By": ("userlookup", "jsonobject"),
    "Modified_Time": ("datetime", "string"),
}
FORMULA_RETURNS = {
    "Days_To_Renewal": "double",
    "Monthly_Value": "currency",
    "Status_Label": "text",
    "Is_Expired": "boolean",
    "Renewal_Notice_Date": "date",
    "Renewal_Due_At": "datetime",
}
TAG_KEYS = {"name", "id", "color_code"}
FILE_KEYS = {  # record.json FileDetails
    "Created_Time__s", "File_Name__s", "Modified_Time__s", "Created_By__s", "Size__s", "id", "Owner__s",
    "Modified_By__s", "File_Id__s",
}  # fmt: skip
IMAGE_KEYS = {  # record.json Image_Upload
    "Preview_Id__s", "File_Name__s", "Description__s", "Size__s", "id", "Sequence_Number__s", "State__s",
    "File_Id__s", "Created_Time__s", "Modified_Time__s", "Created_By__s", "Owner__s", "Modified_By__s",
}  # fmt: skip
PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "double": (float, int),
    "boolean": (bool,),
    "jsonobject": (dict,),
    "jsonarray": (list,),
}


@pytest.fixture(scope="module")
def api(sandbox: RunningSandbox) -> Iterator[httpx.Client]:
    with api_client(sandbox) as client:
        yield client


@pytest.fixture(scope="module")
def metadata(api: httpx.Client) -> dict[str, dict[str, Any]]:
    fields = api.get("/crm/v8/settings/fields", params={"module": MODULE}).json()["fields"]
    return {field["api_name"]: field for field in fields}


@pytest.fixture(scope="module")
def records(api: httpx.Client, metadata: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    response = api.get(f"/crm/v8/{MODULE}", params={"fields": ",".join(metadata), "per_page": 200})
    assert response.status_code == 200
    return response.json()["data"]


def test_metadata_reports_each_type_as_zoho_does(metadata: dict[str, dict[str, Any]]) -> None:
    actual = {name: (metadata[name]["data_type"], metadata[name]["json_type"]) for name in EXPECTED_TYPES}
    assert actual == EXPECTED_TYPES
    assert {name: metadata[name]["formula"]["return_type"] for name in FORMULA_RETURNS} == FORMULA_RETURNS
    assert metadata["Name"]["formula"] is None
    assert metadata["Total_Billed"]["rollup_summary"]["return_type"] == "currency"
    assert metadata["Line_Items"]["subform"]["module"] == "Contract_Line_Items"
    linking = metadata["Related_Deals"]["multiselectlookup"]
    assert linking["linking_module"]["api_name"] == "Service_Contracts_X_Deals"
    assert linking["connected_module"]["api_name"] == "Deals"
    modules = [module["api_name"] for module in metadata["Regarding"]["multi_module_lookup"]["modules"]]
    assert modules == ["Leads", "Contacts", "Accounts", "Deals"]
    assert metadata["Account_Name"]["lookup"]["module"]["api_name"] == "Accounts"


def test_every_value_travels_as_its_json_type(
    records: list[dict[str, Any]], metadata: dict[str, dict[str, Any]]
) -> None:
    assert len(records) == 200
    seen_non_null: set[str] = set()
    for record in records:
        for name, value in record.items():
            if name == "id" or value is None:
                continue
            kinds = PYTHON_TYPES[metadata[name]["json_type"]]
            assert isinstance(value, kinds), f"{name}={value!r} is not {metadata[name]['json_type']}"
            assert not (isinstance(value, bool) and bool not in kinds), name
            if value not in ([], ""):
                seen_non_null.add(name)
    assert seen_non_null == set(metadata), f"never filled: {set(metadata) - seen_non_null}"


def test_object_and_list_values_have_zoho_shapes(records: list[dict[str, Any]]) -> None:
    for record in records:
        for tag in record["Tag"]:
            assert set(tag) == TAG_KEYS
            assert tag["name"]
            assert tag["id"].isdigit()
        for row in record["Line_Items"]:
            assert row["Parent_Id"] == {"name": record["Name"], "id": record["id"]}
            assert {"id", "Created_Time", "Item", "Quantity", "Unit_Price", "Line_Total"} <= set(row)
        total = round(sum(row["Line_Total"] for row in record["Line_Items"]), 2)
        assert record["Total_Billed"] == total
        assert all(set(item) == FILE_KEYS for item in record["Signed_Documents"])
        assert all(set(item) == IMAGE_KEYS for item in record["Site_Photos"])
        for row in record["Related_Deals"]:
            assert set(row) == {"Related_Deals", "id"}
            assert set(row["Related_Deals"]) == {"name", "id"}
        for row in record["Reviewers"]:
            assert set(row) == {"Reviewers", "id"}
        if record["Regarding"] is not None:
            assert set(record["Regarding"]) == {"module", "name", "id"}
            assert record["Regarding"]["module"]["api_name"] in {"Leads", "Contacts", "Accounts", "Deals"}
        if record["Account_Manager"] is not None:
            assert set(record["Account_Manager"]) == {"name", "id", "email"}
        if record["Data_Processing_Basis_Details"] is not None:
            assert set(record["Data_Processing_Basis_Details"]) == {"name", "id"}
        assert record["Is_Expired"] is (record["Status"] == "Expired")
        assert record["Monthly_Value"] == (
            None if record["Contract_Value"] is None else round(record["Contract_Value"] / 12, 2)
        )


def test_related_values_point_at_real_records(api: httpx.Client, records: list[dict[str, Any]]) -> None:
    """Multi-select lookup rows and multi-module lookups name records that exist, by their names."""
    deal = next(row["Related_Deals"] for record in records for row in record["Related_Deals"])
    fetched = api.get(f"/crm/v8/Deals/{deal['id']}", params={"fields": "Deal_Name"}).json()["data"][0]
    assert fetched["Deal_Name"] == deal["name"]
    regarding = next(record["Regarding"] for record in records if record["Regarding"])
    module = regarding["module"]["api_name"]
    assert api.get(f"/crm/v8/{module}/{regarding['id']}").status_code == 200


@pytest.mark.parametrize("module", ["Leads", "Contacts", "Accounts", "Deals", MODULE])
def test_every_module_has_the_standard_tag_field(api: httpx.Client, module: str) -> None:
    fields = api.get("/crm/v8/settings/fields", params={"module": module}).json()["fields"]
    tag = next(field for field in fields if field["api_name"] == "Tag")
    assert (tag["data_type"], tag["json_type"]) == ("text", "jsonarray")
    data = api.get(f"/crm/v8/{module}", params={"fields": "Tag", "per_page": 200}).json()["data"]
    values = [record["Tag"] for record in data]
    assert any(value == [] for value in values), "untagged records carry []"
    tagged = [tag for value in values for tag in value]
    assert tagged
    assert all(set(item) == TAG_KEYS for item in tagged)
    assert any(item["color_code"] is None for item in tagged)
    assert any(isinstance(item["color_code"], str) and item["color_code"].startswith("#") for item in tagged)


def test_modules_metadata_lists_the_custom_module(api: httpx.Client) -> None:
    modules = {module["api_name"]: module for module in api.get("/crm/v8/settings/modules").json()["modules"]}
    assert modules[MODULE]["generated_type"] == "custom"
    assert modules[MODULE]["plural_label"] == "Service Contracts"
    assert modules["Deals"]["generated_type"] == "default"
    for module in modules.values():
        view = module["custom_view"]
        assert isinstance(view, dict), "modules.json types custom_view as an object"
        assert view["default"] is True
        assert view["module"]["id"] == module["id"]
        assert view["name"].startswith("All ")
        assert view["id"].isdigit()
        assert isinstance(view["fields"], list)
        assert view["fields"]


def test_put_writes_tags_and_refuses_types_written_elsewhere(sandbox_factory: Any) -> None:
    running = sandbox_factory(records_per_module=100)
    deal = str(running.state.crm.ids("Deals")[0])
    contract = str(running.state.crm.ids(MODULE)[0])
    with api_client(running) as client:
        body = {"data": [{"id": deal, "Tag": [{"name": "Hot"}, "Brand new"]}]}
        assert client.put("/crm/v8/Deals", json=body).status_code == 200
        tags = client.get(f"/crm/v8/Deals/{deal}", params={"fields": "Tag"}).json()["data"][0]["Tag"]
        assert [tag["name"] for tag in tags] == ["Hot", "Brand new"]
        assert tags[0]["color_code"] is not None
        assert tags[1]["color_code"] is None
        for field, value in (
            ("Line_Items", [{"Item": "x"}]),
            ("Site_Photos", []),
            ("Record_Image", "abc"),
            ("Days_To_Renewal", 3.0),
        ):
            answer = client.put(f"/crm/v8/{MODULE}", json={"data": [{"id": contract, field: value}]})
            assert answer.status_code == 400, field
            assert answer.json()["data"][0]["code"] == "INVALID_DATA"
            assert answer.json()["data"][0]["details"]["api_name"] == field


def test_records_are_seed_deterministic(sandbox_factory: Any) -> None:
    first, second = sandbox_factory(records_per_module=50), sandbox_factory(records_per_module=50)
    fields = ",".join(EXPECTED_TYPES)
    bodies = []
    for running in (first, second):
        with api_client(running) as client:
            bodies.append(client.get(f"/crm/v8/{MODULE}", params={"fields": fields}).json()["data"])
    assert bodies[0] == bodies[1]


def test_subform_module_describes_its_rows(api: httpx.Client, records: list[dict[str, Any]]) -> None:
    """GET /settings/fields?module=<subform api name> (Subform API) names every key a row carries."""
    fields = api.get("/crm/v8/settings/fields", params={"module": "Contract_Line_Items"}).json()["fields"]
    types = {field["api_name"]: (field["data_type"], field["json_type"]) for field in fields}
    assert types["Quantity"] == ("integer", "integer")
    assert types["Unit_Price"] == ("currency", "double")
    assert types["Parent_Id"] == ("lookup", "jsonobject")
    parent = next(field for field in fields if field["api_name"] == "Parent_Id")
    assert parent["lookup"]["module"]["api_name"] == MODULE
    rows = [row for record in records for row in record["Line_Items"]]
    assert rows
    assert all(set(row) <= {*types, "id"} for row in rows)
    modules = [module["api_name"] for module in api.get("/crm/v8/settings/modules").json()["modules"]]
    assert "Contract_Line_Items" not in modules
