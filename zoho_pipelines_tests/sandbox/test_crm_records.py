"""CRM record listing over loopback: v8 paging rules, page tokens, If-Modified-Since, deleted."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from zoho_pipelines.sandbox.server import RunningSandbox
from zoho_pipelines_tests.sandbox.helpers import api_client

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def api(sandbox: RunningSandbox) -> Iterator[httpx.Client]:
    with api_client(sandbox) as client:
        yield client


def walk(api: httpx.Client, path: str, params: dict, headers: dict | None = None) -> list[dict]:
    """Every record of a listing, following next_page_token."""
    records: list[dict] = []
    params = dict(params)
    while True:
        response = api.get(path, params=params, headers=headers)
        if response.status_code == 204:
            return records
        response.raise_for_status()
        body = response.json()
        records += body["data"]
        if not body["info"]["more_records"]:
            return records
        params.pop("page", None)
        params["page_token"] = body["info"]["next_page_token"]


def test_same_seed_renders_the_same_records(sandbox_factory: Callable[..., RunningSandbox]) -> None:
    first, second, other = sandbox_factory(seed=3), sandbox_factory(seed=3), sandbox_factory(seed=4)
    params = {"fields": "Deal_Name,Stage,Amount,Closing_Date,Account_Name,Modified_Time", "per_page": 50}
    pages = []
    for running in (first, second, other):
        with api_client(running) as client:
            pages.append(client.get("/crm/v8/Deals", params=params).json()["data"])
    assert pages[0] == pages[1]
    assert pages[0] != pages[2]


def test_fields_is_required_and_capped_at_fifty(api: httpx.Client, sandbox: RunningSandbox) -> None:
    missing = api.get("/crm/v8/Leads")
    assert missing.status_code == 400
    assert missing.json()["code"] == "REQUIRED_PARAM_MISSING"
    assert missing.json()["details"] == {"param_name": "fields"}
    leads = sandbox.state.crm.spec("Leads")
    names = [spec.api_name for spec in leads.fields]
    assert len(names) > 50
    too_many = api.get("/crm/v8/Leads", params={"fields": ",".join(names[:51])})
    assert too_many.status_code == 400
    assert too_many.json()["code"] == "LIMIT_EXCEEDED"
    assert api.get("/crm/v8/Leads", params={"fields": ",".join(names[:50]), "per_page": 1}).status_code == 200
    unknown = api.get("/crm/v8/Leads", params={"fields": "Last_Name,Nope__c"})
    assert unknown.json()["code"] == "INVALID_DATA"


def test_per_page_and_discrete_page_limits(api: httpx.Client) -> None:
    assert api.get("/crm/v8/Leads", params={"fields": "Last_Name", "per_page": 201}).status_code == 400
    last_allowed = api.get("/crm/v8/Leads", params={"fields": "Last_Name", "per_page": 200, "page": 10})
    assert last_allowed.status_code == 200
    assert last_allowed.json()["info"]["page"] == 10
    beyond = api.get("/crm/v8/Leads", params={"fields": "Last_Name", "per_page": 200, "page": 11})
    assert beyond.status_code == 400
    assert beyond.json()["code"] == "DISCRETE_PAGINATION_LIMIT_EXCEEDED"
    small_pages = api.get("/crm/v8/Leads", params={"fields": "Last_Name", "per_page": 100, "page": 21})
    assert small_pages.json()["code"] == "DISCRETE_PAGINATION_LIMIT_EXCEEDED"
    assert api.get("/crm/v8/Nope", params={"fields": "Last_Name"}).json()["code"] == "INVALID_MODULE"


@pytest.mark.parametrize("name", ["page", "per_page"])
@pytest.mark.parametrize("value", ["2147483648", "5_0", " 2", pytest.param("9" * 5000, id="5000-digits")])
@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/crm/v8/Leads", {"fields": "Last_Name"}),
        ("/crm/v8/Leads/deleted", {"type": "all"}),
        ("/crm/v8/actions/watch", {}),
    ],
)
def test_page_and_per_page_are_plain_int32_numbers(
    api: httpx.Client, path: str, params: dict, name: str, value: str
) -> None:
    """The v8 spec types both as integer, int32 (record.json, notifications.json): a value past
    int32, or one only Python's int() reads as a number (underscores, spaces), is INVALID_DATA."""
    response = api.get(path, params={**params, name: value})
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_DATA"
    assert response.json()["details"]["param_name"] == name


@pytest.mark.parametrize("version", ["v2", "v5", "v8"])
def test_page_tokens_walk_every_live_record_exactly_once(
    api: httpx.Client, sandbox: RunningSandbox, version: str
) -> None:
    records = walk(
        api, f"/crm/{version}/Contacts", {"fields": "Last_Name", "sort_by": "id", "sort_order": "asc"}
    )
    ids = [int(record["id"]) for record in records]
    assert ids == sorted(set(ids))
    assert ids == sandbox.state.crm.ids("Contacts").tolist()


def test_modified_time_order_and_if_modified_since_match_the_truth(
    api: httpx.Client, sandbox: RunningSandbox
) -> None:
    since = sandbox.config.anchor - timedelta(days=3)
    header = {"If-Modified-Since": since.astimezone(sandbox.state.crm.times.zone).isoformat()}
    params = {"fields": "Modified_Time", "sort_by": "Modified_Time", "sort_order": "asc", "per_page": 150}
    records = walk(api, "/crm/v8/Deals", params, header)
    stamps = [datetime.fromisoformat(record["Modified_Time"]) for record in records]
    assert stamps == sorted(stamps)
    assert all(stamp >= since for stamp in stamps)
    assert all(record["Modified_Time"].endswith("+05:30") for record in records)
    truth = sandbox.state.crm.modified_ids("Deals", since, FAR_FUTURE)
    assert sorted(int(record["id"]) for record in records) == sorted(truth)
    assert len(records) > 0


def test_nothing_modified_since_answers_204_without_body(api: httpx.Client) -> None:
    response = api.get(
        "/crm/v8/Deals", params={"fields": "Stage"}, headers={"If-Modified-Since": FAR_FUTURE.isoformat()}
    )
    assert response.status_code == 204
    assert response.content == b""


def test_page_token_is_bound_to_its_query(api: httpx.Client) -> None:
    first = api.get("/crm/v8/Leads", params={"fields": "Last_Name,Email", "per_page": 20}).json()
    token = first["info"]["next_page_token"]
    assert first["info"]["page_token_expiry"]
    same = api.get("/crm/v8/Leads", params={"fields": "Email,Last_Name", "per_page": 20, "page_token": token})
    assert same.status_code == 200
    assert {r["id"] for r in same.json()["data"]}.isdisjoint({r["id"] for r in first["data"]})
    for changed in (
        {"fields": "Last_Name", "per_page": 20},
        {"fields": "Last_Name,Email", "per_page": 30},
        {"fields": "Last_Name,Email", "per_page": 20, "sort_order": "asc"},
    ):
        mismatch = api.get("/crm/v8/Leads", params={**changed, "page_token": token})
        assert mismatch.status_code == 400
        assert mismatch.json()["code"] == "TOKEN_BOUND_DATA_MISMATCH"
    forged = api.get(
        "/crm/v8/Leads", params={"fields": "Last_Name,Email", "per_page": 20, "page_token": token[:-2]}
    )
    assert forged.status_code == 400


def test_expired_page_token(sandbox_factory: Callable[..., RunningSandbox]) -> None:
    running = sandbox_factory(page_token_ttl_s=0, records_per_module=300)
    with api_client(running) as client:
        token = client.get("/crm/v8/Leads", params={"fields": "Last_Name"}).json()["info"]["next_page_token"]
        expired = client.get("/crm/v8/Leads", params={"fields": "Last_Name", "page_token": token})
    assert expired.status_code == 400
    assert expired.json() == {
        "code": "EXPIRED_VALUE",
        "details": {"api_name": "page_token", "json_path": "$.query.page_token"},
        "message": "Page token expired",
        "status": "error",
    }


def test_page_tokens_stop_at_100000_records(sandbox_factory: Callable[..., RunningSandbox]) -> None:
    running = sandbox_factory(records_per_module=104_000, credit_budget=10_000)
    params: dict = {"fields": "Account_Name", "sort_by": "id", "sort_order": "asc"}
    served = 0
    with api_client(running) as client:
        while True:
            response = client.get("/crm/v8/Accounts", params=params)
            if response.status_code != 200:
                break
            body = response.json()
            served += body["info"]["count"]
            params["page_token"] = body["info"]["next_page_token"]
    assert served == 100_000
    assert response.status_code == 400
    assert response.json()["code"] == "LIMIT_REACHED"


def test_ids_and_single_record(api: httpx.Client, sandbox: RunningSandbox) -> None:
    ids = sandbox.state.crm.ids("Accounts")[:3].tolist()
    listed = api.get(
        "/crm/v8/Accounts", params={"fields": "Account_Name", "ids": ",".join(map(str, ids))}
    ).json()
    assert [int(record["id"]) for record in listed["data"]] == ids
    one = api.get(f"/crm/v8/Accounts/{ids[0]}").json()["data"][0]
    assert one == sandbox.state.crm.record("Accounts", ids[0])
    assert api.get("/crm/v8/Accounts/1234567890123456789").status_code == 204


def test_deleted_records_match_the_truth(api: httpx.Client, sandbox: RunningSandbox) -> None:
    listed: list[dict] = []
    page = 1
    while (
        response := api.get("/crm/v8/Leads/deleted", params={"type": "all", "page": page})
    ).status_code == 200:
        listed += response.json()["data"]
        page += 1
    truth = sandbox.state.crm.deleted_ids("Leads", EPOCH, FAR_FUTURE)
    assert sorted(int(entry["id"]) for entry in listed) == sorted(truth)
    assert {entry["type"] for entry in listed} == {"recycle", "permanent"}
    times = [datetime.fromisoformat(entry["deleted_time"]) for entry in listed]
    assert times == sorted(times, reverse=True)
    recycle = api.get("/crm/v8/Leads/deleted", params={"type": "recycle", "per_page": 200}).json()["data"]
    assert {entry["type"] for entry in recycle} == {"recycle"}
    cutoff = times[len(times) // 2]
    recent = api.get("/crm/v8/Leads/deleted", headers={"If-Modified-Since": cutoff.isoformat()}).json()[
        "data"
    ]
    assert all(datetime.fromisoformat(entry["deleted_time"]) >= cutoff for entry in recent)
    assert len(recent) == sum(stamp >= cutoff for stamp in times)


def test_records_carry_realistic_values(api: httpx.Client) -> None:
    fields = (
        "Owner,Account_Name,Contact_Name,Amount,Stage,Probability,Competitors__c,Created_Time,Description"
    )
    deals = walk(api, "/crm/v8/Deals", {"fields": fields})
    assert {"Closed Won", "Closed Lost"} <= {deal["Stage"] for deal in deals}
    assert any(deal["Amount"] is None for deal in deals)
    assert any(isinstance(deal["Competitors__c"], list) and deal["Competitors__c"] for deal in deals)
    assert all(len(deal["id"]) == 19 and deal["id"].isdigit() for deal in deals)
    assert all(set(deal["Owner"]) == {"name", "id", "email"} for deal in deals)
    linked = [deal["Account_Name"] for deal in deals if deal["Account_Name"]]
    assert linked
    assert all(set(link) == {"name", "id"} for link in linked)
    notes = "".join(deal["Description"] or "" for deal in deals)
    for needle in ("\n", '"', "🚀"):
        assert needle in notes
