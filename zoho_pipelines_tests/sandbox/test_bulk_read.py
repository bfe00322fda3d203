"""Bulk Read: job states, the ZIP/CSV result, criteria, and CSV escaping round-trips."""

from __future__ import annotations

import csv
import io
import time
import zipfile
from collections.abc import Iterator

import httpx
import pytest

from zoho_pipelines.sandbox.server import RunningSandbox
from zoho_pipelines_tests.sandbox.helpers import api_client


@pytest.fixture(scope="module")
def api(sandbox: RunningSandbox) -> Iterator[httpx.Client]:
    with api_client(sandbox) as client:
        yield client


def run_job(api: httpx.Client, query: dict) -> tuple[dict, list[dict[str, str]]]:
    created = api.post("/crm/bulk/v8/read", json={"query": query})
    assert created.status_code == 201
    entry = created.json()["data"][0]
    assert entry["code"] == "ADDED_SUCCESSFULLY"
    job_id = entry["details"]["id"]
    deadline = time.monotonic() + 30
    states = [entry["details"]["state"]]
    while states[-1] not in ("COMPLETED", "FAILURE") and time.monotonic() < deadline:
        states.append(api.get(f"/crm/bulk/v8/read/{job_id}").json()["data"][0]["state"])
    assert states[0] == "ADDED"
    assert states[-1] == "COMPLETED"
    assert set(states) <= {"ADDED", "IN PROGRESS", "COMPLETED"}
    detail = api.get(f"/crm/bulk/v8/read/{job_id}").json()["data"][0]
    download = api.get(detail["result"]["download_url"])
    assert download.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
        (name,) = archive.namelist()
        text = archive.read(name).decode("utf-8")
    return detail, list(csv.DictReader(io.StringIO(text, newline="")))


def test_csv_round_trips_every_value(api: httpx.Client, sandbox: RunningSandbox) -> None:
    fields = [
        "Last_Name",
        "Email",
        "Description",
        "Qualification_Notes__c",
        "Interest_Areas__c",
        "Owner",
        "Annual_Revenue",
        "Is_Qualified__c",
        "Modified_Time",
    ]
    detail, rows = run_job(api, {"module": {"api_name": "Leads"}, "fields": fields})
    crm = sandbox.state.crm
    assert detail["result"]["count"] == len(rows) == len(crm.ids("Leads"))
    assert detail["result"]["more_records"] is False
    by_id = {row["Id"]: row for row in rows}
    descriptions = []
    for record_id in crm.ids("Leads")[:300].tolist():
        record, row = crm.record("Leads", record_id), by_id[str(record_id)]
        assert row["Description"] == (record["Description"] or "")
        assert row["Qualification_Notes__c"] == (record["Qualification_Notes__c"] or "")
        assert row["Interest_Areas__c"] == ";".join(record["Interest_Areas__c"])
        assert row["Owner"] == record["Owner"]["id"]
        assert row["Is_Qualified__c"] == str(record["Is_Qualified__c"]).lower()
        assert row["Modified_Time"] == record["Modified_Time"]
        descriptions.append(row["Description"])
    tags_of = {
        row["Id"]: row["Tag"] for row in run_job(api, {"module": {"api_name": "Leads"}, "fields": ["Tag"]})[1]
    }
    tagged = [record_id for record_id in crm.ids("Leads").tolist() if crm.record("Leads", record_id)["Tag"]]
    assert tagged, "the sandbox tags some leads"
    for record_id in tagged[:200]:
        tags = crm.record("Leads", record_id)["Tag"]
        assert tags_of[str(record_id)] == ";".join(tag["name"] for tag in tags)
        assert "{" not in tags_of[str(record_id)]
    joined = "".join(descriptions)
    for needle in ("\n", '"', ",", "🚀", "中文"):
        assert needle in joined


def test_nested_criteria_select_the_matching_records(api: httpx.Client, sandbox: RunningSandbox) -> None:
    criteria = {
        "group_operator": "and",
        "group": [
            {"field": {"api_name": "Amount"}, "comparator": "between", "value": [50_000, 400_000]},
            {
                "group_operator": "or",
                "group": [
                    {"field": {"api_name": "Stage"}, "comparator": "equal", "value": "Closed Won"},
                    {
                        "field": {"api_name": "Stage"},
                        "comparator": "in",
                        "value": ["Closed Lost", "Qualification"],
                    },
                ],
            },
            {"field": {"api_name": "Contract_Length_Months__c"}, "comparator": "greater_equal", "value": 12},
        ],
    }
    _, rows = run_job(
        api, {"module": {"api_name": "Deals"}, "fields": ["Stage", "Amount"], "criteria": criteria}
    )
    crm = sandbox.state.crm
    expected = [
        str(record["id"])
        for record in (crm.record("Deals", i) for i in crm.ids("Deals").tolist())
        if record["Amount"] is not None
        and 50_000 <= record["Amount"] <= 400_000
        and record["Stage"] in ("Closed Won", "Closed Lost", "Qualification")
        and (record["Contract_Length_Months__c"] or 0) >= 12
    ]
    assert [row["Id"] for row in rows] == expected
    assert expected


def test_bad_jobs_are_refused(api: httpx.Client) -> None:
    unknown_field = api.post(
        "/crm/bulk/v8/read", json={"query": {"module": {"api_name": "Deals"}, "fields": ["Nope"]}}
    )
    assert unknown_field.status_code == 400
    assert unknown_field.json()["code"] == "FIELD_NOT_AVAILABLE"
    bad_comparator = api.post(
        "/crm/bulk/v8/read",
        json={
            "query": {
                "module": {"api_name": "Deals"},
                "criteria": {"field": {"api_name": "Stage"}, "comparator": "roughly", "value": "x"},
            }
        },
    )
    assert bad_comparator.json()["code"] == "FIELD_AND_COMPARATOR_IN_CRITERIA_NOT_COMPATIBLE"
    assert api.get("/crm/bulk/v8/read/42").status_code == 404
