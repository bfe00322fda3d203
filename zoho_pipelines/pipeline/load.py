"""One lake partition into its warehouse table, merged by id in one transaction."""

from __future__ import annotations

from datetime import date

from zoho_pipelines.catalog import ModuleSpec
from zoho_pipelines.lake import Lake, PartitionRef
from zoho_pipelines.warehouse import MergeResult, Warehouse


def load_partition(warehouse: Warehouse, lake: Lake, spec: ModuleSpec, day: date) -> MergeResult:
    """Merge the partition of `spec` for `day` into `zoho_<app>.<module>`.

    The merge keeps the newest version of each row by `_modified_time`, so loading partitions
    again, or in any order, converges on the same table.
    """
    return warehouse.merge_partition(lake, PartitionRef(spec.app, spec.module, day))
