"""Response SHAPES checked against hand-written expectations derived from Zoho's v8 spec.

Each expectation maps a key to the JSON types it may hold; `REQUIRED` keys must be present.
They are kept deliberately small and literal, so a reviewer can compare them with the spec.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from zoho_pipelines.sandbox.server import RunningSandbox
from zoho_pipelines_tests.sandbox.helpers import api_client

STR, INT, BOOL, NULL, OBJ, LIST = str, int, bool, type(None), dict, list

ERROR = {"code": STR, "details": OBJ, "message": STR, "status": STR}
RECORDS_INFO = {
    "per_page": INT,
    "count": INT,
    "page": INT,
    "sort_by": STR,
    "sort_order": STR,
    "more_records": BOOL,
    "next_page_token": (STR, NULL),
    "previous_page_token": (STR, NULL),
    "page_token_expiry": (STR, NULL),
}
DELETED_ENTRY = {
    "deleted_by": OBJ,
    "id": STR,
    "display_name": STR,
    "type": STR,
    "created_by": OBJ,
    "deleted_time": STR,
}
PAGE_INFO = {"per_page": INT, "count": INT, "page": INT, "more_records": BOOL}
FIELD = {
    "api_name": STR,
    "data_type": STR,
    "json_type": STR,
    "length": INT,
    "decimal_place": (INT, NULL),
    "custom_field": BOOL,
    "read_only": BOOL,
    "field_read_only": BOOL,
    "system_mandatory": BOOL,
    "pick_list_values": LIST,
    "lookup": (OBJ, NULL),
    "display_label": STR,
    "id": STR,
    "visible": BOOL,
    "formula": (OBJ, NULL),
    "currency": (OBJ, NULL),
    "unique": (OBJ, NULL),
    "operation_type": OBJ,
}
PICK_LIST_VALUE = {"display_value": STR, "actual_value": STR, "sequence_number": INT, "id": STR, "type": STR}
MODULE = {
    "api_name": STR,
    "id": STR,
    "module_name": STR,
    "singular_label": STR,
    "plural_label": STR,
    "api_supported": BOOL,
    "generated_type": STR,
    "creatable": BOOL,
    "editable": BOOL,
    "viewable": BOOL,
    "deletable": BOOL,
    "profiles": LIST,
    "modified_time": (STR, NULL),
}
UPDATE_SUCCESS = {"code": STR, "details": OBJ, "message": STR, "status": STR}
UPDATE_DETAILS = {"Modified_Time": STR, "Modified_By": OBJ, "Created_Time": STR, "id": STR, "Created_By": OBJ}
BULK_JOB = {
    "id": STR,
    "operation": STR,
    "state": STR,
    "query": OBJ,
    "created_by": OBJ,
    "created_time": STR,
    "file_type": STR,
}
BULK_RESULT = {
    "page": INT,
    "count": INT,
    "download_url": STR,
    "per_page": INT,
    "more_records": BOOL,
    "next_page_token": (STR, NULL),
}
WATCH_EVENT = {
    "channel_expiry": STR,
    "resource_uri": STR,
    "resource_id": STR,
    "resource_name": STR,
    "channel_id": STR,
}


def assert_shape(value: Any, shape: dict[str, Any], where: str) -> None:
    assert isinstance(value, dict), f"{where}: not an object"
    for key, kinds in shape.items():
        assert key in value, f"{where}: missing {key}"
        kinds = kinds if isinstance(kinds, tuple) else (kinds,)
        actual = value[key]
        ok = isinstance(actual, kinds) and not (isinstance(actual, bool) and BOOL not in kinds)
        assert ok, f"{where}.{key}: {type(actual).__name__} is not {kinds}"


@pytest.fixture(scope="module")
def api(sandbox: RunningSandbox) -> Iterator[httpx.Client]:
    with api_client(sandbox) as client:
        yield client


def test_records_and_info(api: httpx.Client) -> None:
    body = api.get("/crm/v8/Leads", params={"fields": "Last_Name,Owner,Annual_Revenue", "per_page": 3}).json()
    assert set(body) == {"data", "info"}
    assert_shape(body["info"], RECORDS_INFO, "info")
    for record in body["data"]:
        assert isinstance(record["id"], str)
        assert len(record["id"]) == 19
        assert_shape(record["Owner"], {"name": STR, "id": STR, "email": STR}, "Owner")
        assert isinstance(record["Annual_Revenue"], float | NULL)


def test_deleted(api: httpx.Client) -> None:
    body = api.get("/crm/v8/Contacts/deleted", params={"per_page": 5}).json()
    assert_shape(body["info"], PAGE_INFO, "info")
    for entry in body["data"]:
        assert_shape(entry, DELETED_ENTRY, "deleted")
        assert_shape(entry["deleted_by"], {"name": STR, "id": STR}, "deleted_by")


def test_field_and_module_metadata(api: httpx.Client) -> None:
    fields = api.get("/crm/v8/settings/fields", params={"module": "Deals"}).json()["fields"]
    for field in fields:
        assert_shape(field, FIELD, field["api_name"])
        for value in field["pick_list_values"]:
            assert_shape(value, PICK_LIST_VALUE, f"{field['api_name']}.pick_list_values")
        if field["data_type"] == "lookup":
            assert_shape(field["lookup"]["module"], {"api_name": STR, "id": STR}, "lookup.module")
    by_name = {field["api_name"]: field for field in fields}
    assert by_name["Account_Name"]["lookup"]["module"]["api_name"] == "Accounts"
    assert by_name["Competitors__c"]["json_type"] == "jsonarray"
    assert by_name["Competitors__c"]["custom_field"] is True
    assert by_name["Amount"]["json_type"] == "double"
    assert by_name["Expected_Revenue"]["read_only"] is True
    modules = api.get("/crm/v8/settings/modules").json()["modules"]
    assert {module["api_name"] for module in modules} == {
        "Leads",
        "Contacts",
        "Accounts",
        "Deals",
        "Service_Contracts",
    }
    for module in modules:
        assert_shape(module, MODULE, module["api_name"])
    missing = api.get("/crm/v8/settings/fields")
    assert_shape(missing.json(), ERROR, "fields error")


def test_errors_share_one_shape(api: httpx.Client) -> None:
    for response in (
        api.get("/crm/v8/Leads"),
        api.get("/crm/v8/Leads", params={"fields": "Last_Name", "page": 50}),
        api.get("/crm/v8/Nope", params={"fields": "x"}),
        api.post("/crm/v8/coql", json={"select_query": "select from"}),
        api.put("/crm/v8/Leads", content=b"not json"),
        api.get("/crm/v8/Leads/deleted", params={"type": "soft"}),
    ):
        assert response.status_code == 400
        assert_shape(response.json(), ERROR, str(response.url))
        assert response.json()["status"] == "error"


def test_update_bulk_and_watch(sandbox_factory: Any) -> None:
    running = sandbox_factory(records_per_module=200)
    lead = running.state.crm.ids("Leads")[0]
    with api_client(running) as client:
        updated = client.put("/crm/v8/Leads", json={"data": [{"id": str(lead), "City": "Goa"}]}).json()[
            "data"
        ][0]
        assert_shape(updated, UPDATE_SUCCESS, "update")
        assert_shape(updated["details"], UPDATE_DETAILS, "update.details")
        created = client.post("/crm/bulk/v8/read", json={"query": {"module": {"api_name": "Leads"}}}).json()
        assert_shape(
            created["data"][0]["details"],
            {"id": STR, "operation": STR, "state": STR, "created_by": OBJ, "created_time": STR},
            "bulk create",
        )
        job_id = created["data"][0]["details"]["id"]
        deadline = time.monotonic() + 30
        while (job := client.get(f"/crm/bulk/v8/read/{job_id}").json()["data"][0])["state"] != "COMPLETED":
            assert time.monotonic() < deadline
        assert_shape(job, BULK_JOB, "bulk job")
        assert_shape(job["result"], BULK_RESULT, "bulk result")
        assert_shape(job["query"]["module"], {"api_name": STR, "id": STR}, "bulk query.module")
        watch = client.post(
            "/crm/v8/actions/watch",
            json={
                "watch": [
                    {"channel_id": "5", "events": ["Leads.create"], "notify_url": "http://127.0.0.1:9/n"}
                ]
            },
        ).json()
        item = watch["watch"][0]
        assert_shape(item, {"code": STR, "details": OBJ, "message": STR, "status": STR}, "watch")
        assert_shape(item["details"]["events"][0], WATCH_EVENT, "watch event")
        listed = client.get("/crm/v8/actions/watch").json()
        assert_shape(listed["info"], PAGE_INFO, "watch info")
