"""Data-quality checks of a written lake partition, as plain results Dagster can report."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson
import pyarrow.compute as pc

from zoho_pipelines.lake import Lake, PartitionRef
from zoho_pipelines.schema import DELETED, ID_COLUMN, UNFITTED_COLUMN


class Severity(StrEnum):
    """How loudly a failed check speaks: ERROR for wrong data, WARN for data kept but not typed."""

    ERROR = "error"
    WARN = "warn"


@dataclass(frozen=True)
class CheckOutcome:
    name: str
    passed: bool
    description: str
    metadata: dict[str, Any] = field(default_factory=dict)
    severity: Severity = Severity.ERROR


ID_CHECK = "id_unique_and_present"
COUNT_CHECK = "rows_match_zoho"
UNFITTED_CHECK = "values_fit_their_columns"
_SAMPLE_IDS = 5


def check_partition(lake: Lake, ref: PartitionRef, *, records: int, deletions: int) -> list[CheckOutcome]:
    """Every row has an id, live ids are unique, the file holds exactly what Zoho returned, and
    (a warning only) every value found its typed column.

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
        check_unfitted(lake, ref),
    ]


def check_unfitted(lake: Lake, ref: PartitionRef) -> CheckOutcome:
    """Values that fit no typed column, per field, read back from the partition's `_unfitted`.

    A WARN, not an error: such a value is in the lake and the warehouse as Zoho sent it, so the
    data is complete; the user should still hear that a column is null where Zoho had something
    (a formula returning text into a number, an integration writing 3.7 into an integer field).
    Only field names and record ids are reported: the values may be personal data.
    """
    per_field: Counter[str] = Counter()
    samples: dict[str, list[str]] = {}
    if UNFITTED_COLUMN in lake.read_schema(ref).names:  # absent in partitions from before it existed
        table = lake.read_partition(ref, columns=[ID_COLUMN, UNFITTED_COLUMN])
        kept = table.filter(pc.is_valid(table.column(UNFITTED_COLUMN)))
        for record_id, text in zip(
            kept.column(ID_COLUMN).to_pylist(), kept.column(UNFITTED_COLUMN).to_pylist(), strict=True
        ):
            for name in orjson.loads(text):
                per_field[name] += 1
                sample = samples.setdefault(name, [])
                if len(sample) < _SAMPLE_IDS:
                    sample.append(record_id)
    total = sum(per_field.values())
    described = ", ".join(f"{name}: {count}" for name, count in sorted(per_field.items()))
    return CheckOutcome(
        UNFITTED_CHECK,
        passed=total == 0,
        description=(
            "every value fits its column"
            if total == 0
            else f"{total} values kept as sent in _unfitted (typed column null): {described}"
        ),
        metadata={
            "unfitted_values": total,
            "unfitted_by_field": dict(sorted(per_field.items())),
            "sample_record_ids": dict(sorted(samples.items())),
        },
        severity=Severity.WARN,
    )
