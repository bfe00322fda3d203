"""DuckDB stages a local lake's partition with its own Parquet reader: same rows as via Arrow.

The lake's directories (`date=YYYY-MM-DD/`) look like hive partitions; a reader that treated
them so would add, or overwrite, a `date` column. Zoho modules have such fields (Books invoices'
`date`), so a field named `date` must keep its own values.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from zoho_pipelines.lake import LocalLake
from zoho_pipelines.warehouse import open_warehouse
from zoho_pipelines_tests.warehouse.support import LEAD_FIELDS, Partitions, lead, table_rows

FIELDS = [*LEAD_FIELDS, {"api_name": "Date", "data_type": "date"}]
DAY = date(2024, 4, 2)


def test_a_field_named_date_keeps_its_values_and_both_staging_paths_agree(tmp_path: Path) -> None:
    partitions = Partitions(LocalLake(tmp_path / "lake"), FIELDS)
    records = [
        lead("1", "2024-04-02T09:00:00+05:30", "Ames", Date="2023-12-31"),
        lead("2", "2024-04-02T10:00:00+00:00", "Bose", Date=None),
    ]
    ref = partitions.write(DAY, records, deletions=[("3", "2024-04-02T11:00:00+00:00")])
    lake = partitions.lake
    with (
        open_warehouse(f"duckdb://{tmp_path / 'parquet.duckdb'}") as from_parquet,
        open_warehouse(f"duckdb://{tmp_path / 'arrow.duckdb'}") as from_arrow,
    ):
        from_parquet.merge_partition(lake, ref)
        from_arrow.merge_batches(lake.read_schema(ref), lake.iter_batches(ref))
        rows = table_rows(from_parquet)
        assert rows == table_rows(from_arrow)
    assert [(row["id"], row["date"]) for row in rows] == [("1", date(2023, 12, 31)), ("2", None), ("3", None)]
