"""COQL's dotted lookup columns (`Account_Name.Account_Name`): the target record's field, per row."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from zoho_pipelines.sandbox.server import RunningSandbox
from zoho_pipelines_tests.sandbox.helpers import api_client


@pytest.fixture(scope="module")
def api(sandbox: RunningSandbox) -> Iterator[httpx.Client]:
    with api_client(sandbox) as client:
        yield client


def coql(api: httpx.Client, query: str) -> httpx.Response:
    return api.post("/crm/v8/coql", json={"select_query": query})


def test_dotted_columns_carry_the_target_records_fields(api: httpx.Client, sandbox: RunningSandbox) -> None:
    response = coql(
        api,
        "select Deal_Name, Account_Name, Account_Name.Account_Name, Contact_Name.Full_Name, "
        "Contact_Name.Account_Name from Deals order by id asc limit 0, 300",
    )
    assert response.status_code == 200
    rows = response.json()["data"]
    assert sandbox.state is not None
    crm = sandbox.state.crm
    empty_accounts = 0
    for row in rows:
        deal = crm.record("Deals", row["id"])
        account, contact = deal["Account_Name"], deal["Contact_Name"]
        if account is None:
            empty_accounts += 1
            assert row["Account_Name"] is None
            assert row["Account_Name.Account_Name"] is None
        else:
            assert row["Account_Name"] == {"id": account["id"]}  # COQL: the lookup itself is an id
            assert row["Account_Name.Account_Name"] == account["name"]
        expected_contact = None if contact is None else crm.record("Contacts", contact["id"])
        assert row["Contact_Name.Full_Name"] == (expected_contact and expected_contact["Full_Name"])
        # A lookup of the target comes back as COQL renders lookups: its id alone.
        nested = expected_contact and expected_contact["Account_Name"]
        assert row["Contact_Name.Account_Name"] == (nested and {"id": nested["id"]})
    assert 0 < empty_accounts < len(rows), "both empty and filled lookups are exercised"


@pytest.mark.parametrize(
    "column",
    ["Stage.Stage", "Account_Name.Nope", "Owner.full_name", "Nowhere.Account_Name", "a.b.c"],
)
def test_dotted_columns_need_a_lookup_and_a_field_of_its_target(api: httpx.Client, column: str) -> None:
    response = coql(api, f"select Deal_Name, {column} from Deals limit 1")  # noqa: S608 - COQL under test
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_QUERY"


def test_dotted_columns_count_towards_the_fifty_column_limit(api: httpx.Client) -> None:
    fields = ", ".join(["Deal_Name"] * 49 + ["Account_Name.Account_Name", "Contact_Name.Full_Name"])
    response = coql(api, f"select {fields} from Deals limit 1")  # noqa: S608 - COQL under test
    assert response.status_code == 400
    assert response.json()["code"] == "LIMIT_EXCEEDED"
