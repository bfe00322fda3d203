"""COQL with lookup names: the same rows, value for value, as records pages, at COQL's price.

COQL answers lookups with their ids alone; `name_lookups` selects each record lookup's target
display field through the lookup and names users from a per-client cache, so that a table
built from COQL equals one built from records pages. `auto` reads busy windows this way.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from zoho_pipelines.sandbox.server import RunningSandbox
from zoho_pipelines.zoho.crm import CrmClient
from zoho_pipelines_tests.zoho.scripted_server import Canned, ScriptedZoho, SeenRequest, transport_for
from zoho_pipelines_tests.zoho.test_crm_sandbox import client_for

MODULES = ("Leads", "Contacts", "Accounts", "Deals")


def by_id(batches) -> dict[str, dict]:
    rows = [row for batch in batches for row in batch]
    assert len(rows) == len({row["id"] for row in rows}), "each record once"
    return {row["id"]: row for row in rows}


def test_named_coql_rows_equal_records_pages_in_every_crm_module(sandbox: RunningSandbox) -> None:
    anchor = sandbox.config.anchor
    assert anchor is not None
    start, end = anchor - timedelta(days=3), anchor
    with client_for(sandbox) as client:
        for module in MODULES:
            fields = client.crm.field_names(module)
            pages = by_id(client.crm.iter_modified(module, fields, start, end))
            named = by_id(client.crm.iter_modified_coql(module, fields, start, end, name_lookups=True))
            raw = by_id(client.crm.iter_modified_coql(module, fields, start, end))
            assert len(pages) > 100
            assert named == pages, module
            assert raw != pages, f"{module}: raw COQL lacks names, so the naming did the work"


def test_concurrent_windows_learn_metadata_and_users_once(sandbox_factory) -> None:
    sandbox = sandbox_factory(records_per_module=6_000, history_days=1)
    anchor = sandbox.config.anchor
    assert anchor is not None
    with client_for(sandbox) as client:
        fields = client.crm.field_names("Deals")
        before = sandbox.stats()["calls"]
        rows = by_id(
            client.crm.iter_modified_parallel(
                "Deals", fields, anchor - timedelta(days=1), anchor, windows=20, via="coql", name_lookups=True
            )
        )
    after = sandbox.stats()["calls"]

    def made(endpoint: str) -> int:
        return sum(after.get(endpoint, {}).values()) - sum(before.get(endpoint, {}).values())

    assert len(rows) > 4_000
    # Deals, Accounts and Contacts metadata, once each, however many windows start together.
    assert made("GET /crm/{version}/settings/fields") == 3
    # Users are learned from one by-id read; every later row finds them in the cache.
    assert made("GET /crm/{version}/{module}") == 1
    assert all(row["Owner"]["name"] for row in rows.values())


def test_auto_reads_a_busy_window_through_named_coql_under_half_a_credit_per_200(sandbox_factory) -> None:
    sandbox = sandbox_factory(records_per_module=30_000, history_days=1)
    anchor = sandbox.config.anchor
    assert anchor is not None
    start, end = anchor - timedelta(days=1), anchor
    with client_for(sandbox) as client:
        fields = client.crm.field_names("Deals")
        before = sandbox.stats()
        auto = by_id(client.crm.iter_modified_auto("Deals", fields, start, end))
        after = sandbox.stats()
        pages = by_id(client.crm.iter_modified("Deals", fields, start, end))
    assert auto == pages
    coql_calls = sum(after["calls"]["POST /crm/{version}/coql"].values())
    assert coql_calls > 0
    credits = after["credits_used"] - before["credits_used"]
    assert credits / len(auto) * 200 <= 0.5


def test_a_record_missing_from_the_second_field_groups_page_is_completed_by_id() -> None:
    """Wide modules read fields 51+ with a second COQL query over the same page; a record edited
    in between can be absent from it, and must then be completed through the records API."""
    wide = [f"F_{n}" for n in range(55)]
    moment = "2024-05-01T10:00:00+00:00"
    records = {
        str(n): {"id": str(n), "Modified_Time": moment, **{name: f"{name}-{n}" for name in wide}}
        for n in (1, 2, 3)
    }

    def answer(request: SeenRequest) -> Canned | None:
        if request.path.endswith("/settings/fields"):
            fields = [{"api_name": name, "data_type": "text"} for name in ["Modified_Time", *wide]]
            return Canned(200, {"fields": fields})
        if request.path.endswith("/coql"):
            select = json.loads(request.body)["select_query"].split(" from ")[0].removeprefix("select ")
            names = select.split(", ")
            first_group = "Modified_Time" in names
            ids = ["1", "2", "3"] if first_group else ["1", "3"]  # record 2 was edited in between
            rows = [{"id": key, **{name: records[key][name] for name in names}} for key in ids]
            return Canned(200, {"data": rows, "info": {"more_records": False}})
        if request.path.endswith("/Wide") and "ids" in request.query:
            names = request.query["fields"][0].split(",")
            rows = [
                {"id": key, **{name: records[key][name] for name in names}}
                for key in request.query["ids"][0].split(",")
            ]
            return Canned(200, {"data": rows})
        return None

    start = datetime(2024, 5, 1, 9, tzinfo=UTC)
    with ScriptedZoho() as server:
        server.on_api_call = answer
        with transport_for(server) as transport:
            batches = CrmClient(transport).iter_modified_coql(
                "Wide", ["Modified_Time", *wide], start, start + timedelta(hours=2), name_lookups=True
            )
            rows = [row for batch in batches for row in batch]
        by_id_reads = [request.query["ids"] for request in server.api_requests() if "ids" in request.query]
    assert rows == [records[key] for key in ("1", "2", "3")]
    assert by_id_reads == [["2"]]
