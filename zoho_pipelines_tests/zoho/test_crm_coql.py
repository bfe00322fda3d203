"""COQL paging and pricing against a scripted COQL endpoint over real loopback HTTP."""

import gc
import json
import weakref
from datetime import UTC, datetime, timedelta

import pytest

from zoho_pipelines.zoho.crm import CrmClient
from zoho_pipelines.zoho.crm_coql import all_of, coql_credits, window_query
from zoho_pipelines.zoho.transport import json_body
from zoho_pipelines_tests.zoho.crm_listing import CrmListing
from zoho_pipelines_tests.zoho.scripted_server import Canned, ScriptedZoho, SeenRequest, transport_for


@pytest.fixture
def server():
    with ScriptedZoho() as scripted:
        yield scripted


@pytest.mark.parametrize(
    ("limit", "credits"), [(1, 1), (200, 1), (201, 2), (1_000, 2), (1_001, 3), (2_000, 3)]
)
def test_coql_is_priced_by_limit(limit, credits):
    assert coql_credits(limit) == credits


def test_window_query_shape_and_whole_second_bounds():
    start = datetime(2024, 5, 1, 10, 0, 0, 500_000, tzinfo=UTC)
    end = datetime(2024, 5, 1, 11, 0, 0, 1, tzinfo=UTC)
    assert window_query("Deals", ["Modified_Time", "Deal_Name"], start, end, 2_000, 2_000) == (
        "select Modified_Time, Deal_Name from Deals where (Modified_Time >= '2024-05-01T10:00:00+00:00' "
        "and Modified_Time < '2024-05-01T11:00:01+00:00') order by Modified_Time asc, id asc limit 2000, 2000"
    )


def test_window_query_refuses_names_that_are_not_api_names():
    now = datetime.now(UTC)
    with pytest.raises(ValueError, match="api_name"):
        window_query("Deals", ["Deal_Name from Leads --"], now, now, 0, 1)


def test_coql_window_pages_by_2000_and_charges_three_credits_a_call(server):
    listing = CrmListing("Deals", 4_500, per_second=4)
    server.on_api_call = listing
    start, end = listing.moment(0), listing.moment(4_499) + timedelta(seconds=1)
    with transport_for(server) as transport:
        batches = list(CrmClient(transport).iter_modified_coql("Deals", ["F_0", "F_1"], start, end))
        credits = transport.stats.snapshot()["credits"]
    assert [len(batch) for batch in batches] == [2_000, 2_000, 500]
    assert [r["id"] for batch in batches for r in batch] == listing.ids_between(start, end)
    # Three credits a COQL call, and one for the field metadata (which fields COQL can select).
    assert credits == 3 * len(listing.coql_queries) + 1 == 10


def test_coql_window_rebases_when_the_offset_ceiling_is_reached(server):
    listing = CrmListing("Deals", 1_000, per_second=9)
    server.on_api_call = listing
    start, end = listing.moment(0), listing.moment(999) + timedelta(seconds=1)
    with transport_for(server) as transport:
        reader = CrmClient(transport).coql
        ids = [
            r["id"]
            for batch in reader.iter_window("Deals", ["F_0"], start, end, page_size=100, max_offset_rows=300)
            for r in batch
        ]
    assert ids == listing.ids_between(start, end)
    assert sum(" limit 0, 100" in query for query in listing.coql_queries) >= 3  # re-based at least twice


def test_coql_window_with_more_than_50_fields_completes_rows_by_id(server):
    listing = CrmListing("Deals", 300, extra_fields=70)
    server.on_api_call = listing
    start, end = listing.moment(0), listing.moment(299) + timedelta(seconds=1)
    with transport_for(server) as transport:
        rows = [
            r
            for batch in CrmClient(transport).iter_modified_coql("Deals", listing.field_names, start, end)
            for r in batch
        ]
    assert rows == listing.records


def test_reserved_words_are_quoted_and_other_names_are_not():
    start = datetime(2024, 5, 1, tzinfo=UTC)
    query = window_query("Service_Contracts", ["External", "Name", "Account.Order"], start, start, 0, 200)
    assert query.startswith("select 'External', Name, 'Account.Order' from Service_Contracts where ")


def test_more_than_two_criteria_are_bracketed_in_pairs():
    assert all_of(["A"]) == "A"
    assert all_of(["A", "B", "C", "D"]) == "(((A and B) and C) and D)"
    start = datetime(2024, 5, 1, tzinfo=UTC)
    query = window_query("Deals", ["Stage"], start, start, 0, 200, criteria=["Stage = 'Won'"])
    bounds = "Modified_Time >= '2024-05-01T00:00:00+00:00' and Modified_Time < '2024-05-01T00:00:00+00:00'"
    assert f"where (({bounds}) and Stage = 'Won') order by" in query


class LimitedCoql:
    """A module served as Zoho's COQL limits demand: it refuses more than 15 select joins, any
    image-upload column and an unquoted reserved word, with Zoho's error codes; the records API
    (by id) serves every field, the image uploads included."""

    LOOKUPS = tuple(f"Lookup_{n}" for n in range(20))

    def __init__(self) -> None:
        self.moment = "2024-05-01T10:00:00+00:00"
        self.records = {
            str(n): {
                "id": str(n),
                "Modified_Time": self.moment,
                "External": f"ext-{n}",
                "Photos": [{"File_Id__s": f"photo-{n}"}],
                **{lookup: {"id": f"{lookup}-{n}"} for lookup in self.LOOKUPS},
            }
            for n in range(1, 6)
        }
        self.queries: list[str] = []

    def expected(self) -> list[dict]:
        return [
            {
                **record,
                **{
                    lookup: {"name": f"name-{record[lookup]['id']}", "id": record[lookup]["id"]}
                    for lookup in self.LOOKUPS
                },
            }
            for record in self.records.values()
        ]

    def metadata(self, module: str) -> list[dict]:
        if module == "Targets":
            return [{"api_name": "Name", "data_type": "text", "display_field": True}]
        return [
            {"api_name": "Modified_Time", "data_type": "datetime"},
            {"api_name": "External", "data_type": "text"},
            {"api_name": "Photos", "data_type": "imageupload"},
            *(
                {"api_name": name, "data_type": "lookup", "lookup": {"module": {"api_name": "Targets"}}}
                for name in self.LOOKUPS
            ),
        ]

    def __call__(self, request: SeenRequest) -> Canned | None:
        if request.path.endswith("/settings/fields"):
            return Canned(200, {"fields": self.metadata(request.query["module"][0])})
        if request.path.endswith("/coql"):
            return self._coql(json.loads(request.body)["select_query"])
        if request.path.endswith("/Contracts") and "ids" in request.query:
            names = request.query["fields"][0].split(",")
            rows = [
                {"id": key, **{name: self._rendered(key, name) for name in names}}
                for key in request.query["ids"][0].split(",")
            ]
            return Canned(200, {"data": rows})
        return None

    def _rendered(self, key: str, name: str):
        value = self.records[key][name]
        if name in self.LOOKUPS:
            return {"name": f"name-{value['id']}", "id": value["id"]}
        return value

    def _coql(self, query: str) -> Canned:
        self.queries.append(query)
        columns = [c.strip() for c in query.split(" from ")[0].removeprefix("select ").split(",")]
        if sum("." in column for column in columns) > 15:
            return Canned(
                400, {"code": "LIMIT_EXCEEDED", "details": {"by": "select_column_joins"}, "status": "error"}
            )
        if any(column.strip("'") == "Photos" for column in columns) or "External" in columns:
            return Canned(400, {"code": "INVALID_QUERY", "details": {}, "status": "error"})
        rows = []
        for record in self.records.values():
            row = {"id": record["id"]}
            for column in (c.strip("'") for c in columns):
                lookup, _, target = column.partition(".")
                row[column] = f"name-{record[lookup]['id']}" if target else record[column]
            rows.append(row)
        return Canned(200, {"data": rows, "info": {"more_records": False}})


def test_a_read_keeps_to_coqls_limits_and_still_returns_every_field_named() -> None:
    module = LimitedCoql()
    start = datetime(2024, 5, 1, 9, tzinfo=UTC)
    fields = ["Modified_Time", "External", "Photos", *LimitedCoql.LOOKUPS]
    with ScriptedZoho() as scripted:
        scripted.on_api_call = module
        with transport_for(scripted) as transport:
            batches = CrmClient(transport).iter_modified_coql(
                "Contracts", fields, start, start + timedelta(hours=2), name_lookups=True
            )
            rows = sorted((row for batch in batches for row in batch), key=lambda row: int(row["id"]))
        by_id_reads = [
            request.query["fields"][0] for request in scripted.api_requests() if "ids" in request.query
        ]
    assert rows == module.expected()
    assert len(module.queries) == 2  # 15 joins in the first query, the other 5 in a second one
    assert [query.split(" from ")[0].count(".") for query in module.queries] == [15, 5]
    assert "'External'" in module.queries[0]
    assert by_id_reads == ["Photos"]  # the image upload, through the records API


def test_a_decoded_page_is_freed_when_dropped_not_when_the_collector_runs(server):
    """httpx's Response and its stream refer to each other; json_body breaks that cycle, so a 2 MB
    COQL body goes when its page does (a sync runs the cyclic collector seldom, see gc_tuning)."""
    server.enqueue(Canned(200, {"data": [{"id": "1"}], "info": {"more_records": False}}))
    with transport_for(server) as transport:
        response = transport.request("POST", "/crm/v8/coql", json={"select_query": "q"}, idempotent=True)
        dropped = weakref.ref(response)
        gc.disable()
        try:
            assert json_body(response) == {"data": [{"id": "1"}], "info": {"more_records": False}}
            assert response.json()["data"] == [{"id": "1"}]  # the body stays readable
            del response
            assert dropped() is None
        finally:
            gc.enable()
