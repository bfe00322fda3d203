"""COQL: the supported SELECT subset against a brute-force evaluation of the truth, and errors."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

import httpx
import pytest

from zoho_pipelines.sandbox.server import RunningSandbox
from zoho_pipelines_tests.sandbox.helpers import api_client


@pytest.fixture(scope="module")
def api(sandbox: RunningSandbox) -> Iterator[httpx.Client]:
    with api_client(sandbox) as client:
        yield client


@pytest.fixture(scope="module")
def deals(sandbox: RunningSandbox) -> list[dict]:
    crm = sandbox.state.crm
    return [crm.record("Deals", record_id) for record_id in crm.ids("Deals").tolist()]


def coql(api: httpx.Client, query: str) -> httpx.Response:
    return api.post("/crm/v8/coql", json={"select_query": query})


def test_where_order_and_limit_match_brute_force(api: httpx.Client, deals: list[dict]) -> None:
    query = (
        "select Deal_Name, Amount, Stage from Deals "
        "where ((Stage = 'Closed Won' or Stage in ('Closed Lost', 'Negotiation/Review')) "
        "and Amount between 10000 and 600000) "
        "and (Deal_Name not like '%Pilot%' and Account_Name is not null) "
        "order by Amount desc, id asc limit 5, 40"
    )
    response = coql(api, query)
    assert response.status_code == 200
    expected = [
        deal
        for deal in deals
        if deal["Stage"] in ("Closed Won", "Closed Lost", "Negotiation/Review")
        and deal["Amount"] is not None
        and 10000 <= deal["Amount"] <= 600000
        and "pilot" not in deal["Deal_Name"].lower()
        and deal["Account_Name"] is not None
    ]
    expected.sort(key=lambda deal: int(deal["id"]))
    expected.sort(key=lambda deal: deal["Amount"], reverse=True)
    body = response.json()
    assert [row["id"] for row in body["data"]] == [deal["id"] for deal in expected[5:45]]
    assert body["info"] == {"count": 40, "more_records": len(expected) > 45}
    assert set(body["data"][0]) == {"id", "Deal_Name", "Amount", "Stage"}


def test_datetime_comparison_and_offset_syntax(api: httpx.Client, deals: list[dict]) -> None:
    cutoff = sorted(datetime.fromisoformat(deal["Modified_Time"]) for deal in deals)[len(deals) // 2]
    query = (
        f"select Modified_Time from Deals where Modified_Time >= '{cutoff.isoformat()}' limit 2000 offset 0"  # noqa: S608
    )
    rows = coql(api, query).json()["data"]
    assert len(rows) == sum(datetime.fromisoformat(deal["Modified_Time"]) >= cutoff for deal in deals)
    lookup = deals[0]["Account_Name"] or deals[1]["Account_Name"]
    query = f"select Account_Name from Deals where Account_Name = '{lookup['id']}'"  # noqa: S608
    by_lookup = coql(api, query).json()["data"]
    assert by_lookup
    assert all(row["Account_Name"] == {"id": lookup["id"]} for row in by_lookup)


def test_a_page_read_after_a_write_sees_the_write(sandbox_factory: Callable[..., RunningSandbox]) -> None:
    """Pages of one query share its matching and sorting until the module changes: edits, new
    records and deletions between two pages show on the next one."""
    sandbox = sandbox_factory(records_per_module=300)
    crm = sandbox.state.crm
    query = "select Modified_Time from Deals order by Modified_Time asc, id asc limit 0, 2000"

    def truth() -> list[str]:
        deals = [crm.record("Deals", record_id) for record_id in crm.ids("Deals").tolist()]
        deals.sort(key=lambda deal: (datetime.fromisoformat(deal["Modified_Time"]), int(deal["id"])))
        return [deal["id"] for deal in deals]

    with api_client(sandbox) as api:
        before = [row["id"] for row in coql(api, query).json()["data"]]
        assert before == truth()
        changed = crm.mutate("Deals", creates=2, edits=3, deletes=2)
        after = [row["id"] for row in coql(api, query).json()["data"]]
    assert after == truth() != before
    assert set(after[-5:]) == {*changed["created"], *changed["edited"]}  # all modified now: last
    assert not set(changed["deleted"]) & set(after)


def test_nothing_matches_is_204(api: httpx.Client) -> None:
    assert coql(api, "select Stage from Deals where Stage = 'No Such Stage'").status_code == 204


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("select Deal_Name from", "SYNTAX_ERROR"),
        ("select * from Deals", "SYNTAX_ERROR"),
        ("select Nope from Deals", "INVALID_QUERY"),
        ("select Deal_Name from Nowhere", "INVALID_QUERY"),
        ("select Deal_Name from Deals where Amount = 'lots'", "INVALID_QUERY"),
        ("select Deal_Name from Deals where Amount like '%1%'", "INVALID_QUERY"),
        ("select Deal_Name from Deals limit 2001", "LIMIT_EXCEEDED"),
        ("select Deal_Name from Deals limit 99000, 2000", "LIMIT_EXCEEDED"),
    ],
)
def test_bad_queries_get_zoho_errors(api: httpx.Client, query: str, code: str) -> None:
    response = coql(api, query)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == code
    assert body["status"] == "error"
    assert isinstance(body["details"], dict)
