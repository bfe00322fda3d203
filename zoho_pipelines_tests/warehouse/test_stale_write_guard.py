"""The statement that writes re-checks versions itself: a merge whose read of the table went stale
(another merge committed in between) still cannot put an older version back.

The table lock normally rules this interleaving out, so these tests drive a merge's own steps by
hand (stage, resolve, then apply) and commit a newer merge between the resolve and the apply.
Half of the ids exist before, so both the update and the insert side meet a newer row.
"""

from __future__ import annotations

from zoho_pipelines.lake import PartitionRef
from zoho_pipelines.warehouse import SqlWarehouse, open_warehouse, sql
from zoho_pipelines.warehouse.base import ArrowLoadingWarehouse
from zoho_pipelines_tests.warehouse.overlap_support import (
    IDS,
    LEADS,
    only_version,
    versions_held,
    write_version,
)
from zoho_pipelines_tests.warehouse.support import Partitions

KNOWN, UNKNOWN = IDS[:100], IDS[100:200]


def _stage_and_resolve(
    warehouse: ArrowLoadingWarehouse, partitions: Partitions, ref: PartitionRef
) -> sql.MergeSteps:
    """A merge's first half: stage the partition and resolve it against the table as it is now."""
    schema = partitions.lake.read_schema(ref)
    warehouse._execute(sql.drop_table(sql.STAGE))
    warehouse._load_stage(schema, partitions.lake.iter_batches(ref))
    steps = sql.merge_steps(
        LEADS,
        warehouse.column_names(schema.names),
        warehouse.table_columns(LEADS),
        strategy=warehouse.apply_strategy,
    )
    for statement in steps.resolve:
        warehouse._execute(statement)
    return steps


def test_a_postgresql_upsert_from_a_stale_read_keeps_the_newer_rows(
    postgres_url: str, partitions: Partitions
) -> None:
    base = write_version(partitions, 1, KNOWN)
    older, newer = (
        write_version(partitions, 2, [*KNOWN, *UNKNOWN]),
        write_version(partitions, 3, [*KNOWN, *UNKNOWN]),
    )
    with open_warehouse(postgres_url) as fresh, open_warehouse(postgres_url) as stale:
        assert isinstance(stale, ArrowLoadingWarehouse)
        fresh.merge_partition(partitions.lake, base)
        with stale._transaction("a stale merge"):
            steps = _stage_and_resolve(stale, partitions, older)  # version 2 looks newer than 1
            fresh.merge_partition(partitions.lake, newer)  # version 3 commits meanwhile
            for statement in steps.apply:
                stale._execute(statement)

        assert versions_held(fresh) == only_version(3, 200)


def test_a_duckdb_update_from_a_stale_read_keeps_the_newer_rows(partitions: Partitions) -> None:
    base = write_version(partitions, 1, KNOWN)
    older, newer = write_version(partitions, 2, KNOWN), write_version(partitions, 3, KNOWN)
    warehouse: SqlWarehouse
    with open_warehouse("duckdb:///:memory:") as warehouse:
        assert isinstance(warehouse, ArrowLoadingWarehouse)
        warehouse.merge_partition(partitions.lake, base)
        _stage_and_resolve(warehouse, partitions, older)
        warehouse._execute(f"ALTER TABLE {sql.quote(sql.RESOLVED)} RENAME TO stale_resolved")
        warehouse.merge_partition(partitions.lake, newer)  # version 3 lands meanwhile
        for statement in sql.update_then_insert(
            LEADS, warehouse.table_columns(LEADS), resolved="stale_resolved"
        ):
            warehouse._execute(statement)

        assert versions_held(warehouse) == only_version(3, 100)
