"""COQL v8 limitations, enforced over HTTP with the errors Zoho documents.

Sources: https://www.zoho.com/crm/developer/docs/api/v8/COQL-Limitations.html (15 select-clause
joins, no image-upload fields, reserved words quoted, criteria bracketed in pairs), the COQL FAQ
https://help.zoho.com/portal/en/community/topic/kaizen-171-faqs-on-coql-api (`select External ...`
is a SYNTAX error, `select 'External' ...` works; `A and B and C` fails, `((A and B) and C)` works),
and the error codes of Zoho's v8 spec, coql.json (SYNTAX_ERROR, INVALID_QUERY, LIMIT_EXCEEDED).
"""

# ruff: noqa: S608 - the tests build COQL text from literals they define
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from zoho_pipelines.sandbox.server import RunningSandbox
from zoho_pipelines_tests.sandbox.helpers import api_client

ERROR_KEYS = {"code", "details", "message", "status"}
ACCOUNT_FIELDS = (
    "Account_Name", "Account_Number", "Account_Site", "Account_Type", "Industry", "Annual_Revenue",
    "Rating", "Phone", "Fax", "Website", "Ticker_Symbol", "Ownership", "Employees", "SIC_Code",
    "Billing_Street", "Billing_City",
)  # fmt: skip


@pytest.fixture(scope="module")
def api(sandbox: RunningSandbox) -> Iterator[httpx.Client]:
    with api_client(sandbox) as client:
        yield client


def coql(api: httpx.Client, query: str) -> httpx.Response:
    return api.post("/crm/v8/coql", json={"select_query": query})


def error(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body) == ERROR_KEYS
    assert body["status"] == "error"
    return body


def test_at_most_fifteen_select_clause_joins(api: httpx.Client) -> None:
    joined = [f"Account_Name.{name}" for name in ACCOUNT_FIELDS]
    body = error(coql(api, f"select Deal_Name, {', '.join(joined)} from Deals limit 5"))
    assert body["code"] == "LIMIT_EXCEEDED"
    assert body["details"]["limit"] == 15
    fifteen = coql(api, f"select Deal_Name, {', '.join(joined[:15])} from Deals where id is not null limit 5")
    assert fifteen.status_code == 200
    row = next(row for row in fifteen.json()["data"] if row["Account_Name.Account_Name"] is not None)
    deal = api.get(f"/crm/v8/Deals/{row['id']}", params={"fields": "Account_Name"}).json()["data"][0]
    assert row["Account_Name.Account_Name"] == deal["Account_Name"]["name"]


@pytest.mark.parametrize(
    "query",
    [
        "select Name, Site_Photos from Service_Contracts",
        "select Name from Service_Contracts where Site_Photos is null",
        "select Name from Service_Contracts order by Site_Photos",
    ],
)
def test_image_upload_fields_are_not_supported(api: httpx.Client, query: str) -> None:
    body = error(coql(api, query))
    assert body["code"] == "INVALID_QUERY"
    assert body["details"]["column_name"] == "Site_Photos"
    assert body["details"]["data_type"] == "imageupload"


def test_file_upload_fields_are_still_selectable(api: httpx.Client) -> None:
    assert coql(api, "select Name, Signed_Documents from Service_Contracts limit 3").status_code == 200


def test_reserved_word_field_names_must_be_quoted(api: httpx.Client) -> None:
    body = error(coql(api, "select External from Service_Contracts where id is not null"))
    assert body["code"] == "SYNTAX_ERROR"
    assert body["details"]["near"] == "External"
    assert error(coql(api, "select Name from Service_Contracts where External = 'EXT-A1'"))["code"] == (
        "SYNTAX_ERROR"
    )
    for quoted in ("'External'", '"External"', "`External`"):
        response = coql(api, f"select {quoted}, Name from Service_Contracts where id is not null limit 50")
        assert response.status_code == 200, quoted
        rows = response.json()["data"]
        ids = ",".join(row["id"] for row in rows)
        truth = api.get("/crm/v8/Service_Contracts", params={"ids": ids, "fields": "External"}).json()["data"]
        assert {row["id"]: row["External"] for row in rows} == {row["id"]: row["External"] for row in truth}
    filtered = coql(
        api, "select Name, 'External' from Service_Contracts where 'External' = 'EXT-A1' limit 50"
    )
    assert filtered.status_code == 200
    assert {row["External"] for row in filtered.json()["data"]} == {"EXT-A1"}


def test_more_than_two_criteria_must_be_bracketed_in_pairs(api: httpx.Client) -> None:
    a, b, c = "Stage = 'Closed Won'", "Amount > 1000", "Account_Name is not null"
    for flat in (f"{a} and {b} and {c}", f"{a} or {b} and {c}", f"({a} and {b} and {c})"):
        body = error(coql(api, f"select Deal_Name from Deals where {flat}"))
        assert body["code"] == "SYNTAX_ERROR"
        assert body["details"]["clause"] == "where"
    answers = []
    for paired in (f"(({a} and {b}) and {c})", f"({a} and ({b} and {c}))", f"({a} and {b}) and {c}"):
        response = coql(api, f"select Deal_Name from Deals where {paired} order by id limit 2000")
        assert response.status_code == 200, paired
        answers.append([row["id"] for row in response.json()["data"]])
    assert answers[0] == answers[1] == answers[2]
    assert answers[0]
    assert coql(api, f"select Deal_Name from Deals where {a} and {b} limit 5").status_code == 200
