"""Data-quality checks of a written lake partition, as plain results Dagster can report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow.compute as pc

from zoho_pipelines.lake import Lake, PartitionRef
from zoho_pipelines.schema import DELETED, ID_COLUMN


@dataclass(frozen=True)
class CheckOutcome:
    name: str
    passed: bool
    description: str
    metadata: dict[str, Any] = field(default_factory=dict)


ID_CHECK = "id_unique_and_present"
COUNT_CHECK = "rows_match_zoho"


def check_partition(lake: Lake, ref: PartitionRef, *, records: int, deletions: int) -> list[CheckOutcome]:
    """Every row has an id, live ids are unique, and the file holds exactly what Zoho returned.

    The counts come from the sync (records and deletion entries Zoho sent for the day); the file
    is read back rather than trusted, so a lost or duplicated batch on the way fails the check.
    """
    table = lake.read_partition(ref, columns=[ID_COLUMN, DELETED])
    ids, deleted = table.column(ID_COLUMN), table.column(DELETED)
    nulls = ids.null_count
    live_ids = pc.filter(ids, pc.invert(deleted))
    duplicates = len(live_ids) - len(pc.unique(live_ids))
    live_rows = len(live_ids)
    tombstones = table.num_rows - live_rows
    return [
        CheckOutcome(
            ID_CHECK,
            passed=nulls == 0 and duplicates == 0,
            description=f"{nulls} rows without id, {duplicates} duplicate live ids",
            metadata={"null_ids": nulls, "duplicate_ids": duplicates},
        ),
        CheckOutcome(
            COUNT_CHECK,
            passed=(live_rows, tombstones) == (records, deletions),
            description=(
                f"partition holds {live_rows} records and {tombstones} tombstones; "
                f"Zoho returned {records} records and {deletions} deletions"
            ),
            metadata={
                "partition_records": live_rows,
                "partition_tombstones": tombstones,
                "zoho_records": records,
                "zoho_deletions": deletions,
            },
        ),
    ]
