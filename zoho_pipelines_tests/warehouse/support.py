"""Lead records, lake partitions and table snapshots shared by the warehouse tests."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from zoho_pipelines.catalog import default_catalog
from zoho_pipelines.lake import Lake, PartitionRef
from zoho_pipelines.schema import RecordNormalizer, build_module_schema
from zoho_pipelines.warehouse import SqlWarehouse, TableRef

LEAD_FIELDS: list[dict[str, Any]] = [
    {"api_name": "Last_Name", "data_type": "text"},
    {"api_name": "Owner", "data_type": "ownerlookup"},
    {"api_name": "Annual_Revenue", "data_type": "currency", "decimal_place": 2},
    {"api_name": "Tag_List", "data_type": "multiselectpicklist"},
    {"api_name": "Birthday", "data_type": "date"},
    {"api_name": "Is_Hot", "data_type": "boolean"},
    {"api_name": "Employees", "data_type": "integer"},
    {"api_name": "Details", "data_type": "subform"},
    {"api_name": "Modified_Time", "data_type": "datetime"},
]
# Redshift keeps lists in SUPER, which PostgreSQL lacks: its statements run on PostgreSQL without them.
SCALAR_FIELDS = [field for field in LEAD_FIELDS if field["data_type"] != "multiselectpicklist"]
SYNCED_AT = datetime(2024, 4, 1, tzinfo=UTC)


def lead(record_id: str, modified: str, name: str, **extra: Any) -> dict[str, Any]:
    """A Zoho CRM lead record as the API returns it."""
    return {
        "id": record_id,
        "Last_Name": name,
        "Owner": {"id": "42", "name": "Ann Owner", "email": "ann@example.com"},
        "Annual_Revenue": 1250.5,
        "Tag_List": ["hot", 'quote"d'],
        "Birthday": "1990-05-17",
        "Is_Hot": True,
        "Employees": 12,
        "Details": [{"Line": 1, "Note": "first"}],
        "Modified_Time": modified,
        **extra,
    }


class Partitions:
    """Writes lake partitions of crm/leads from Zoho-shaped records, via the real normaliser."""

    def __init__(self, lake: Lake, fields: list[dict[str, Any]] | None = None) -> None:
        self.lake = lake
        self.set_fields(fields or LEAD_FIELDS)

    def set_fields(self, fields: list[dict[str, Any]]) -> None:
        self.schema = build_module_schema(default_catalog().get("crm", "leads"), fields)
        self.normalizer = RecordNormalizer(self.schema)

    def write(
        self,
        day: date,
        records: list[dict[str, Any]] = (),  # type: ignore[assignment]
        deletions: list[tuple[str, str]] = (),  # type: ignore[assignment]
        *,
        synced_at: datetime = SYNCED_AT,
    ) -> PartitionRef:
        ref = PartitionRef("crm", "leads", day)
        batches = [self.normalizer.records(list(records), synced_at=synced_at)]
        entries = [{"id": record_id, "deleted_time": moment} for record_id, moment in deletions]
        batches.append(self.normalizer.tombstones(entries, synced_at=synced_at))
        self.lake.write_partition(ref, self.schema.to_arrow(), batches)
        return ref


def table_rows(warehouse: SqlWarehouse, table: str = "zoho_crm.leads") -> list[dict[str, Any]]:
    """The table as dicts ordered by id, timestamps in UTC, so backends compare equal."""
    schema, name = table.split(".")
    columns = warehouse.table_columns(TableRef(schema, name))
    rows = warehouse.query(f'SELECT * FROM "{schema}"."{name}" ORDER BY "id"')  # noqa: S608
    return [
        {
            column: value.astimezone(UTC) if isinstance(value, datetime) else value
            for column, value in zip(columns, row, strict=True)
        }
        for row in rows
    ]
