"""The batch sync, free of Dagster: one module's UTC day from Zoho into the lake, then the warehouse."""

from zoho_pipelines.pipeline.load import load_partition
from zoho_pipelines.pipeline.source import ModuleSource, UnsupportedStrategyError
from zoho_pipelines.pipeline.sync import PartitionSync, day_window, sync_partition

__all__ = [
    "ModuleSource",
    "PartitionSync",
    "UnsupportedStrategyError",
    "day_window",
    "load_partition",
    "sync_partition",
]
