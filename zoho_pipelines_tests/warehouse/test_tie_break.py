"""Two reads of one Zoho version (same Modified_Time) that differ (a lookup's name changed, a
formula was recomputed): the later read wins, in either merge order. Before, the last merge won."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from zoho_pipelines.warehouse import SqlWarehouse
from zoho_pipelines_tests.warehouse.support import Partitions, lead, table_rows

MODIFIED = "2024-03-05T08:00:00Z"
EARLIER, LATER = datetime(2024, 3, 5, 9, tzinfo=UTC), datetime(2024, 3, 5, 21, tzinfo=UTC)


@pytest.mark.parametrize("later_first", [False, True], ids=["earlier read first", "later read first"])
def test_the_later_read_of_the_same_modified_time_wins(
    warehouse: SqlWarehouse, partitions: Partitions, later_first: bool
) -> None:
    schema = partitions.schema.to_arrow()
    reads = [
        partitions.normalizer.records(
            [lead("1", MODIFIED, "Rao", Owner={"id": "42", "name": owner, "email": "o@example.com"})],
            synced_at=synced_at,
        )
        for owner, synced_at in (("Ann Owner", EARLIER), ("Ann Renamed", LATER))
    ]
    for batch in reversed(reads) if later_first else reads:
        warehouse.merge_batches(schema, [batch])

    [row] = table_rows(warehouse)
    assert (row["owner_name"], row["_synced_at"]) == ("Ann Renamed", LATER)


@pytest.mark.parametrize("later_first", [False, True], ids=["earlier read first", "later read first"])
def test_the_later_read_of_the_same_deletion_is_the_one_kept(
    warehouse: SqlWarehouse, partitions: Partitions, later_first: bool
) -> None:
    schema = partitions.schema.to_arrow()
    reads = [
        partitions.normalizer.tombstones([{"id": "1", "deleted_time": MODIFIED}], synced_at=synced_at)
        for synced_at in (EARLIER, LATER)
    ]
    for batch in reversed(reads) if later_first else reads:
        warehouse.merge_batches(schema, [batch])

    [row] = table_rows(warehouse)
    assert (row["_deleted"], row["_synced_at"]) == (True, LATER)


@pytest.mark.parametrize(
    "deletion_read_later", [True, False], ids=["deletion read later", "values read later"]
)
@pytest.mark.parametrize("deletion_first", [False, True], ids=["values first", "deletion first"])
def test_a_deletion_at_the_same_time_as_the_values_deletes_in_either_order(
    warehouse: SqlWarehouse, partitions: Partitions, deletion_first: bool, deletion_read_later: bool
) -> None:
    """Whichever was read later, a deletion at the values' Zoho time deletes the row.

    The values read later win the event columns but not the deletion: with the deletion merged
    second it wins neither event nor values, and must still be applied.
    """
    values_read, deletion_read = (EARLIER, LATER) if deletion_read_later else (LATER, EARLIER)
    schema = partitions.schema.to_arrow()
    values = partitions.normalizer.records([lead("1", MODIFIED, "Rao")], synced_at=values_read)
    deletion = partitions.normalizer.tombstones(
        [{"id": "1", "deleted_time": MODIFIED}], synced_at=deletion_read
    )
    for batch in [deletion, values] if deletion_first else [values, deletion]:
        warehouse.merge_batches(schema, [batch])

    [row] = table_rows(warehouse)
    assert (row["_deleted"], row["last_name"], row["_synced_at"]) == (True, "Rao", LATER)
