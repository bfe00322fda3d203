"""PUT record updates: per-record statuses in input order, HTTP 200/207/400, effects on the truth."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from zoho_pipelines.sandbox.server import RunningSandbox
from zoho_pipelines_tests.sandbox.helpers import api_client


def test_mixed_batch_reports_each_record_in_input_order(
    sandbox_factory: Callable[..., RunningSandbox],
) -> None:
    running = sandbox_factory(records_per_module=400)
    crm = running.state.crm
    first, second, third = crm.ids("Leads")[:3].tolist()
    other_email = crm.record("Leads", third)["Email"]
    before = crm.record("Leads", first)
    body = {
        "data": [
            {
                "id": str(first),
                "Lead_Status": "Contacted",
                "Phone": "+1 555 0100",
                "Interest_Areas__c": ["CRM"],
            },
            {"Lead_Status": "Contacted"},
            {"id": str(second), "Lead_Status": "Not A Status"},
            {"id": str(second), "Email": "not-an-email"},
            {"id": str(second), "Lead_Score__c": "high"},
            {"id": str(second), "Email": other_email},
            {"id": str(first), "City": "Pune"},
            {"id": "1234567890123456789", "City": "Pune"},
        ]
    }
    with api_client(running) as client:
        response = client.put("/crm/v8/Leads", json=body)
    assert response.status_code == 207
    results = response.json()["data"]
    assert [result["code"] for result in results] == [
        "SUCCESS",
        "MANDATORY_NOT_FOUND",
        "INVALID_DATA",
        "INVALID_DATA",
        "INVALID_DATA",
        "DUPLICATE_DATA",
        "DUPLICATE_DATA",
        "INVALID_DATA",
    ]
    assert results[1]["details"] == {"api_name": "id", "json_path": "$.data[1].id"}
    assert results[4]["details"]["expected_data_type"] == "integer"
    assert results[5]["details"]["duplicate_record"]["id"] == str(third)
    after = crm.record("Leads", first)
    assert after["Lead_Status"] == "Contacted"
    assert after["Phone"] == "+1 555 0100"
    assert after["Interest_Areas__c"] == ["CRM"]
    assert after["Email"] == before["Email"]
    assert after["Description"] == before["Description"]  # untouched volatile fields stay put
    assert datetime.fromisoformat(after["Modified_Time"]) >= datetime.fromisoformat(before["Modified_Time"])
    assert results[0]["details"]["Modified_Time"] == after["Modified_Time"]
    index = crm.index_of("Leads", first)
    assert crm.columns["Leads"].version[index] >= 1


def test_all_ok_is_200_and_all_failed_is_400(sandbox_factory: Callable[..., RunningSandbox]) -> None:
    running = sandbox_factory(records_per_module=300)
    crm = running.state.crm
    deal = crm.ids("Deals")[0]
    account = crm.ids("Accounts")[5]
    with api_client(running) as client:
        ok = client.put(
            f"/crm/v8/Deals/{deal}",
            json={
                "data": [
                    {
                        "Stage": "Closed Won",
                        "Account_Name": {"id": str(account)},
                        "Amount": 1234.5,
                        "Closing_Date": "2026-12-31",
                    }
                ]
            },
        )
        failed = client.put("/crm/v8/Deals", json={"data": [{"id": str(deal), "Stage": None}]})
        too_many = client.put("/crm/v8/Deals", json={"data": [{"id": str(deal)}] * 101})
    assert ok.status_code == 200
    record = crm.record("Deals", deal)
    assert record["Stage"] == "Closed Won"
    assert record["Probability"] == 100
    assert record["Expected_Revenue"] == 1234.5
    assert record["Account_Name"] == {
        "name": crm.record("Accounts", account)["Account_Name"],
        "id": str(account),
    }
    assert failed.status_code == 400
    assert failed.json()["data"][0]["code"] == "MANDATORY_NOT_FOUND"
    assert too_many.status_code == 400
    assert too_many.json()["code"] == "LIMIT_EXCEEDED"
