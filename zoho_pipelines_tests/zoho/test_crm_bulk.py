"""Bulk Read job lifecycle against a scripted bulk endpoint over real loopback HTTP."""

import csv
import io
import json
import re
import zipfile
from datetime import UTC, datetime, timedelta

import pytest

from zoho_pipelines.zoho.crm import CrmClient
from zoho_pipelines.zoho.crm_bulk import BulkPolling
from zoho_pipelines.zoho.errors import ZohoAPIError
from zoho_pipelines_tests.zoho.scripted_server import Canned, ScriptedZoho, SeenRequest, transport_for

START = datetime(2024, 5, 1, tzinfo=UTC)
DAY = timedelta(days=1)
MODIFIED = {"api_name": "Modified_Time"}
QUICK = BulkPolling(initial_s=0.01, max_s=0.02, timeout_s=10)


def _zip(rows: list[dict[str, str]]) -> bytes:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("1000000123.csv", text.getvalue().encode("utf-8-sig"))
    return buffer.getvalue()


class BulkJobs:
    """Jobs go ADDED -> IN PROGRESS -> COMPLETED (or FAILURE); each page holds `pages[n-1]`."""

    def __init__(self, pages: list[list[dict[str, str]]], *, fail: bool = False) -> None:
        self.pages = pages
        self.fail = fail
        self.created: list[dict] = []
        self.polls = 0

    def __call__(self, request: SeenRequest) -> Canned | None:
        if request.method == "POST" and request.path == "/crm/bulk/v8/read":
            self.created.append(json.loads(request.body))
            job_id = str(len(self.created))
            details = {"id": job_id, "operation": "read", "state": "ADDED"}
            return Canned(
                201, {"data": [{"status": "success", "code": "ADDED_SUCCESSFULLY", "details": details}]}
            )
        match = re.fullmatch(r"/crm/bulk/v8/read/(\d+)(/result)?", request.path)
        if match is None:
            return None
        page = self.created[int(match[1]) - 1]["query"]["page"]
        if match[2]:
            return Canned(200, _zip(self.pages[page - 1]))
        self.polls += 1
        if self.polls % 3 != 0:
            return Canned(200, {"data": [{"id": match[1], "state": "IN PROGRESS"}]})
        result = {
            "page": page,
            "count": len(self.pages[page - 1]),
            "per_page": 200_000,
            "download_url": f"/crm/bulk/v8/read/{match[1]}/result",
            "more_records": page < len(self.pages),
        }
        state = "FAILURE" if self.fail else "COMPLETED"
        return Canned(200, {"data": [{"id": match[1], "state": state, "result": result}]})


def _row(index: int, seconds: int) -> dict[str, str]:
    moment = (START + timedelta(seconds=seconds)).isoformat()
    return {"Id": str(index), "Modified_Time": moment, "Deal_Name": f'Deal, "{index}"\nline two'}


@pytest.fixture
def server():
    with ScriptedZoho() as scripted:
        yield scripted


def test_pages_are_polled_downloaded_and_streamed_in_batches(server):
    jobs = BulkJobs([[_row(i, i) for i in range(7)], [_row(i, i) for i in range(7, 12)]])
    server.on_api_call = jobs
    end = START + timedelta(seconds=11)  # row 11 falls on the end: excluded
    with transport_for(server) as transport:
        crm = CrmClient(transport, bulk_polling=QUICK)
        batches = list(crm.iter_bulk("Deals", ["Deal_Name"], START, end, batch_size=3))
    assert [len(batch) for batch in batches] == [3, 3, 1, 3, 1]
    assert [row["Id"] for batch in batches for row in batch] == [str(i) for i in range(11)]
    assert batches[0][0]["Deal_Name"] == 'Deal, "0"\nline two'
    first, second = jobs.created
    assert first["query"] == {
        "module": {"api_name": "Deals"},
        "fields": ["Modified_Time", "Deal_Name"],
        "criteria": {
            "group_operator": "and",
            "group": [
                {"field": MODIFIED, "comparator": "greater_equal", "value": START.isoformat()},
                {"field": MODIFIED, "comparator": "less_than", "value": end.isoformat()},
            ],
        },
        "page": 1,
    }
    assert second["query"]["page"] == 2
    assert jobs.polls == 6


def test_a_failed_job_is_an_error(server):
    server.on_api_call = BulkJobs([[_row(0, 0)]], fail=True)
    with transport_for(server) as transport, pytest.raises(ZohoAPIError, match="failed") as caught:
        list(
            CrmClient(transport, bulk_polling=QUICK).iter_bulk("Deals", [], START, START + timedelta(days=1))
        )
    assert caught.value.code == "FAILURE"


def test_a_job_that_never_completes_times_out(server):
    server.on_api_call = lambda request: (
        Canned(201, {"data": [{"details": {"id": "5"}}]})
        if request.method == "POST"
        else Canned(200, {"data": [{"id": "5", "state": "QUEUED"}]})
    )
    polling = BulkPolling(initial_s=0.01, max_s=0.02, timeout_s=0.1)
    with transport_for(server) as transport, pytest.raises(ZohoAPIError, match="still QUEUED"):
        list(
            CrmClient(transport, bulk_polling=polling).iter_bulk(
                "Deals", [], START, START + timedelta(days=1)
            )
        )
