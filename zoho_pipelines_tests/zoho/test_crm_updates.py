"""Per-record outcomes of updates over real loopback HTTP (scripted answers in Zoho's shapes)."""

import json

import pytest

from zoho_pipelines.zoho.crm import CrmClient
from zoho_pipelines.zoho.errors import ZohoInvalidDataError, ZohoNotFoundError
from zoho_pipelines_tests.zoho.scripted_server import Canned, ScriptedZoho, transport_for


def _success(record_id: str) -> dict:
    return {
        "code": "SUCCESS",
        "details": {"Modified_Time": "2024-05-01T10:00:00+05:30", "id": record_id},
        "message": "record updated",
        "status": "success",
    }


def _invalid(api_name: str) -> dict:
    return {
        "code": "INVALID_DATA",
        "details": {
            "api_name": api_name,
            "json_path": f"$.data[0].{api_name}",
            "expected_data_type": "double",
        },
        "message": "invalid data",
        "status": "error",
    }


@pytest.fixture
def server():
    with ScriptedZoho() as scripted:
        yield scripted


@pytest.mark.parametrize("status", [207, 400])
def test_partial_failure_is_reported_per_record_in_input_order(server, status):
    server.enqueue(Canned(status, {"data": [_success("11"), _invalid("Amount"), _success("13")]}))
    records = [{"id": "11", "Stage": "Won"}, {"id": "12", "Amount": "lots"}, {"id": "13", "Stage": "Lost"}]
    with transport_for(server) as transport:
        result = CrmClient(transport).update_records("Deals", records, trigger=["workflow"])
    assert [(o.index, o.id, o.ok, o.code) for o in result.outcomes] == [
        (0, "11", True, "SUCCESS"),
        (1, "12", False, "INVALID_DATA"),
        (2, "13", True, "SUCCESS"),
    ]
    assert result.failed[0].details["api_name"] == "Amount"
    assert not result.all_ok
    (call,) = server.api_requests()
    assert (call.method, call.path) == ("PUT", "/crm/v8/Deals")
    assert json.loads(call.body) == {"data": records, "trigger": ["workflow"]}


def test_updates_go_in_batches_of_100_and_indexes_continue(server):
    records = [{"id": str(index), "Stage": "Won"} for index in range(150)]
    server.enqueue(
        Canned(200, {"data": [_success(str(index)) for index in range(100)]}),
        Canned(207, {"data": [_success(str(index)) for index in range(100, 149)] + [_invalid("Stage")]}),
    )
    with transport_for(server) as transport:
        result = CrmClient(transport).update_records("Deals", iter(records))
    assert [o.index for o in result.outcomes] == list(range(150))
    assert [o.index for o in result.failed] == [149]
    assert [len(json.loads(call.body)["data"]) for call in server.api_requests()] == [100, 50]


@pytest.mark.parametrize(
    ("code", "expected"),
    [("INVALID_MODULE", ZohoNotFoundError), ("MANDATORY_NOT_FOUND", ZohoInvalidDataError)],
)
def test_a_400_about_the_whole_request_is_raised(server, code, expected):
    server.enqueue(Canned(400, {"code": code, "details": {}, "message": "whole request", "status": "error"}))
    with transport_for(server) as transport, pytest.raises(expected) as caught:
        CrmClient(transport).update_records("Nope", [{"id": "1"}])
    assert caught.value.code == code
