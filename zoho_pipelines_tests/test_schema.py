"""Zoho field metadata -> Arrow -> SQL, record normalisation, and schema drift."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from zoho_pipelines.catalog import default_catalog
from zoho_pipelines.schema import (
    STRING_LIST,
    UTC_TIMESTAMP,
    ColumnRole,
    ModuleSchema,
    RecordNormalizer,
    RecordValueError,
    SchemaDriftError,
    SchemaError,
    SqlDialect,
    build_module_schema,
    columns_for_field,
    merge_schemas,
    sql_type,
)
from zoho_pipelines.schema.normalize import _to_decimal_exactly

SYNCED = datetime(2024, 3, 6, 2, 0, tzinfo=UTC)
LEADS = default_catalog().get("crm", "leads")
DEC2 = pa.decimal128(38, 2)

# Metadata as GET /crm/v8/settings/fields?module=Leads returns it (trimmed to what matters).
LEAD_METADATA: list[dict[str, Any]] = [
    {"api_name": "Last_Name", "data_type": "text", "json_type": "string", "length": 80},
    {"api_name": "Email", "data_type": "email", "json_type": "string"},
    {"api_name": "Description", "data_type": "textarea", "json_type": "string"},
    {"api_name": "Lead_Status", "data_type": "picklist", "json_type": "string"},
    {"api_name": "Owner", "data_type": "ownerlookup", "json_type": "jsonobject"},
    {
        "api_name": "Campaign",
        "data_type": "lookup",
        "json_type": "jsonobject",
        "lookup": {"module": {"api_name": "Campaigns"}},
    },
    {"api_name": "Annual_Revenue", "data_type": "currency", "json_type": "double", "decimal_place": 2},
    {"api_name": "Discount", "data_type": "percent", "json_type": "double", "decimal_place": 1},
    {"api_name": "Rating_Score", "data_type": "double", "json_type": "double", "decimal_place": 3},
    {"api_name": "Ratio", "data_type": "double", "json_type": "double", "decimal_place": None},
    {"api_name": "No_of_Employees", "data_type": "integer", "json_type": "integer"},
    {"api_name": "Big_Count", "data_type": "bigint", "json_type": "integer"},
    {"api_name": "Email_Opt_Out", "data_type": "boolean", "json_type": "boolean"},
    {"api_name": "Date_of_Birth", "data_type": "date", "json_type": "string"},
    {"api_name": "Modified_Time", "data_type": "datetime", "json_type": "string"},
    {"api_name": "Last_Activity_Time", "data_type": "datetime", "json_type": "string"},
    {"api_name": "Interests", "data_type": "multiselectpicklist", "json_type": "jsonarray"},
    {"api_name": "Products", "data_type": "multiselectlookup", "json_type": "jsonarray"},
    {"api_name": "Visits", "data_type": "subform", "json_type": "jsonarray"},
    {
        "api_name": "Score",
        "data_type": "formula",
        "json_type": "double",
        "formula": {"return_type": "currency"},
        "decimal_place": 2,
    },
    {"api_name": "Lead_No", "data_type": "autonumber", "json_type": "string"},
    {"api_name": "Brand_New_Type", "data_type": "hologram", "json_type": "jsonobject"},
]


def lead(**overrides: Any) -> dict[str, Any]:
    record = {
        "id": "4876876000000623001",
        "Last_Name": "Rao",
        "Email": "rao@example.com",
        "Description": "line one\nline two",
        "Lead_Status": "Contacted",
        "Owner": {"name": "Ann Owner", "id": "4876876000000323001", "email": "ann@example.com"},
        "Campaign": {"name": "Spring", "id": "4876876000000999001"},
        "Annual_Revenue": 1234567.89,
        "Discount": 12.5,
        "Rating_Score": 4.125,
        "Ratio": 0.3333,
        "No_of_Employees": 250,
        "Big_Count": 9_007_199_254_740_993,
        "Email_Opt_Out": False,
        "Date_of_Birth": "1990-05-17",
        "Modified_Time": "2024-03-05T10:15:30+05:30",
        "Last_Activity_Time": "2024-03-04T23:00:00-08:00",
        "Interests": ["Cloud", "AI"],
        "Products": [{"Product": {"name": "Widget", "id": "1"}, "id": "77"}],
        "Visits": [{"Visited_On": "2024-03-01", "Notes": "ok"}],
        "Score": 99.95,
        "Lead_No": "L-0001",
        "Brand_New_Type": {"x": 1},
        "$approval_state": "approved",
    }
    record.update(overrides)
    return record


@pytest.fixture
def schema() -> ModuleSchema:
    return build_module_schema(LEADS, LEAD_METADATA)


@pytest.fixture
def normalizer(schema: ModuleSchema) -> RecordNormalizer:
    return RecordNormalizer(schema)


# ---- metadata -> Arrow -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        ({"data_type": "text"}, [("f", pa.string(), ColumnRole.VALUE)]),
        ({"data_type": "website"}, [("f", pa.string(), ColumnRole.VALUE)]),
        ({"data_type": "integer"}, [("f", pa.int32(), ColumnRole.VALUE)]),
        ({"data_type": "bigint"}, [("f", pa.int64(), ColumnRole.VALUE)]),
        ({"data_type": "currency", "decimal_place": 2}, [("f", DEC2, ColumnRole.VALUE)]),
        ({"data_type": "currency", "decimal_place": None}, [("f", DEC2, ColumnRole.VALUE)]),
        ({"data_type": "percent", "decimal_place": 4}, [("f", pa.decimal128(38, 4), ColumnRole.VALUE)]),
        ({"data_type": "double", "decimal_place": 3}, [("f", pa.decimal128(38, 3), ColumnRole.VALUE)]),
        ({"data_type": "double"}, [("f", pa.float64(), ColumnRole.VALUE)]),
        ({"data_type": "boolean"}, [("f", pa.bool_(), ColumnRole.VALUE)]),
        ({"data_type": "date"}, [("f", pa.date32(), ColumnRole.VALUE)]),
        ({"data_type": "datetime"}, [("f", UTC_TIMESTAMP, ColumnRole.VALUE)]),
        ({"data_type": "multiselectpicklist"}, [("f", STRING_LIST, ColumnRole.VALUE)]),
        ({"data_type": "subform"}, [("f", pa.string(), ColumnRole.JSON)]),
        ({"data_type": "multiselectlookup"}, [("f", pa.string(), ColumnRole.JSON)]),
        ({"data_type": "fileupload"}, [("f", pa.string(), ColumnRole.JSON)]),
        ({"data_type": "imageupload", "json_type": "jsonarray"}, [("f", pa.string(), ColumnRole.JSON)]),
        ({"data_type": "multiuserlookup", "json_type": "jsonarray"}, [("f", pa.string(), ColumnRole.JSON)]),
        (
            {"data_type": "multi_module_lookup", "json_type": "jsonobject"},
            [("f", pa.string(), ColumnRole.JSON)],
        ),
        ({"data_type": "consent_lookup", "json_type": "jsonobject"}, [("f", pa.string(), ColumnRole.JSON)]),
        # The standard Tag field: data_type text, but records carry [{"name", "id", "color_code"}].
        ({"data_type": "text", "json_type": "jsonarray"}, [("f", pa.string(), ColumnRole.JSON)]),
        ({"data_type": "integer", "json_type": "jsonobject"}, [("f", pa.string(), ColumnRole.JSON)]),
        # Record_Image: an image id as a string, not a file list.
        ({"data_type": "profileimage", "json_type": "string"}, [("f", pa.string(), ColumnRole.VALUE)]),
        (
            {"data_type": "multiselectpicklist", "json_type": "jsonarray"},
            [("f", STRING_LIST, ColumnRole.VALUE)],
        ),
        ({"data_type": "bigint", "json_type": "string"}, [("f", pa.int64(), ColumnRole.VALUE)]),
        (
            {
                "data_type": "rollup_summary",
                "json_type": "double",
                "rollup_summary": {"return_type": "currency"},
            },
            [("f", DEC2, ColumnRole.VALUE)],
        ),
        ({"data_type": "rollup_summary", "json_type": "integer"}, [("f", pa.int64(), ColumnRole.VALUE)]),
        (
            {"data_type": "userlookup"},
            [("f_id", pa.string(), ColumnRole.LOOKUP_ID), ("f_name", pa.string(), ColumnRole.LOOKUP_NAME)],
        ),
        (
            {"data_type": "formula", "formula": {"return_type": "boolean"}},
            [("f", pa.bool_(), ColumnRole.VALUE)],
        ),
        (
            {"data_type": "formula", "formula": {"return_type": "datetime"}},
            [("f", UTC_TIMESTAMP, ColumnRole.VALUE)],
        ),
        (
            {"data_type": "formula", "formula": {"return_type": "string"}},
            [("f", pa.string(), ColumnRole.VALUE)],
        ),
        ({"data_type": "somethingnew", "json_type": "integer"}, [("f", pa.int64(), ColumnRole.VALUE)]),
        ({"data_type": "somethingnew", "json_type": "jsonarray"}, [("f", pa.string(), ColumnRole.JSON)]),
        ({"data_type": "somethingnew"}, [("f", pa.string(), ColumnRole.JSON)]),
    ],
)
def test_each_zoho_data_type_maps_to_its_columns(metadata: dict[str, Any], expected: list[tuple]) -> None:
    columns = columns_for_field({"api_name": "F", **metadata})
    assert [(column.name, column.type, column.role) for column in columns] == expected
    assert all(column.source == "F" for column in columns)


def test_module_schema_orders_id_system_columns_then_fields(schema: ModuleSchema) -> None:
    arrow = schema.to_arrow()
    assert arrow.names[:6] == ["id", "_modified_time", "_deleted", "_synced_at", "_partition", "_unfitted"]
    assert arrow.names[6:10] == ["last_name", "email", "description", "lead_status"]
    assert arrow.field("_unfitted").nullable
    assert "owner_id" in arrow.names
    assert "campaign_name" in arrow.names
    assert [field.nullable for field in arrow][:5] == [False] * 5
    assert arrow.field("_modified_time").type == UTC_TIMESTAMP
    assert arrow.field("_partition").type == pa.date32()


def test_books_primary_keys_become_the_id_column() -> None:
    spec = default_catalog().get("books", "invoices")
    schema = build_module_schema(spec)
    assert "invoice_id" not in schema.to_arrow().names
    record = {
        "invoice_id": "982000000567114",
        "total": 250.0,
        "last_modified_time": "2024-03-05T02:17:40-0800",
    }
    row = RecordNormalizer(schema).records([record], synced_at=SYNCED).to_pylist()[0]
    assert (row["id"], row["total"]) == ("982000000567114", Decimal("250.00"))
    assert row["_modified_time"] == datetime(2024, 3, 5, 10, 17, 40, tzinfo=UTC)


def test_projects_ids_and_epoch_millisecond_cursors() -> None:
    schema = build_module_schema(default_catalog().get("projects", "tasks"))
    record = {
        "id": 170876000000100123,
        "name": "Ship it",
        "last_updated_time_long": 1709633730123,
        "status": {"name": "Open", "type": "open"},
    }
    row = RecordNormalizer(schema).records([record], synced_at=SYNCED).to_pylist()[0]
    assert row["id"] == "170876000000100123"  # beyond 2**53: kept exact as text
    assert row["_modified_time"] == datetime(2024, 3, 5, 10, 15, 30, 123000, tzinfo=UTC)
    assert row["last_updated_time_long"] == 1709633730123
    assert orjson.loads(row["status"]) == {"name": "Open", "type": "open"}


@pytest.mark.parametrize("spec", default_catalog().modules(), ids=lambda spec: spec.selector)
def test_every_catalogued_module_has_a_buildable_schema(spec: Any) -> None:
    schema = build_module_schema(
        spec, [{"api_name": "Modified_Time", "data_type": "datetime"}] if spec.app == "crm" else None
    )
    assert schema.to_arrow().names[0] == "id"


def test_column_name_collisions_are_refused() -> None:
    metadata = [
        {"api_name": "Owner", "data_type": "ownerlookup"},
        {"api_name": "Owner_Id", "data_type": "text"},
    ]
    with pytest.raises(SchemaError, match="'Owner' and 'Owner_Id' both map to column 'owner_id'"):
        build_module_schema(LEADS, metadata)
    with pytest.raises(SchemaError, match="_deleted"):
        build_module_schema(LEADS, [{"api_name": "_Deleted", "data_type": "boolean"}])


# ---- Arrow -> SQL ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arrow_type", "duckdb", "postgresql", "redshift"),
    [
        (pa.string(), "VARCHAR", "TEXT", "VARCHAR(65535)"),
        (pa.int32(), "INTEGER", "INTEGER", "INTEGER"),
        (pa.int64(), "BIGINT", "BIGINT", "BIGINT"),
        (pa.float64(), "DOUBLE", "DOUBLE PRECISION", "DOUBLE PRECISION"),
        (DEC2, "DECIMAL(38, 2)", "DECIMAL(38, 2)", "DECIMAL(38, 2)"),
        (pa.bool_(), "BOOLEAN", "BOOLEAN", "BOOLEAN"),
        (pa.date32(), "DATE", "DATE", "DATE"),
        (UTC_TIMESTAMP, "TIMESTAMPTZ", "TIMESTAMPTZ", "TIMESTAMPTZ"),
        (STRING_LIST, "VARCHAR[]", "TEXT[]", "SUPER"),
    ],
)
def test_sql_types_per_warehouse(
    arrow_type: pa.DataType, duckdb: str, postgresql: str, redshift: str
) -> None:
    assert [sql_type(arrow_type, dialect) for dialect in SqlDialect] == [duckdb, postgresql, redshift]


def test_sql_types_refuse_what_they_cannot_store_losslessly() -> None:
    with pytest.raises(SchemaError, match="no redshift column type"):
        sql_type(pa.timestamp("us"), "redshift")


# ---- records -> Arrow ------------------------------------------------------------------------


def test_a_full_crm_record_normalises_to_exact_typed_values(normalizer: RecordNormalizer) -> None:
    batch = normalizer.records([lead()], synced_at=SYNCED)
    assert batch.schema.equals(normalizer.arrow_schema)
    row = batch.to_pylist()[0]
    products = row.pop("products")
    visits = row.pop("visits")
    assert row == {
        "id": "4876876000000623001",
        "_modified_time": datetime(2024, 3, 5, 4, 45, 30, tzinfo=UTC),
        "_deleted": False,
        "_synced_at": SYNCED,
        "_partition": date(2024, 3, 5),
        "last_name": "Rao",
        "email": "rao@example.com",
        "description": "line one\nline two",
        "lead_status": "Contacted",
        "owner_id": "4876876000000323001",
        "owner_name": "Ann Owner",
        "campaign_id": "4876876000000999001",
        "campaign_name": "Spring",
        "annual_revenue": Decimal("1234567.89"),
        "discount": Decimal("12.5"),
        "rating_score": Decimal("4.125"),
        "ratio": 0.3333,
        "no_of_employees": 250,
        "big_count": 9_007_199_254_740_993,
        "email_opt_out": False,
        "date_of_birth": date(1990, 5, 17),
        "modified_time": datetime(2024, 3, 5, 4, 45, 30, tzinfo=UTC),
        "last_activity_time": datetime(2024, 3, 5, 7, 0, tzinfo=UTC),
        "interests": ["Cloud", "AI"],
        "score": Decimal("99.95"),
        "lead_no": "L-0001",
        "brand_new_type": '{"x":1}',
        "_unfitted": None,
    }
    assert orjson.loads(products) == lead()["Products"]
    assert orjson.loads(visits) == lead()["Visits"]


def test_missing_and_null_values_are_nulls_and_the_partition_is_the_utc_day(
    normalizer: RecordNormalizer,
) -> None:
    sparse = {"id": "1", "Modified_Time": "2024-03-05T23:30:00-05:00", "Owner": None, "Interests": []}
    row = normalizer.records([sparse], synced_at=SYNCED).to_pylist()[0]
    assert row["_partition"] == date(2024, 3, 6)
    assert (row["owner_id"], row["owner_name"], row["last_name"], row["visits"]) == (None, None, None, None)
    assert row["interests"] == []


def test_harmless_zoho_quirks_are_coerced_without_disturbing_other_columns(
    normalizer: RecordNormalizer,
) -> None:
    clean = [lead(id=str(i)) for i in range(5)]
    quirky = [
        *clean,
        lead(
            id="5",
            No_of_Employees="42",
            Annual_Revenue="1999.990",
            Last_Name=12345,
            Email_Opt_Out="true",
            Date_of_Birth="",
            Owner={"id": 9, "name": "Numeric Id"},
            Campaign="4876876000000999002",
        ),
    ]
    fast = normalizer.records(clean, synced_at=SYNCED)
    slow = normalizer.records(quirky, synced_at=SYNCED)
    assert slow.slice(0, 5).equals(fast)  # the per-cell path agrees with the columnar one
    row = slow.to_pylist()[5]
    assert (row["no_of_employees"], row["annual_revenue"], row["last_name"]) == (
        42,
        Decimal("1999.99"),
        "12345",
    )
    assert (row["email_opt_out"], row["date_of_birth"]) == (True, None)
    assert (row["owner_id"], row["owner_name"], row["campaign_id"]) == (
        "9",
        "Numeric Id",
        "4876876000000999002",
    )


@pytest.mark.parametrize(
    ("overrides", "column"),
    [
        ({"Date_of_Birth": "17/05/1990"}, "date_of_birth"),
        ({"No_of_Employees": "many"}, "no_of_employees"),
        ({"No_of_Employees": 2**40}, "no_of_employees"),
        ({"No_of_Employees": 3.7}, "no_of_employees"),
        ({"No_of_Employees": "3.7"}, "no_of_employees"),
        ({"No_of_Employees": True}, "no_of_employees"),
        ({"Big_Count": 2**64}, "big_count"),
        ({"Email_Opt_Out": "perhaps"}, "email_opt_out"),
        ({"Annual_Revenue": {"amount": 1}}, "annual_revenue"),
        ({"Annual_Revenue": 1999.999}, "annual_revenue"),
        ({"Annual_Revenue": True}, "annual_revenue"),
        ({"Annual_Revenue": "NaN"}, "annual_revenue"),
        ({"Ratio": 2**53 + 1}, "ratio"),
        ({"Interests": "Cloud"}, "interests"),
        ({"Interests": [{"name": "Cloud"}]}, "interests"),
        ({"Owner": ["x"]}, "owner_id"),
        ({"Last_Name": {"first": "x"}}, "last_name"),
        ({"Last_Activity_Time": "2024-03-05T10:15:30"}, "last_activity_time"),
        ({"Last_Activity_Time": "2024-03-05"}, "last_activity_time"),
        ({"Date_of_Birth": "2024-03-05T10:15:30+05:30"}, "date_of_birth"),
    ],
)
def test_a_value_that_does_not_fit_lands_unaltered_in_unfitted(
    normalizer: RecordNormalizer, overrides: dict[str, Any], column: str
) -> None:
    """The never-fail rule: the row lands, the typed column is null, the value is kept as sent."""
    (field,) = overrides
    records = [lead(id="100"), lead(**{"id": "101", **overrides}), lead(id="102")]
    batch = normalizer.records(records, synced_at=SYNCED)
    rows = batch.to_pylist()
    assert [row["id"] for row in rows] == ["100", "101", "102"]
    assert rows[1][column] is None
    assert json.loads(rows[1]["_unfitted"]) == {field: overrides[field]}
    assert [rows[0]["_unfitted"], rows[2]["_unfitted"]] == [None, None]
    assert rows[0][column] == rows[2][column] is not None  # the neighbours keep their values
    assert dict(normalizer.unfitted) == {field: 1}
    assert normalizer.unfitted_samples == {field: ["101"]}


def test_one_rule_for_fractions_in_integer_fields_on_both_paths(normalizer: RecordNormalizer) -> None:
    """3.7 is kept whether the batch goes the columnar way or value by value; 3.0 is the integer 3."""
    columnar = normalizer.records([lead(id="1", No_of_Employees=3.7)], synced_at=SYNCED)
    per_value = normalizer.records([lead(id="2", No_of_Employees=3.7, Last_Name=12345)], synced_at=SYNCED)
    exact = normalizer.records([lead(id="3", No_of_Employees=3.0)], synced_at=SYNCED)
    for batch in (columnar, per_value):
        row = batch.to_pylist()[0]
        assert row["no_of_employees"] is None
        assert json.loads(row["_unfitted"]) == {"No_of_Employees": 3.7}
    assert exact.to_pylist()[0]["no_of_employees"] == 3
    assert exact.to_pylist()[0]["_unfitted"] is None
    assert normalizer.unfitted == {"No_of_Employees": 2}


def test_a_boolean_among_numbers_that_read_the_same_is_still_told_apart(normalizer: RecordNormalizer) -> None:
    """Arrow reads true as 1.0 and false as 0.0: only the booleans are unfitted, not 1 and 0."""
    records = [
        lead(id="1", No_of_Employees=1, Discount=0),
        lead(id="2", No_of_Employees=True, Discount=False),
        lead(id="3", No_of_Employees=1.0, Discount=0.0),
    ]
    rows = normalizer.records(records, synced_at=SYNCED).to_pylist()
    assert [(row["no_of_employees"], row["discount"]) for row in rows] == [(1, 0), (None, None), (1, 0)]
    assert json.loads(rows[1]["_unfitted"]) == {"No_of_Employees": True, "Discount": False}
    assert [rows[0]["_unfitted"], rows[2]["_unfitted"]] == [None, None]


def test_exact_decimals_pass_the_columnar_check_and_extra_places_do_not() -> None:
    """Arrow's decimal-to-double cast reads 447211.72 back as 447211.72000000003: the columnar
    check must still take it (else every currency page goes value by value), and still refuse 0.497."""
    exact = _to_decimal_exactly(pa.array([447211.72, 357376.55, None, -0.5]), DEC2)
    assert exact.to_pylist() == [Decimal("447211.72"), Decimal("357376.55"), None, Decimal("-0.50")]
    with pytest.raises(pa.ArrowInvalid):
        _to_decimal_exactly(pa.array([447211.72, 0.497]), DEC2)


def test_several_unfitted_values_of_one_record_and_lookups_count_once(normalizer: RecordNormalizer) -> None:
    record = lead(id="7", Owner=[1, 2], No_of_Employees="lots", Interests="AI")
    row = normalizer.records([record], synced_at=SYNCED).to_pylist()[0]
    assert (row["owner_id"], row["owner_name"]) == (None, None)
    assert json.loads(row["_unfitted"]) == {"Owner": [1, 2], "No_of_Employees": "lots", "Interests": "AI"}
    assert normalizer.unfitted == {"Owner": 1, "No_of_Employees": 1, "Interests": 1}


@pytest.mark.parametrize(
    ("overrides", "field", "problem"),
    [
        ({"Modified_Time": "2024-03-05T10:15:30"}, "Modified_Time", "with a UTC offset"),
        ({"Modified_Time": None}, "Modified_Time", "has no modification time"),
        ({"id": None}, "id", "has no record id"),
    ],
)
def test_a_record_without_id_or_modification_time_cannot_be_placed(
    normalizer: RecordNormalizer, overrides: dict[str, Any], field: str, problem: str
) -> None:
    records = [lead(id="100"), lead(**{"id": "101", **overrides})]
    with pytest.raises(RecordValueError) as failure:
        normalizer.records(records, synced_at=SYNCED)
    error = failure.value
    assert (error.module, error.field) == ("crm/leads", field)
    assert problem in str(error)
    if field != "id":
        assert error.record_id == "101"
        assert str(error).startswith("crm/leads: record '101', field")


def test_long_values_are_shortened_in_errors(normalizer: RecordNormalizer) -> None:
    with pytest.raises(RecordValueError) as failure:
        normalizer.records([lead(Modified_Time="x" * 500)], synced_at=SYNCED)
    assert len(str(failure.value)) < 200


def test_tombstones_carry_id_deletion_time_and_nothing_else(normalizer: RecordNormalizer) -> None:
    deleted = [
        {
            "id": "11",
            "display_name": "Gone",
            "type": "recycle",
            "deleted_time": "2024-03-05T22:00:00-05:00",
            "deleted_by": {"name": "Ann", "id": "1"},
        },
    ]
    row = normalizer.tombstones(deleted, synced_at=SYNCED).to_pylist()[0]
    assert (row["id"], row["_deleted"], row["_partition"]) == ("11", True, date(2024, 3, 6))
    assert row["_modified_time"] == datetime(2024, 3, 6, 3, 0, tzinfo=UTC)
    assert {key for key, value in row.items() if value is not None} == {
        "id",
        "_modified_time",
        "_deleted",
        "_synced_at",
        "_partition",
    }


def test_synced_at_must_be_timezone_aware(normalizer: RecordNormalizer) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        normalizer.records([lead()], synced_at=datetime(2024, 3, 6))


def test_an_empty_batch_has_the_schema(normalizer: RecordNormalizer) -> None:
    assert normalizer.records([], synced_at=SYNCED).num_rows == 0


# ---- stored schema and drift -----------------------------------------------------------------


def test_the_schema_survives_a_parquet_round_trip(
    schema: ModuleSchema, normalizer: RecordNormalizer, tmp_path: Path
) -> None:
    path = tmp_path / "leads.parquet"
    pq.write_table(pa.Table.from_batches([normalizer.records([lead()], synced_at=SYNCED)]), path)
    assert ModuleSchema.from_arrow(pq.read_schema(path)) == schema


def test_a_schema_without_zoho_metadata_is_refused() -> None:
    with pytest.raises(SchemaError, match="zoho metadata"):
        ModuleSchema.from_arrow(pa.schema([("id", pa.string())]))


def test_drift_appends_new_fields_and_keeps_removed_ones(schema: ModuleSchema) -> None:
    current = [field for field in LEAD_METADATA if field["api_name"] != "Discount"]
    current.append({"api_name": "Referrer", "data_type": "userlookup"})
    current[0] = {**current[0], "data_type": "textarea"}  # same Arrow type: absorbed
    merged = merge_schemas(schema, build_module_schema(LEADS, current))

    assert merged.added_columns == ("referrer_id", "referrer_name")
    assert merged.removed_fields == ("Discount",)
    names = [column.name for column in merged.schema.fields]
    assert names[: len(schema.fields)] == [column.name for column in schema.fields]
    assert names[-2:] == ["referrer_id", "referrer_name"]
    discount = next(column for column in merged.schema.fields if column.name == "discount")
    assert discount.removed
    assert discount.to_arrow_field().nullable
    assert ModuleSchema.from_arrow(merged.schema.to_arrow()) == merged.schema

    # Records no longer carrying the removed field still normalise, with nulls there.
    row = RecordNormalizer(merged.schema).records([lead(Discount=None)], synced_at=SYNCED).to_pylist()[0]
    assert row["discount"] is None
    # The field coming back un-marks it.
    back = merge_schemas(merged.schema, build_module_schema(LEADS, LEAD_METADATA))
    assert not next(column for column in back.schema.fields if column.name == "discount").removed


@pytest.mark.parametrize(
    ("change", "old", "new"),
    [
        (
            {"api_name": "Annual_Revenue", "data_type": "text"},
            "currency (annual_revenue decimal128(38, 2))",
            "text (annual_revenue string)",
        ),
        (
            {"api_name": "Annual_Revenue", "data_type": "currency", "decimal_place": 4},
            "decimal128(38, 2)",
            "decimal128(38, 4)",
        ),
        (
            {"api_name": "Campaign", "data_type": "text"},
            "lookup (campaign_id string, campaign_name string)",
            "text (campaign string)",
        ),
        ({"api_name": "No_of_Employees", "data_type": "bigint"}, "int32", "int64"),
    ],
)
def test_incompatible_type_changes_raise_schema_drift_with_advice(
    schema: ModuleSchema, change: dict[str, Any], old: str, new: str
) -> None:
    current = [change if field["api_name"] == change["api_name"] else field for field in LEAD_METADATA]
    with pytest.raises(SchemaDriftError) as failure:
        merge_schemas(schema, build_module_schema(LEADS, current))
    error = failure.value
    assert error.field == change["api_name"]
    assert old in error.old_type
    assert new in error.new_type
    assert "zoho_crm.leads" in str(error)
    assert "backfill" in str(error)


def test_a_new_field_taking_a_stored_column_name_is_drift(schema: ModuleSchema) -> None:
    stored = merge_schemas(schema, build_module_schema(LEADS, LEAD_METADATA[1:])).schema  # Last_Name removed
    renamed = [{"api_name": "LAST_NAME", "data_type": "text"}, *LEAD_METADATA[1:]]
    with pytest.raises(SchemaDriftError, match="Rename the stored column 'last_name'"):
        merge_schemas(stored, build_module_schema(LEADS, renamed))


def test_schemas_of_different_modules_do_not_merge(schema: ModuleSchema) -> None:
    deals = build_module_schema(default_catalog().get("crm", "deals"), LEAD_METADATA)
    with pytest.raises(SchemaError, match="cannot merge"):
        merge_schemas(schema, deals)


def test_integers_beyond_64_bits_are_kept_exactly_in_json_and_unfitted(normalizer: RecordNormalizer) -> None:
    """orjson refuses them; the standard library's JSON keeps them, so even these never stop a sync."""
    huge = 2**70 + 1
    row = normalizer.records(
        [lead(id="9", Brand_New_Type={"n": huge}, Big_Count=huge)], synced_at=SYNCED
    ).to_pylist()[0]
    assert json.loads(row["brand_new_type"]) == {"n": huge}
    assert row["big_count"] is None
    assert json.loads(row["_unfitted"]) == {"Big_Count": huge}


def test_large_currency_amounts_keep_the_digits_zoho_sent(normalizer: RecordNormalizer) -> None:
    """Past 2**52 / 100 a double is coarser than a cent: the columnar cast could invent digits."""
    amounts = [1_000_000_000_000_000.1, 123_456_789_012_345.67, 0.1, 45_035_996_273_704.95]
    batch = normalizer.records(
        [lead(id=str(index), Annual_Revenue=amount) for index, amount in enumerate(amounts)], synced_at=SYNCED
    )
    assert batch.column("annual_revenue").to_pylist() == [Decimal(repr(amount)) for amount in amounts]
    assert batch.column("_unfitted").null_count == len(amounts)
