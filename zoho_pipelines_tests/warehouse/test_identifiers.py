"""Long Zoho api names: PostgreSQL cuts identifiers to 63 bytes (Redshift: 127) without a word, so
two names sharing a 63-byte prefix became one column and a single long name never matched its own
(cut) column again. Long names are shortened the same way every time instead."""

from __future__ import annotations

from datetime import date

import pyarrow as pa

from zoho_pipelines.warehouse import SqlWarehouse, TableRef, sql
from zoho_pipelines.warehouse.redshift import merge_script
from zoho_pipelines_tests.warehouse.support import LEAD_FIELDS, Partitions, lead, table_rows

PREFIX = "Quarterly_Revenue_Forecast_Adjustment_For_The_Regional_Sales_Team_In_"
NORTH, SOUTH = f"{PREFIX}North", f"{PREFIX}South"
LEADS = TableRef("zoho_crm", "leads")


def test_two_long_names_sharing_a_prefix_become_two_columns_and_merge_again(
    warehouse: SqlWarehouse, partitions: Partitions
) -> None:
    assert len(PREFIX) > 63
    partitions.set_fields(
        [
            *LEAD_FIELDS,
            {"api_name": NORTH, "data_type": "integer"},
            {"api_name": SOUTH, "data_type": "integer"},
        ]
    )
    for day, north, south in ((date(2024, 3, 5), 1, 2), (date(2024, 3, 6), 3, 4)):
        record = lead("1", f"{day}T08:00:00Z", "Rao", **{NORTH: north, SOUTH: south})
        warehouse.merge_partition(partitions.lake, partitions.write(day, [record]))

    limit = warehouse.max_identifier_bytes
    north_column, south_column = (sql.column_name(name.lower(), limit) for name in (NORTH, SOUTH))
    assert north_column != south_column
    assert [north_column, south_column] == warehouse.table_columns(LEADS)[
        -3:-1
    ]  # before _record_modified_time
    [row] = table_rows(warehouse)
    assert (row[north_column], row[south_column]) == (3, 4)


def test_one_long_name_keeps_merging_after_the_first_merge(
    warehouse: SqlWarehouse, partitions: Partitions
) -> None:
    partitions.set_fields([*LEAD_FIELDS, {"api_name": NORTH, "data_type": "integer"}])
    for day, north in ((date(2024, 3, 5), 1), (date(2024, 3, 6), 2), (date(2024, 3, 7), 3)):
        record = lead("1", f"{day}T08:00:00Z", "Rao", **{NORTH: north})
        result = warehouse.merge_partition(partitions.lake, partitions.write(day, [record]))
        assert result.added_columns == ()

    [row] = table_rows(warehouse)
    assert row[sql.column_name(NORTH.lower(), warehouse.max_identifier_bytes)] == 3


def test_shortening_keeps_short_names_and_fits_long_ones_deterministically() -> None:
    assert sql.column_name("last_name", 63) == "last_name"
    assert sql.column_name(NORTH.lower(), None) == NORTH.lower()  # DuckDB has no limit
    shortened = sql.column_name(NORTH.lower(), 63)
    assert len(shortened.encode()) == 63
    assert shortened.startswith(NORTH.lower()[:54] + "_")
    assert shortened == sql.column_name(NORTH.lower(), 63)  # the same in every run
    # Multi-byte characters are never cut in half.
    accented = "é" * 40
    assert sql.column_name(accented, 63).encode().decode() == sql.column_name(accented, 63)
    assert len(sql.column_name(accented, 63).encode()) <= 63


def test_redshift_statements_use_127_byte_names() -> None:
    long_name = "x" * 130
    schema = pa.schema(
        [
            ("id", pa.string()),
            ("_modified_time", pa.timestamp("us", "UTC")),
            ("_deleted", pa.bool_()),
            ("_synced_at", pa.timestamp("us", "UTC")),
            ("_partition", pa.date32()),
            (long_name, pa.string()),
        ],
        metadata={"zoho.app": "crm", "zoho.module": "leads"},
    )
    column = sql.column_name(long_name, 127)
    script = merge_script(LEADS, schema, [*schema.names[:5], column], source_uri="s3://b/k", iam_role_arn="r")
    stage = next(statement for statement in script if statement.startswith('CREATE TEMP TABLE "zoho_stage"'))
    assert f'"{column}"' in stage
    assert long_name not in " ".join(script)
